// The comparison table's rows from runs and their metrics (pure, so it is tested without a DOM), with
// sorting and the CSV and Markdown exports. Communication volume (all-reduce bytes per step) sits beside
// the trainable parameters it is derived from. Runs of a fair comparison are also grouped into its table
// (mean ± sd over seeds) with train/compare's code, the CLI's.
import { allreduceBytesOf } from '../peft/allreduce';
import type { RunRecord } from '../store/runs';
import { type CompareRun, compareTable, type TableRow } from '../train/compare/table';
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

/**
 * The columns: `label` (with its unit) heads the CSV and Markdown exports; `short` heads the page's table,
 * which must fit its column without a sideways scroll, and `help` is its tooltip. Memory and traffic are
 * shown in MiB and KiB (the row keeps bytes, for sorting and for the tests).
 */
export const COLUMNS: { key: keyof CompareRow; label: string; short: string; help: string }[] = [
  { key: 'run', label: 'run', short: 'run', help: "The run's name (its colour in the charts)" },
  { key: 'method', label: 'method', short: 'method', help: 'PEFT method' },
  { key: 'state', label: 'state', short: 'state', help: 'queued, running, paused, done, stopped or error' },
  {
    key: 'trainableParams',
    label: 'trainable params',
    short: 'trained params',
    help: 'Parameters the method trains',
  },
  { key: 'trainablePct', label: 'trainable %', short: '% trained', help: 'Trainable share of all weights' },
  {
    key: 'allreduceBytes',
    label: 'all-reduce per step (KiB)',
    short: 'all-reduce per step (KiB)',
    help: 'Gradient bytes one data-parallel step would all-reduce',
  },
  {
    key: 'peakBytes',
    label: 'peak memory (MiB)',
    short: 'peak (MiB)',
    help: 'Peak GPU memory of the run, measured by the buffer arena',
  },
  {
    key: 'peakXWeights',
    label: '× model weights',
    short: '× weights',
    help: "Peak memory as a multiple of the model's f32 weights",
  },
  {
    key: 'tokensPerS',
    label: 'tokens/s',
    short: 'tokens /s',
    help: 'Training tokens per second over steady-state steps (the first, compiling step left out)',
  },
  {
    key: 'msPerStep',
    label: 'ms/step',
    short: 'ms /step',
    help: 'Milliseconds per optimizer step over steady-state steps (the first, compiling step left out)',
  },
  { key: 'trainLoss', label: 'final train loss', short: 'train loss', help: 'Last logged training loss' },
  {
    key: 'evalLoss',
    label: 'final eval loss',
    short: 'eval loss',
    help: 'Loss on the held-out split at the end',
  },
  {
    key: 'exactMatch',
    label: 'exact match %',
    short: 'exact match %',
    help: 'Greedy completions equal to the reference on the eval split',
  },
  {
    key: 'latencyBase',
    label: 'latency base (ms)',
    short: 'base',
    help: 'Forward pass of the base model alone, batch 1 × seq len, in ms',
  },
  {
    key: 'latencyUnmerged',
    label: 'latency unmerged (ms)',
    short: 'un\u00admerged',
    help: 'Forward pass with the adapter applied on the side (unmerged), batch 1 × seq len, in ms',
  },
  {
    key: 'latencyMerged',
    label: 'latency merged (ms)',
    short: 'merged',
    help: 'Forward pass with the adapter merged into the weights, batch 1 × seq len, in ms',
  },
];

/** The columns the table groups under one "forward latency (ms)" heading. */
export const LATENCY_KEYS: readonly (keyof CompareRow)[] = [
  'latencyBase',
  'latencyUnmerged',
  'latencyMerged',
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
  if (key === 'peakBytes') return scaled(v / 2 ** 20);
  if (key === 'allreduceBytes') return scaled(v / 2 ** 10);
  return String(Math.round(v));
}

/** Three significant figures at most, never fewer than the integer part: 0.0496, 3.91, 94.9, 1234. */
function scaled(x: number): string {
  const a = Math.abs(x);
  return a >= 100 ? x.toFixed(0) : a >= 10 ? x.toFixed(1) : a >= 1 ? x.toFixed(2) : String(+x.toPrecision(3));
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

// ---- the fair comparison: runs tagged by FairDriver, aggregated as the CLI aggregates them ---------------

/** A store run as the fair comparison's shared code (train/compare) takes it; its figures final when over. */
export function toCompareRun(r: RunRecord, points: readonly MetricPoint[]): CompareRun | null {
  if (!r.fair) return null;
  const lastTrain = last(points, (p) => p.loss !== null);
  const lastEval = last(points, (p) => p.evalLoss !== null);
  const lat = r.results?.latency;
  return {
    method: r.method,
    phase: r.fair.phase,
    lr: r.fair.lr,
    seed: r.fair.seed,
    steps: r.spec.config.steps,
    tokens: points.length ? points[points.length - 1].tokens : 0,
    evalLoss: r.state === 'done' ? (r.results?.evalLoss ?? lastEval?.evalLoss ?? null) : null,
    exactMatch: r.state === 'done' ? (r.results?.exactMatch ?? null) : null,
    trainableParams: r.info?.trainableParams ?? 0,
    peakBytes: points.reduce((a, p) => Math.max(a, p.peakBytes), 0),
    tokensPerS: lastTrain?.tokensPerS ?? 0,
    latencyMs: lat ? (lat.mergedMs ?? lat.unmergedMs) : null,
    ...(r.state === 'error' ? { error: r.message ?? 'failed' } : {}),
    curve: points.map((p) => ({ step: p.step, loss: p.loss, evalLoss: p.evalLoss })),
  };
}

export interface FairGroup {
  group: string;
  /** The finished runs (sweep and seeds) the table and the report are built from. */
  runs: CompareRun[];
  rows: TableRow[];
  /** Seeded runs started per method, finished or not (the table's "done of"). */
  started: Record<string, number>;
  /** Whether a run of the comparison is still queued or training. */
  live: boolean;
  /** The first run of each method (its colour in the charts). */
  firstIndex: Record<string, number>;
}

/** Each fair comparison on the page, oldest first: its finished runs and their table (mean ± sd). */
export function fairGroups(
  runs: readonly RunRecord[],
  metrics: Record<string, readonly MetricPoint[]>,
): FairGroup[] {
  const by = new Map<string, FairGroup>();
  runs.forEach((r, i) => {
    if (!r.fair) return;
    let g = by.get(r.fair.group);
    if (!g) {
      g = { group: r.fair.group, runs: [], rows: [], started: {}, live: false, firstIndex: {} };
      by.set(r.fair.group, g);
    }
    g.firstIndex[r.method] ??= i;
    if (r.fair.phase === 'seed') g.started[r.method] = (g.started[r.method] ?? 0) + 1;
    if (r.state === 'done' || r.state === 'error') {
      const c = toCompareRun(r, metrics[r.spec.id] ?? []);
      if (c) g.runs.push(c);
    } else if (r.state !== 'stopped' && r.state !== 'interrupted' && r.state !== 'elsewhere') g.live = true;
  });
  for (const g of by.values()) g.rows = compareTable(g.runs);
  return [...by.values()];
}

/** "3.123 ± 0.045" (the sd left out with one seed). */
export function meanSd(mean: number | null, sd: number | null, digits: number): string {
  if (mean === null) return '';
  return sd === null ? mean.toFixed(digits) : `${mean.toFixed(digits)} ± ${sd.toFixed(digits)}`;
}
