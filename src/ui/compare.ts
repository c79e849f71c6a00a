// The comparison table's rows from runs and their metrics (pure, so it is tested without a DOM), with
// sorting and the CSV and Markdown exports. Communication volume (all-reduce bytes per step) sits beside
// the trainable parameters it is derived from.
import { allreduceBytesOf } from '../peft/allreduce';
import type { RunRecord } from '../store/runs';
import type { MetricPoint } from '../train/sft-config';

export interface CompareRow {
  id: string;
  run: string;
  method: string;
  state: string;
  trainableParams: number | null;
  trainablePct: number | null;
  /** Bytes one data-parallel step would all-reduce: the trainable gradients in compact form (peft/allreduce.ts). */
  allreduceBytes: number | null;
  peakBytes: number | null;
  /** Peak memory as a multiple of the model's f32 weights. */
  peakXWeights: number | null;
  tokensPerS: number | null;
  msPerStep: number | null;
  evalLoss: number | null;
  trainLoss: number | null;
  /** Exact-match accuracy (%) of greedy completions on the eval split, where the data has completions. */
  exactMatch: number | null;
  /** Forward latency (ms, batch 1 × seq len) of the base model, the unmerged and the merged run. */
  latencyBase: number | null;
  latencyUnmerged: number | null;
  latencyMerged: number | null;
}

export const COLUMNS: { key: keyof CompareRow; label: string }[] = [
  { key: 'run', label: 'run' },
  { key: 'method', label: 'method' },
  { key: 'state', label: 'state' },
  { key: 'trainableParams', label: 'trainable params' },
  { key: 'trainablePct', label: 'trainable %' },
  { key: 'allreduceBytes', label: 'all-reduce per step (bytes)' },
  { key: 'peakBytes', label: 'peak memory (bytes)' },
  { key: 'peakXWeights', label: '× model weights' },
  { key: 'tokensPerS', label: 'tokens/s' },
  { key: 'msPerStep', label: 'ms/step' },
  { key: 'trainLoss', label: 'final train loss' },
  { key: 'evalLoss', label: 'final eval loss' },
  { key: 'exactMatch', label: 'exact match %' },
  { key: 'latencyBase', label: 'latency base (ms)' },
  { key: 'latencyUnmerged', label: 'latency unmerged (ms)' },
  { key: 'latencyMerged', label: 'latency merged (ms)' },
];

function last<T>(xs: readonly T[], f: (x: T) => boolean): T | undefined {
  for (let i = xs.length - 1; i >= 0; i--) if (f(xs[i])) return xs[i];
  return undefined;
}

export function compareRows(
  runs: readonly RunRecord[],
  metrics: Record<string, readonly MetricPoint[]>,
): CompareRow[] {
  return runs.map((r) => {
    const pts = metrics[r.spec.id] ?? [];
    const lastTrain = last(pts, (p) => p.loss !== null);
    const lastEval = last(pts, (p) => p.evalLoss !== null);
    const peak = pts.reduce((a, p) => Math.max(a, p.peakBytes), 0);
    const info = r.info;
    return {
      id: r.spec.id,
      run: r.spec.label,
      method: r.method,
      state: r.state,
      trainableParams: info?.trainableParams ?? null,
      trainablePct: info ? (100 * info.trainableParams) / info.totalParams : null,
      allreduceBytes: info ? allreduceBytesOf(info.trainableParams) : null,
      peakBytes: peak || null,
      peakXWeights: peak ? peak / r.weightBytes : null,
      tokensPerS: lastTrain ? lastTrain.tokensPerS : null,
      msPerStep:
        lastTrain?.msPerStep ?? (lastTrain && lastTrain.step > 0 ? lastTrain.timeMs / lastTrain.step : null),
      evalLoss: r.results?.evalLoss ?? lastEval?.evalLoss ?? null,
      trainLoss: lastTrain?.loss ?? null,
      exactMatch: r.results?.exactMatch != null ? 100 * r.results.exactMatch : null,
      latencyBase: r.results?.latency?.baseMs ?? null,
      latencyUnmerged: r.results?.latency?.unmergedMs ?? null,
      latencyMerged: r.results?.latency?.mergedMs ?? null,
    };
  });
}

/** Sorted copy; missing values last whatever the direction. */
export function sortRows(rows: readonly CompareRow[], key: keyof CompareRow, dir: 1 | -1): CompareRow[] {
  return [...rows].sort((a, b) => {
    const x = a[key];
    const y = b[key];
    if (x === null) return y === null ? 0 : 1;
    if (y === null) return -1;
    if (typeof x === 'number' && typeof y === 'number') return (x - y) * dir;
    return String(x).localeCompare(String(y)) * dir;
  });
}

export function formatCell(key: keyof CompareRow, v: CompareRow[keyof CompareRow]): string {
  if (v === null) return '';
  if (typeof v === 'string') return v;
  if (key === 'trainablePct') return v.toFixed(2);
  if (key === 'peakXWeights') return v.toFixed(2);
  if (key === 'evalLoss' || key === 'trainLoss') return v.toFixed(4);
  if (key === 'tokensPerS' || key === 'msPerStep' || key === 'exactMatch') return v.toFixed(1);
  if (key === 'latencyBase' || key === 'latencyUnmerged' || key === 'latencyMerged') return v.toFixed(2);
  return String(Math.round(v));
}

const csvCell = (s: string) => (/[",\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s);

export function toCsv(rows: readonly CompareRow[]): string {
  const head = COLUMNS.map((c) => csvCell(c.label)).join(',');
  const body = rows.map((r) => COLUMNS.map((c) => csvCell(formatCell(c.key, r[c.key]))).join(','));
  return `${[head, ...body].join('\n')}\n`;
}

export function toMarkdown(rows: readonly CompareRow[]): string {
  const esc = (s: string) => s.replace(/\|/g, '\\|');
  const head = `| ${COLUMNS.map((c) => c.label).join(' | ')} |`;
  const rule = `|${COLUMNS.map((c) => (c.key === 'run' || c.key === 'method' || c.key === 'state' ? ' --- ' : ' ---: ')).join('|')}|`;
  const body = rows.map((r) => `| ${COLUMNS.map((c) => esc(formatCell(c.key, r[c.key]))).join(' | ')} |`);
  return `${[head, rule, ...body].join('\n')}\n`;
}
