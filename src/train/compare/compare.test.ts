// The fair comparison's arithmetic against hand values: seed aggregation (mean, sample sd), the bands on
// the curves, the sweep's grid and pick, the table over seeded runs only, and the report's table text.
import { describe, expect, it } from 'vitest';
import { reportFiles, tableMarkdown } from './report';
import { band, spread } from './stats';
import { lrGrid, parseDecades, pickLr } from './sweep';
import { type CompareRun, compareTable, separated } from './table';

const run = (o: Partial<CompareRun> & Pick<CompareRun, 'method' | 'lr' | 'seed'>): CompareRun => ({
  phase: 'seed',
  steps: 10,
  tokens: 100,
  evalLoss: null,
  exactMatch: null,
  trainableParams: 1000,
  peakBytes: 2 ** 20,
  tokensPerS: 50,
  latencyMs: null,
  curve: [],
  ...o,
});

describe('spread', () => {
  it('is the mean and the sample (n − 1) standard deviation', () => {
    const s = spread([2, 4, 4, 4, 5, 5, 7, 9]);
    expect(s.mean).toBe(5);
    // Σ(x − 5)² = 32; 32 / 7 under Bessel's correction.
    expect(s.sd).toBeCloseTo(Math.sqrt(32 / 7), 12);
    expect(s.n).toBe(8);
  });
  it('leaves missing and non-finite values out instead of counting them as zero', () => {
    const s = spread([1, null, 3, Number.NaN, undefined]);
    expect(s).toEqual({ mean: 2, sd: Math.SQRT2, n: 2 });
  });
  it('has no sd with one value and no mean with none', () => {
    expect(spread([3.5])).toEqual({ mean: 3.5, sd: null, n: 1 });
    expect(spread([])).toEqual({ mean: null, sd: null, n: 0 });
  });
});

describe('band', () => {
  it('is mean ± sd per x over the curves that have a value there', () => {
    const b = band([
      [
        { x: 1, y: 4 },
        { x: 2, y: 2 },
      ],
      [
        { x: 1, y: 6 },
        { x: 2, y: null },
      ],
    ]);
    expect(b[0]).toMatchObject({ x: 1, mean: 5, n: 2 });
    expect(b[0].hi - b[0].mean).toBeCloseTo(Math.SQRT2, 12);
    expect(b[0].mean - b[0].lo).toBeCloseTo(Math.SQRT2, 12);
    expect(b[1]).toEqual({ x: 2, mean: 2, lo: 2, hi: 2, n: 1 });
  });
});

describe('learning-rate sweep', () => {
  it('spans the default × 10^k, sorted, 3 significant figures', () => {
    expect(lrGrid(2e-4)).toEqual([2e-4, 2e-3, 2e-2]);
    expect(lrGrid(2e-4, [-1, 0, 1, 2])).toEqual([2e-5, 2e-4, 2e-3, 2e-2]);
    expect(lrGrid(3e-2, [1, -0.5, 0])).toEqual([0.00949, 0.03, 0.3]);
    expect(() => lrGrid(0)).toThrow(/must be > 0/);
    expect(parseDecades('-1, 0,2')).toEqual([-1, 0, 2]);
    expect(() => parseDecades('a')).toThrow(/decades/);
  });
  it('picks the lowest eval loss; a diverged point never wins; a tie goes to the lower rate', () => {
    expect(
      pickLr([
        { lr: 1e-3, evalLoss: 3 },
        { lr: 1e-2, evalLoss: 2.5 },
        { lr: 1e-1, evalLoss: Number.NaN },
        { lr: 1, evalLoss: null },
      ]),
    ).toBe(1e-2);
    expect(
      pickLr([
        { lr: 1e-2, evalLoss: 2 },
        { lr: 1e-3, evalLoss: 2 },
      ]),
    ).toBe(1e-3);
    expect(pickLr([{ lr: 1, evalLoss: Number.POSITIVE_INFINITY }])).toBeNull();
  });
});

describe('compareTable', () => {
  const runs: CompareRun[] = [
    run({ method: 'lora', lr: 0.1, seed: 0, phase: 'sweep', evalLoss: 0.1 }),
    run({ method: 'lora', lr: 0.02, seed: 1, evalLoss: 2, exactMatch: 0.5, tokensPerS: 40, latencyMs: 3 }),
    run({ method: 'lora', lr: 0.02, seed: 2, evalLoss: 3, exactMatch: 0, tokensPerS: 60, latencyMs: 5 }),
    run({ method: 'lora', lr: 0.02, seed: 3, evalLoss: 4, exactMatch: 0.25, peakBytes: 3 * 2 ** 20 }),
    run({ method: 'ia3', lr: 0.1, seed: 1, evalLoss: 6, trainableParams: 10 }),
  ];
  const t = compareTable(runs);
  it('averages the seeded runs only (the sweep point is not one of them)', () => {
    expect(t.map((r) => r.method)).toEqual(['lora', 'ia3']);
    expect(t[0]).toEqual({
      method: 'lora',
      lr: 0.02,
      seeds: 3,
      eval_loss_mean: 3,
      eval_loss_sd: 1,
      exact_match_mean: 0.25,
      exact_match_sd: 0.25,
      trainable_params: 1000,
      peak_bytes: 3 * 2 ** 20,
      tokens_per_s: 50,
      latency_ms: 4,
    });
    expect(t[1]).toMatchObject({ seeds: 1, eval_loss_mean: 6, eval_loss_sd: null, trainable_params: 10 });
  });
  it('separates two methods only when their mean ± sd intervals do not overlap', () => {
    expect(separated(t[0], t[1])).toBe(true); // [2, 4] against 6
    expect(separated(t[0], { ...t[1], eval_loss_mean: 4.5, eval_loss_sd: 0.6 })).toBe(false);
  });
  it('writes mean ± sd in the report table and the picked rate in the sweep section', () => {
    const md = tableMarkdown(t);
    expect(md).toContain('| lora | 0.02 | 3 | 3.000 ± 1.000 | 25.0 ± 25.0 | 1,000 | 3.0 | 50 | 4.0 |');
    expect(md).toContain('| ia3 | 0.1 | 1 | 6.000 | – | 10 |');
    const files = reportFiles(
      {
        model: 'm',
        data: 'd',
        methods: ['lora', 'ia3'],
        steps: 10,
        batch: 2,
        seqLen: 8,
        seeds: 3,
        gridDecades: [0, 1],
      },
      runs,
    );
    expect(files.map((f) => f.path)).toEqual(['report.md', 'loss.svg', 'eval-loss.svg', 'runs.json']);
    expect(files[0].text).toContain('| lora | 0.1 | 0.100 |  |');
  });
});
