// The comparison table's rows, sort and exports from hand-made runs and metrics.
import { describe, expect, it } from 'vitest';
import { zeroByCategory } from '../gpu/arena';
import type { RunRecord } from '../store/runs';
import type { MetricPoint } from '../train/sft-config';
import { compareRows, sortRows, toCsv, toMarkdown } from './compare';

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
