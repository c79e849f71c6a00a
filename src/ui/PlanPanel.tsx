// The plan before a download: from a model's config.json alone, the device memory the form's runs will need
// (the shared frozen base once, each run's own state, the largest step), with the base's dtype and activation
// checkpointing to choose, and — when the total is over the page's memory budget — what would fit: micro-
// batches, checkpointing, a 16- or 4-bit base, each with its predicted peak. The numbers are store/plan.ts's,
// the same the CLI's `plan` prints. The plan runs on the metering backend off the first paint.
import { useEffect, useMemo, useState } from 'react';
import { MEMORY_CATEGORIES } from '../gpu/arena';
import { formatBytes } from '../gpu/errors';
import { perBufferLimit } from '../gpu/summary';
import { useAppStore } from '../store';
import { formRuns, type PagePlanResult, type PlanLine, pagePlanInSteps, usePlanPanel } from '../store/plan';
import { BASE_DTYPES, type BaseDtype } from '../tensor/weight-format';
import './plan.css';

const DTYPE_LABELS: Record<BaseDtype, string> = {
  f32: 'f32',
  f16: 'f16 (16-bit)',
  bf16: 'bf16 (16-bit)',
  int8: 'int8',
  nf4: 'NF4 (4-bit)',
};

export function PlanPanel({ configJson, modelName }: { configJson: unknown | null; modelName: string }) {
  const methods = useAppStore((s) => s.methods);
  const budget = useAppStore((s) => s.budgetBytes);
  // The adapter's per-buffer limit once the page has a device (the plan then refuses what cannot be held).
  const maxBuffer = useAppStore((s) =>
    s.gpu.state === 'ready' ? perBufferLimit(s.gpu.info.limits) : undefined,
  );
  const { choice, setChoice } = usePlanPanel();
  const runs = useMemo(() => formRuns(methods), [methods]);
  const [result, setResult] = useState<PagePlanResult | null>(null);
  useEffect(() => {
    if (configJson === null) return;
    setResult(null);
    // A large model's plan takes a moment, its suggestions several: wait for the typing to settle, let the
    // panel paint, and hand the thread back between meter steps (a newer choice cancels the older one).
    let cancel = () => {};
    const t = setTimeout(() => {
      cancel = pagePlanInSteps(configJson, runs, choice, budget, setResult, undefined, maxBuffer);
    }, 250);
    return () => {
      clearTimeout(t);
      cancel();
    };
  }, [configJson, runs, choice, budget, maxBuffer]);
  if (configJson === null) return null;
  const num = (v: string, fallback: number) => {
    const n = Math.floor(Number(v));
    return Number.isFinite(n) && n >= 1 ? n : fallback;
  };
  return (
    <div className="plan-panel" data-testid="plan-panel">
      <h3>Memory plan for {modelName}</h3>
      <div className="plan-choice">
        <label>
          batch{' '}
          <input
            name="plan-batch"
            type="number"
            min={1}
            value={choice.batch}
            onChange={(e) => setChoice({ batch: num(e.target.value, choice.batch) })}
          />
        </label>{' '}
        <label>
          seq{' '}
          <input
            name="plan-seq"
            type="number"
            min={1}
            value={choice.seqLen}
            onChange={(e) => setChoice({ seqLen: num(e.target.value, choice.seqLen) })}
          />
        </label>{' '}
        <label>
          base{' '}
          <select
            name="plan-base-dtype"
            value={choice.baseDtype}
            onChange={(e) => setChoice({ baseDtype: e.target.value as BaseDtype })}
          >
            {BASE_DTYPES.map((d) => (
              <option key={d} value={d}>
                {DTYPE_LABELS[d]}
              </option>
            ))}
          </select>
        </label>{' '}
        <label>
          <input
            name="plan-checkpointing"
            type="checkbox"
            checked={choice.checkpointing}
            onChange={(e) => setChoice({ checkpointing: e.target.checked })}
          />{' '}
          activation checkpointing
        </label>
      </div>
      {result === null && <p>computing…</p>}
      {result && 'error' in result && (
        <p className="error" data-testid="plan-error">
          {result.error}
        </p>
      )}
      {result && 'line' in result && (
        <PlanFigures line={result.line} budget={budget} pending={result.pending === true} />
      )}
    </div>
  );
}

function PlanFigures({ line, budget, pending }: { line: PlanLine; budget: number; pending: boolean }) {
  const over = line.predicted_peak_bytes > budget;
  const cats = MEMORY_CATEGORIES.filter((c) => line.by_category[c] > 0)
    .map((c) => `${c} ${formatBytes(line.by_category[c])}`)
    .join(' · ');
  return (
    <>
      <p
        data-testid="plan-peak"
        data-bytes={line.predicted_peak_bytes}
        data-shared={line.shared_frozen_bytes}
        className={over ? 'error' : undefined}
      >
        {formatBytes(line.predicted_peak_bytes)} predicted peak ({over ? 'over' : 'within'} the{' '}
        {formatBytes(budget)} budget); frozen base {formatBytes(line.shared_frozen_bytes)}, held once
      </p>
      <div className="plan-categories">{cats}</div>
      <ul className="plan-runs">
        {line.runs.map((r) => (
          <li key={r.method} data-run={r.method} data-bytes={r.predicted_peak_bytes}>
            <code>{r.method}</code> alone {formatBytes(r.predicted_peak_bytes)}: its own state{' '}
            {formatBytes(r.persistent_bytes)}, its step {formatBytes(r.step_bytes)}
          </li>
        ))}
      </ul>
      {over && pending && <p>Looking for what would fit…</p>}
      {over && !pending && (
        <div data-testid="plan-suggestions">
          {line.suggestions && line.suggestions.length > 0 ? (
            <>
              <p>What would fit:</p>
              <ul>
                {line.suggestions.map((s) => (
                  <li key={s.change} data-bytes={s.predicted_peak_bytes}>
                    {s.change}: {formatBytes(s.predicted_peak_bytes)}
                  </li>
                ))}
              </ul>
            </>
          ) : (
            <p>Nothing tried fits this budget (micro-batches, checkpointing, a 16- or 4-bit base).</p>
          )}
        </div>
      )}
    </>
  );
}
