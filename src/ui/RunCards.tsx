// One card per run: state, progress, time left, its message (why it stopped), pause/resume/stop, resume
// from the last checkpoint after a reload or a lost GPU device, and the trained run's tools: measure inference latency,
// export the adapter (a zip: PEFT's folder and a model card), the merged model (a zip: HF layout with the
// tokenizer) and an ONNX deploy preview where mergeable, every file named after the run as the charts name it;
// any run's TRL + PEFT + Accelerate recipe (recipe.zip) to train it on a cluster; Delete for a run that is
// over. Below the cards: import an adapter to evaluate it or continue training it. An RL run's card says
// plainly that it keeps no checkpoint, so it cannot be exported after a reload.
// Each card is marked with its run's colour (the colour of its lines in the charts and its row in the
// table); before the first step's point arrives it says the pipelines are compiling (seconds on a software
// GPU), and the time left comes from steady-state steps only (the worker's etaS), so it is absent until then.
import { type CSSProperties, memo, useEffect, useState } from 'react';
import {
  clearRuns,
  deleteRun,
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
import { canResumeFromCheckpoint, DELETABLE } from '../store/runs';
import { COLORS } from './Charts';
import { chartNames } from './run-names';
import { SaveRefusedDownload } from './SaveRefusedDownload';

/** "45 s", "3 min 20 s", "1 h 5 min": time left as a person reads it. */
export function formatDuration(s: number): string {
  const t = Math.max(0, Math.ceil(s));
  if (t < 60) return `${t} s`;
  if (t < 3600) return `${Math.floor(t / 60)} min${t % 60 ? ` ${t % 60} s` : ''}`;
  return `${Math.floor(t / 3600)} h${Math.floor((t % 3600) / 60) ? ` ${Math.floor((t % 3600) / 60)} min` : ''}`;
}

const RunCard = memo(function RunCard({ id, index }: { id: string; index: number }) {
  const run = useAppStore((s) => s.runs.find((r) => r.spec.id === id));
  // The name the charts use ("lora (2)"): exported files carry it, so two runs of one method differ.
  const name = useAppStore((s) => chartNames(s.runs)[s.runs.findIndex((r) => r.spec.id === id)] ?? id);
  // Only the last step is needed here: a narrow selector, so the card re-renders on that alone.
  const step = useAppStore((s) => {
    const pts = s.metrics[id];
    return pts?.length ? pts[pts.length - 1].step : 0;
  });
  // "Measure latency" runs three timed forward passes in the worker: shown from the click to the result.
  const [measuring, setMeasuring] = useState(false);
  const latency = run?.results?.latency;
  const message = run?.message;
  // biome-ignore lint/correctness/useExhaustiveDependencies: a new result or message ends the measurement
  useEffect(() => setMeasuring(false), [latency, message]);
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
      style={{ '--run-color': COLORS[index % COLORS.length] } as CSSProperties}
    >
      <div className="head">
        <span className="swatch-run" aria-hidden="true" />
        <strong>{run.spec.label}</strong> <span className={`state ${run.state}`}>{run.state}</span>
        <progress max={Math.max(1, total)} value={run.state === 'done' ? total : step} />{' '}
        <span>
          {step}/{total} steps
        </span>
        {run.state === 'running' && step === 0 && (
          <span className="phase" data-testid="run-phase" data-phase="compiling">
            compiling shaders (first step)…
          </span>
        )}
        {run.state === 'running' && step > 0 && run.etaS === null && (
          <span className="phase" data-testid="run-phase" data-phase="estimating">
            estimating time left…
          </span>
        )}
        {run.etaS !== null && live && step > 0 && (
          <span className="phase" data-testid="run-eta">
            about {formatDuration(run.etaS)} left
          </span>
        )}
      </div>
      <div className="figures">
        {/* The frozen base is shared by every run and drawn once on the memory chart: a card shows its own. */}
        {run.predicted && (
          <span title="this run's own memory; the frozen base all runs share is drawn once on the memory chart">
            predicted {formatBytes(run.predicted.peakTotal - run.predicted.peak.frozen)}
          </span>
        )}
        {run.memory && <> · now {formatBytes(Object.values(run.memory).reduce((a, b) => a + b, 0))}</>}
        {ck !== undefined && <> · checkpoint at step {ck}</>}
      </div>
      {run.message && <p className={run.state === 'error' ? 'error' : 'note'}>{run.message}</p>}
      <SaveRefusedDownload run={run} name={name} />
      {run.spec.rl && (
        <p className="note" data-testid="rl-no-export">
          RL runs keep no checkpoint: export this run or generate with it before the page is reloaded or
          closed. After a reload it cannot be exported or generate, and Resume starts it again from step 0.
        </p>
      )}
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
      {canResumeFromCheckpoint(run) && (
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
          <button
            type="button"
            data-testid="measure-latency"
            disabled={measuring}
            title="Forward latency (batch 1 × seq len) of the base model, this run unmerged and merged"
            onClick={() => {
              setMeasuring(true);
              measureRun(id);
            }}
          >
            Measure latency
          </button>
          {measuring && (
            <span className="phase" data-testid="measuring">
              <progress /> timing base, unmerged and merged forward passes…
            </span>
          )}
          <button type="button" data-testid="export-adapter" onClick={() => exportAdapter(id, name)}>
            Export adapter
          </button>
          {run.info?.mergeable && (
            <>
              <button type="button" data-testid="export-merged" onClick={() => exportMerged(id, name)}>
                Export merged model
              </button>
              <button type="button" data-testid="export-onnx" onClick={() => exportOnnx(id, name)}>
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
        onClick={() => exportRecipe(id, name)}
      >
        Export recipe
      </button>
      {DELETABLE.has(run.state) && (
        <button
          type="button"
          data-testid="delete-run"
          title="Remove this run, its curves and its checkpoint from the page and the browser's storage"
          onClick={() => void deleteRun(id)}
        >
          Delete
        </button>
      )}
    </li>
  );
});

/** Import an adapter (a setup step: it lives in the setup column, under the methods). */
export function ImportAdapter() {
  const [steps, setSteps] = useState(0);
  const [problem, setProblem] = useState<string | null>(null);
  return (
    <section className="panel import" data-testid="import-adapter">
      <h2>Import an adapter</h2>
      <label className="drop">
        adapter_config.json + adapter_model.safetensors{' '}
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
        Train it for{' '}
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
    </section>
  );
}

export function RunCards() {
  // Ids only (joined to a string so the selector's value is stable): the list re-renders when runs come and go.
  const ids = useAppStore((s) => s.runs.map((r) => r.spec.id).join(' '));
  const list = ids ? ids.split(' ') : [];
  return (
    <section className="panel" data-testid="runs">
      <h2>
        Runs{' '}
        {list.length > 0 && (
          <button type="button" className="small" onClick={() => void clearRuns()}>
            Clear all runs
          </button>
        )}
      </h2>
      {list.length === 0 ? (
        <p className="note">No runs yet: choose methods on the left and press Start runs.</p>
      ) : null}
      <ul className="runs">
        {list.map((id, i) => (
          <RunCard key={id} id={id} index={i} />
        ))}
      </ul>
    </section>
  );
}
