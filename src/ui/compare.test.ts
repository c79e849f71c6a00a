// The comparison table's rows, sort and exports from hand-made runs and metrics.
import { describe, expect, it } from 'vitest';
import { zeroByCategory } from '../gpu/arena';
import type { RunRecord } from '../store/runs';
import type { MetricPoint } from '../train/sft-config';
import { compareRows, fairGroups, meanSd, sortRows, toCsv, toMarkdown } from './compare';

const run = (id: string, method: string, trainable: number): RunRecord => ({
  spec: {
    id,
    label: `${method}, a "quoted" | name`,
    datasetId: 'd',
    evalFraction: 0.1,
    checkpointEvery: 0,
    predictedBytes: 0,
    config: {
      method,
      options: {},
      lr: 1e-3,
      schedule: 'constant',
      steps: 4,
      batch: 1,
      seqLen: 8,
      gradAccum: 1,
      weightDecay: 0,
      maxGradNorm: 1,
      seed: 0,
      logEvery: 1,
      evalEvery: 0,
      checkpointing: false,
      baseDtype: 'f32',
    },
  },
  method,
  methodLabel: method,
  state: 'done',
  info: {
    trainableParams: trainable,
    totalParams: 1000,
    trainExamples: 9,
    evalExamples: 1,
    mergeable: true,
    method,
  },
  predicted: null,
  weightBytes: 4000,
  createdAt: 0,
  memory: null,
  etaS: null,
});
const pt = (step: number, loss: number | null, evalLoss: number | null, peak: number): MetricPoint => ({
  step,
  tokens: step * 10,
  timeMs: step * 100,
  loss,
  evalLoss,
  lr: 1e-3,
  tokensPerS: 100,
  memory: zeroByCategory(),
  peakBytes: peak,
  peakByCategory: zeroByCategory(),
});

describe('comparison rows', () => {
  const runs = [
    {
      ...run('a', 'full', 1000),
      results: { exactMatch: 0.75, latency: { baseMs: 1.5, unmergedMs: 2.25, mergedMs: null } },
    },
    run('b', 'top_layers', 250),
    run('c', 'full', 1000),
  ];
  const metrics = {
    a: [pt(2, 3, null, 48000), pt(4, 2.5, null, 52000), pt(4, null, 2.75, 50000)],
    b: [pt(2, 3.2, null, 9000), pt(4, 3.1, 3.3, 9000)],
  };
  const rows = compareRows(runs, metrics);

  it('takes the last losses, the peak memory as bytes and as a multiple of the weights', () => {
    expect(rows[0]).toMatchObject({
      trainablePct: 100,
      peakBytes: 52000,
      peakXWeights: 13,
      trainLoss: 2.5,
      evalLoss: 2.75,
      msPerStep: 100,
    });
    expect(rows[0].allreduceBytes).toBe(4 * 1000);
    expect(rows[1]).toMatchObject({
      trainablePct: 25,
      allreduceBytes: 4 * 250,
      peakBytes: 9000,
      peakXWeights: 2.25,
      evalLoss: 3.3,
    });
    expect(rows[2]).toMatchObject({ peakBytes: null, evalLoss: null, tokensPerS: null, exactMatch: null });
    expect(rows[0]).toMatchObject({
      exactMatch: 75,
      latencyBase: 1.5,
      latencyUnmerged: 2.25,
      latencyMerged: null,
    });
    // A final eval loss the worker reports wins over the last eval point (an imported adapter has no points).
    const imported = compareRows([{ ...run('d', 'lora', 10), results: { evalLoss: 1.25 } }], {});
    expect(imported[0].evalLoss).toBe(1.25);
  });

  it('sorts both ways with missing values last', () => {
    expect(sortRows(rows, 'evalLoss', 1).map((r) => r.id)).toEqual(['a', 'b', 'c']);
    expect(sortRows(rows, 'evalLoss', -1).map((r) => r.id)).toEqual(['b', 'a', 'c']);
    expect(sortRows(rows, 'method', 1).map((r) => r.id)).toEqual(['a', 'c', 'b']);
  });

  it('exports CSV (quoted where needed) and Markdown (pipes escaped)', () => {
    const csv = toCsv(rows).split('\n');
    expect(csv[0]).toBe(
      'run,method,state,trainable params,trainable %,all-reduce per step (KiB),peak memory (MiB),× model weights,tokens/s,ms/step,final train loss,final eval loss,exact match %,latency base (ms),latency unmerged (ms),latency merged (ms)',
    );
    expect(csv[1]).toBe(
      '"full, a ""quoted"" | name",full,done,1000,100.00,3.91,0.0496,13.00,100.0,100.0,2.5000,2.7500,75.0,1.50,2.25,',
    );
    const md = toMarkdown(rows).split('\n');
    expect(md[1]).toMatch(/^\| --- \| --- \| --- \| ---: \|/);
    expect(md[2]).toBe(
      '| full, a "quoted" \\| name | full | done | 1000 | 100.00 | 3.91 | 0.0496 | 13.00 | 100.0 | 100.0 | 2.5000 | 2.7500 | 75.0 | 1.50 | 2.25 |  |',
    );
  });
});

