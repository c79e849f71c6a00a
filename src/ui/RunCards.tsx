// One card per run: state, progress, time left, its message (why it stopped), pause/resume/stop.
import { memo } from 'react';
import { clearRuns, pauseRun, resumeRun, stopRun } from '../app/engine';
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
  return (
    <li className="run-card" data-testid="run-card" data-state={run.state} data-method={run.method}>
      <strong>{run.spec.label}</strong> <span className={`state ${run.state}`}>{run.state}</span>
      <progress max={total} value={run.state === 'done' ? total : step} /> {step}/{total}
      {run.etaS !== null && live && <span> · {Math.ceil(run.etaS)} s left</span>}
      <div className="figures">
        predicted {formatBytes(run.predicted.total)}
        {run.memory && <> · now {formatBytes(Object.values(run.memory).reduce((a, b) => a + b, 0))}</>}
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
      {(live || run.state === 'queued' || run.state === 'loading') && (
        <button type="button" onClick={() => stopRun(id)}>
          Stop
        </button>
      )}
    </li>
  );
});

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
      {list.length > 0 && (
        <button type="button" onClick={() => void clearRuns()}>
          Clear all runs
        </button>
      )}
    </section>
  );
}
