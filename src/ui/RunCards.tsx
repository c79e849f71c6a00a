// One card per run: state, progress, time left, its message (why it stopped), pause/resume/stop, resume
// after a reload (from the last checkpoint), and the trained run's tools: measure inference latency,
// export the adapter (PEFT files), the merged model (HF layout) and an ONNX deploy preview where mergeable;
// any run's TRL + PEFT + Accelerate recipe (recipe.zip) to train it on a cluster. Below the cards: import an adapter to evaluate it or continue training it.
import { memo, useState } from 'react';
import {
  clearRuns,
  exportAdapter,
  exportMerged,
  exportOnnx,
  exportRecipe,
  importAdapter,
  measureRun,
  pauseRun,
  resumeInterrupted,
  resumeRun,
  stopRun,
} from '../app/engine';
import { formatBytes } from '../gpu/errors';
import { useAppStore } from '../store';

const RunCard = memo(function RunCard({ id }: { id: string }) {
  const run = useAppStore((s) => s.runs.find((r) => r.spec.id === id));
  // Only the last step is needed here: a narrow selector, so the card re-renders on that alone.
  const step = useAppStore((s) => {
    const pts = s.metrics[id];
    return pts?.length ? pts[pts.length - 1].step : 0;
  });
  if (!run) return null;
  const total = run.spec.config.steps;
  const live = run.state === 'running' || run.state === 'paused';
  const trained = (run.state === 'done' || run.state === 'paused') && run.info;
  const ck = run.results?.checkpointStep;
  return (
    <li
      className="run-card"
      data-testid="run-card"
      data-run={run.spec.id}
      data-state={run.state}
      data-method={run.method}
      data-checkpoint={ck ?? ''}
    >
      <strong>{run.spec.label}</strong> <span className={`state ${run.state}`}>{run.state}</span>
      <progress max={Math.max(1, total)} value={run.state === 'done' ? total : step} /> {step}/{total}
      {run.etaS !== null && live && <span> · {Math.ceil(run.etaS)} s left</span>}
      <div className="figures">
        {run.predicted && <>predicted {formatBytes(run.predicted.peakTotal)}</>}
        {run.memory && <> · now {formatBytes(Object.values(run.memory).reduce((a, b) => a + b, 0))}</>}
        {ck !== undefined && <> · checkpoint at step {ck}</>}
      </div>
      {run.message && <p className={run.state === 'error' ? 'error' : 'note'}>{run.message}</p>}
      {run.state === 'running' && (
        <button type="button" onClick={() => pauseRun(id)}>
          Pause
        </button>
      )}
      {run.state === 'paused' && (
        <button type="button" onClick={() => resumeRun(id)}>
          Resume
        </button>
      )}
      {run.state === 'interrupted' && (
        <button type="button" data-testid="resume-interrupted" onClick={() => resumeInterrupted(id)}>
          Resume from checkpoint
        </button>
      )}
      {(live || run.state === 'queued' || run.state === 'loading') && (
        <button type="button" onClick={() => stopRun(id)}>
          Stop
        </button>
      )}
      {trained && (
        <span className="tools">
          <button type="button" data-testid="measure-latency" onClick={() => measureRun(id)}>
            Measure latency
          </button>
          <button type="button" data-testid="export-adapter" onClick={() => exportAdapter(id)}>
            Export adapter
          </button>
          {run.info?.mergeable && (
            <>
              <button type="button" data-testid="export-merged" onClick={() => exportMerged(id)}>
                Export merged model
              </button>
              <button type="button" data-testid="export-onnx" onClick={() => exportOnnx(id)}>
                ONNX preview
              </button>
            </>
          )}
        </span>
      )}
      <button
        type="button"
        data-testid="export-recipe"
        title="train.py (TRL), the method's PEFT config, the data split and Accelerate configs for a GPU cluster"
        onClick={() => exportRecipe(id)}
      >
        Export recipe
      </button>
    </li>
  );
});

function ImportAdapter() {
  const [steps, setSteps] = useState(0);
  const [problem, setProblem] = useState<string | null>(null);
  return (
    <div className="import" data-testid="import-adapter">
      <label className="drop">
        Import an adapter (adapter_config.json and adapter_model.safetensors together), then{' '}
        <input
          type="file"
          multiple
          accept=".json,.safetensors"
          onChange={(e) => {
            const files = e.target.files ? Array.from(e.target.files) : [];
            e.target.value = '';
            if (files.length) void importAdapter(files, steps).then(setProblem);
          }}
        />
      </label>{' '}
      <label>
        train it for{' '}
        <input
          name="importSteps"
          type="number"
          min={0}
          value={steps}
          onChange={(e) => setSteps(Math.max(0, Math.floor(Number(e.target.value))))}
        />{' '}
        more steps (0: evaluate only) on the selected dataset
      </label>
      {problem && (
        <span role="alert" className="error">
          {' '}
          {problem}
        </span>
      )}
    </div>
  );
}

export function RunCards() {
  // Ids only (joined to a string so the selector's value is stable): the list re-renders when runs come and go.
  const ids = useAppStore((s) => s.runs.map((r) => r.spec.id).join(' '));
  const list = ids ? ids.split(' ') : [];
  return (
    <section className="panel wide">
      <h2>Runs</h2>
      {list.length === 0 ? <p>No runs yet: choose methods and press start.</p> : null}
      <ul className="runs">
        {list.map((id) => (
          <RunCard key={id} id={id} />
        ))}
      </ul>
      <ImportAdapter />
      {list.length > 0 && (
        <button type="button" onClick={() => void clearRuns()}>
          Clear all runs
        </button>
      )}
    </section>
  );
}