describe('fair comparison rows', () => {
  const tagged = (
    id: string,
    method: string,
    phase: 'sweep' | 'seed',
    lr: number,
    seed: number,
    o: Partial<RunRecord> = {},
  ) => ({
    ...run(id, method, method === 'lora' ? 100 : 10),
    fair: { group: 'g1', phase, lr, seed },
    ...o,
  });
  const runs: RunRecord[] = [
    tagged('s0', 'lora', 'sweep', 0.01, 0, { results: { evalLoss: 1 } }),
    tagged('l1', 'lora', 'seed', 0.01, 1, { results: { evalLoss: 2, exactMatch: 0.5 } }),
    tagged('l2', 'lora', 'seed', 0.01, 2, { results: { evalLoss: 4, exactMatch: 0 } }),
    tagged('l3', 'lora', 'seed', 0.01, 3, { state: 'running' }),
    tagged('i1', 'ia3', 'seed', 0.1, 1, {
      results: { evalLoss: 5, latency: { baseMs: 1, unmergedMs: 3, mergedMs: 2 } },
    }),
    run('plain', 'full', 1000),
  ];
  const metrics = { l1: [pt(2, 3, null, 700)], l2: [pt(2, 5, null, 900)], l3: [pt(1, 9, 9, 5000)] };
  const [g] = fairGroups(runs, metrics);

  it('averages the finished seeded runs of each method (sample sd), a live seed counted as started only', () => {
    expect(fairGroups(runs, metrics)).toHaveLength(1);
    expect(g.live).toBe(true);
    expect(g.started).toEqual({ lora: 3, ia3: 1 });
    expect(g.rows[0]).toEqual({
      method: 'lora',
      lr: 0.01,
      seeds: 2,
      eval_loss_mean: 3,
      eval_loss_sd: Math.SQRT2,
      exact_match_mean: 0.25,
      exact_match_sd: Math.sqrt(0.125),
      trainable_params: 100,
      peak_bytes: 900,
      tokens_per_s: 100,
      latency_ms: null,
    });
    // The deployed latency: merged where the method merges.
    expect(g.rows[1]).toMatchObject({
      method: 'ia3',
      seeds: 1,
      eval_loss_mean: 5,
      eval_loss_sd: null,
      latency_ms: 2,
    });
    expect(g.runs.map((r) => r.phase)).toEqual(['sweep', 'seed', 'seed', 'seed']);
  });
  it('writes mean ± sd', () => {
    expect(meanSd(3, Math.SQRT2, 3)).toBe('3.000 ± 1.414');
    expect(meanSd(5, null, 3)).toBe('5.000');
    expect(meanSd(null, null, 3)).toBe('');
  });
});
