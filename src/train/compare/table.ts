// What one finished comparison run reports, and the comparison table built from them: one row per method
// over its seeded runs (the sweep's runs only choose the rate). The row's keys are the CLI's JSON names
// (`cli compare`'s last line) and the report's columns; the page builds the same rows from its runs.
import { type Spread, spread } from './stats';

/** A point of a run's curve: training loss where logged, eval loss where evaluated. */
export interface CurvePoint {
  step: number;
  loss: number | null;
  evalLoss: number | null;
}

export interface CompareRun {
  method: string;
  /** 'sweep': a grid point choosing the rate; 'seed': a run at the chosen rate that the table averages. */
  phase: 'sweep' | 'seed';
  lr: number;
  seed: number;
  steps: number;
  /** Tokens trained on (padding excluded): equal budgets are equal steps × batch × sequence length. */
  tokens: number;
  evalLoss: number | null;
  /** Share (0..1) of eval prompts whose greedy completion is the reference (sft-eval.ts); null: no completions. */
  exactMatch: number | null;
  trainableParams: number;
  peakBytes: number;
  tokensPerS: number;
  /** Forward latency, batch 1 × seq len, of the model as deployed: merged where the method merges. */
  latencyMs: number | null;
  /** Why the run has no result (it diverged or failed), when so. */
  error?: string;
  curve: CurvePoint[];
}

export interface TableRow {
  method: string;
  lr: number;
  seeds: number;
  eval_loss_mean: number | null;
  eval_loss_sd: number | null;
  exact_match_mean: number | null;
  exact_match_sd: number | null;
  trainable_params: number;
  peak_bytes: number;
  tokens_per_s: number | null;
  latency_ms: number | null;
}

/** The table: one row per method (in first-seen order) over its seeded runs. */
export function compareTable(runs: readonly CompareRun[]): TableRow[] {
  const by = new Map<string, CompareRun[]>();
  for (const r of runs) {
    if (r.phase !== 'seed') continue;
    const list = by.get(r.method);
    if (list) list.push(r);
    else by.set(r.method, [r]);
  }
  return [...by.entries()].map(([method, rs]) => {
    const e: Spread = spread(rs.map((r) => r.evalLoss));
    const x = spread(rs.map((r) => r.exactMatch));
    return {
      method,
      lr: rs[0].lr,
      seeds: rs.length,
      eval_loss_mean: e.mean,
      eval_loss_sd: e.sd,
      exact_match_mean: x.mean,
      exact_match_sd: x.sd,
      trainable_params: rs[0].trainableParams,
      peak_bytes: Math.max(...rs.map((r) => r.peakBytes)),
      tokens_per_s: spread(rs.map((r) => r.tokensPerS)).mean,
      latency_ms: spread(rs.map((r) => r.latencyMs)).mean,
    };
  });
}

/**
 * Whether two methods' eval losses separate beyond their seed spread: their mean ± sd intervals do not
 * overlap. A plain reading aid for the report, not a significance test (a handful of seeds).
 */
export function separated(a: TableRow, b: TableRow): boolean {
  if (a.eval_loss_mean === null || b.eval_loss_mean === null) return false;
  const [lo, hi] = a.eval_loss_mean <= b.eval_loss_mean ? [a, b] : [b, a];
  return (
    (lo.eval_loss_mean ?? 0) + (lo.eval_loss_sd ?? 0) < (hi.eval_loss_mean ?? 0) - (hi.eval_loss_sd ?? 0)
  );
}
