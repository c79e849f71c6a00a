// The fair comparison's report, written once for both front ends: `cli compare --out DIR` writes these
// files to DIR and the page's "Export report" zips the same files. report.md holds the setup, the table
// (mean ± sd over seeds), each sweep's grid with the rate it picked, which methods separate beyond their
// seed spread, the task metric's definition and side-by-side generations; loss.svg and eval-loss.svg are
// its charts; runs.json keeps every run's figures and curve, so the report can be checked or redrawn.
import { evalLossSvg, lossCurvesSvg } from './svg';
import { type CompareRun, compareTable, separated, type TableRow } from './table';

/** What the comparison was run on: the report's setup section. */
export interface CompareSetup {
  model: string;
  data: string;
  methods: readonly string[];
  steps: number;
  batch: number;
  seqLen: number;
  seeds: number;
  /** The sweep's decades around each default (null: no sweep, each method at its given rate). */
  gridDecades: readonly number[] | null;
  /** The exact command (CLI) or the page's settings that reproduce it. */
  command?: string;
}

/** One eval prompt's greedy completions, for the side-by-side table. */
export interface SideBySide {
  prompt: string;
  reference: string;
  /** By method: the first seed's greedy completion. */
  outputs: Record<string, string>;
}

export interface ReportFile {
  path: string;
  text: string;
}

export const EXACT_MATCH_DEFINITION =
  "Exact match: the share of eval prompts (up to 16) whose greedy completion's first n tokens equal the " +
  "reference completion's n tokens, where the reference ends with the end-of-sequence token that training " +
  'appends (as TRL does): the model must give the answer and stop. Judged in token ids, no normalisation.';

const num = (x: number | null, d: number) => (x === null ? '–' : x.toFixed(d));
const pm = (m: number | null, sd: number | null, d: number) =>
  m === null ? '–' : sd === null ? m.toFixed(d) : `${m.toFixed(d)} ± ${sd.toFixed(d)}`;
const pct = (x: number | null) => (x === null ? null : 100 * x);
const mib = (b: number) => (b / 2 ** 20).toFixed(1);
const cell = (s: string) => s.replace(/\|/g, '\\|').replace(/\n/g, '⏎');

export function tableMarkdown(rows: readonly TableRow[]): string {
  const head =
    '| method | lr | seeds | eval loss (mean ± sd) | exact match % (mean ± sd) | trainable params | peak memory (MiB) | tokens/s | latency (ms) |';
  const rule = '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |';
  const body = rows.map(
    (r) =>
      `| ${r.method} | ${r.lr} | ${r.seeds} | ${pm(r.eval_loss_mean, r.eval_loss_sd, 3)} | ${pm(pct(r.exact_match_mean), pct(r.exact_match_sd), 1)} | ${r.trainable_params.toLocaleString('en-US')} | ${mib(r.peak_bytes)} | ${num(r.tokens_per_s, 0)} | ${num(r.latency_ms, 1)} |`,
  );
  return [head, rule, ...body].join('\n');
}

function sweepMarkdown(runs: readonly CompareRun[], rows: readonly TableRow[]): string {
  const sweep = runs.filter((r) => r.phase === 'sweep');
  if (sweep.length === 0) return '';
  const lines = [
    '## Learning-rate sweep',
    '',
    '| method | lr | eval loss | picked |',
    '| --- | ---: | ---: | --- |',
  ];
  for (const r of sweep) {
    const picked = rows.find((x) => x.method === r.method)?.lr === r.lr ? 'yes' : '';
    const e = r.evalLoss === null ? (r.error ? `failed: ${cell(r.error)}` : '–') : r.evalLoss.toFixed(3);
    lines.push(`| ${r.method} | ${r.lr} | ${e} | ${picked} |`);
  }
  return `${lines.join('\n')}\n`;
}

function separationMarkdown(rows: readonly TableRow[]): string {
  const sorted = [...rows]
    .filter((r) => r.eval_loss_mean !== null)
    .sort((a, b) => (a.eval_loss_mean ?? 0) - (b.eval_loss_mean ?? 0));
  const lines: string[] = [];
  for (let i = 0; i + 1 < sorted.length; i++) {
    const [a, b] = [sorted[i], sorted[i + 1]];
    lines.push(
      `- ${a.method} (${pm(a.eval_loss_mean, a.eval_loss_sd, 3)}) vs ${b.method} (${pm(b.eval_loss_mean, b.eval_loss_sd, 3)}): ${separated(a, b) ? 'separate (the mean ± sd intervals do not overlap)' : 'within each other’s seed spread'}`,
    );
  }
  return lines.length ? `## Separation (eval loss, neighbours in rank)\n\n${lines.join('\n')}\n` : '';
}

function sideBySideMarkdown(samples: readonly SideBySide[], methods: readonly string[]): string {
  if (samples.length === 0) return '';
  const head = `| prompt | reference | ${methods.join(' | ')} |`;
  const rule = `|${' --- |'.repeat(methods.length + 2)}`;
  const body = samples.map(
    (s) =>
      `| ${cell(s.prompt)} | ${cell(s.reference)} | ${methods.map((m) => cell(s.outputs[m] ?? '')).join(' | ')} |`,
  );
  return `## Greedy completions on eval prompts (first seed of each method)\n\n${[head, rule, ...body].join('\n')}\n`;
}

/** The report's files: report.md, loss.svg, eval-loss.svg, runs.json. */
export function reportFiles(
  setup: CompareSetup,
  runs: readonly CompareRun[],
  samples: readonly SideBySide[] = [],
): ReportFile[] {
  const rows = compareTable(runs);
  const methods = rows.map((r) => r.method);
  const tokens = setup.steps * setup.batch * setup.seqLen;
  const md = [
    '# Fair comparison',
    '',
    `- model: ${setup.model}`,
    `- data: ${setup.data}`,
    `- budget: ${setup.steps} steps × batch ${setup.batch} × ${setup.seqLen} tokens (at most ${tokens.toLocaleString('en-US')} tokens) for every run`,
    setup.gridDecades
      ? `- learning rate: per method the lowest final eval loss over its default × 10^k, k ∈ {${setup.gridDecades.join(', ')}} (seed 0, same budget)`
      : '- learning rate: as given (no sweep)',
    `- seeds: ${setup.seeds} per method at the chosen rate (seed ${setup.gridDecades ? '1' : '0'} onwards); a seed fixes the eval split, the initialisation and the batch order`,
    ...(setup.command ? ['', 'Reproduce:', '', '```', setup.command, '```'] : []),
    '',
    '## Table',
    '',
    tableMarkdown(rows),
    '',
    `${EXACT_MATCH_DEFINITION} Peak memory is the largest over the seeds; tokens/s is steady state (first step left out); latency is one forward of batch 1 × seq len, merged where the method merges.`,
    '',
    '![training loss](loss.svg)',
    '',
    '![eval loss](eval-loss.svg)',
    '',
    separationMarkdown(rows),
    sweepMarkdown(runs, rows),
    sideBySideMarkdown(samples, methods),
  ]
    .filter((s, i, a) => !(s === '' && a[i - 1] === ''))
    .join('\n');
  return [
    { path: 'report.md', text: `${md.trimEnd()}\n` },
    { path: 'loss.svg', text: lossCurvesSvg(runs, methods) },
    { path: 'eval-loss.svg', text: evalLossSvg(rows) },
    { path: 'runs.json', text: `${JSON.stringify({ setup, table: rows, runs, samples }, null, 1)}\n` },
  ];
}
