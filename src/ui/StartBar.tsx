// The top of the setup column, always in view (sticky): what will start (the algorithm, the ticked
// methods, the dataset, steps × batch × seq len) and the Start button, with start's refusal and the
// schedule notice (interleaved or one after another) under it, and the fair comparison's toggle and
// settings (FairPanel), which make Start begin a fair comparison. First in the keyboard order.
import { memo, useState } from 'react';
import { startRuns } from '../app/engine';
import { useAppStore } from '../store';
import { ALGORITHMS } from '../worker/rl-spec';
import { startFair } from './FairDriver';
import { FairPanel } from './FairPanel';

export const StartBar = memo(function StartBar() {
  const [problem, setProblem] = useState<string | null>(null);
  const schedule = useAppStore((s) => s.schedule);
  const fair = useAppStore((s) => s.fair);
  const summary = useAppStore((s) => {
    const methods = Object.entries(s.methods)
      .filter(([, c]) => c.enabled)
      .map(([n]) => n);
    const ds = s.datasets.find((d) => d.id === s.selectedDatasetId)?.name ?? 'no dataset';
    const h = s.hyper;
    const algo = ALGORITHMS.find((a) => a.value === s.algorithm)?.label ?? s.algorithm;
    const f = s.fair;
    const runs = f.enabled
      ? ` · fair: ${f.sweep ? `LR sweep 10^{${f.grid}}, then ` : ''}${f.seeds} seeds each`
      : '';
    return `${algo} · ${methods.length ? methods.join(', ') : 'no method'} · ${ds} · ${h.steps} steps × batch ${h.batch} × ${h.seqLen} tokens${runs}`;
  });
  return (
    <div className="start-bar" data-testid="start-bar">
      <button
        type="button"
        className="primary"
        data-testid="start-runs"
        onClick={() => {
          setProblem(null);
          (fair.enabled ? startFair() : startRuns()).then(setProblem, (e: unknown) =>
            setProblem(e instanceof Error ? e.message : String(e)),
          );
        }}
      >
        {fair.enabled ? 'Start fair comparison' : 'Start runs'}
      </button>
      <FairPanel />
      <span className="start-summary">{summary}</span>
      {problem && (
        <p role="alert" className="error">
          {problem}
        </p>
      )}
      {schedule && (
        <p className="note" data-testid="schedule" data-mode={schedule.mode}>
          {schedule.message}
        </p>
      )}
    </div>
  );
});
