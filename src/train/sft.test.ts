// The step-wise SFT runner against a float64 reference loop on the CPU twin (same batches, schedule,
// accumulation and AdamW), the local methods' closed-form counts against what the runner allocates, and
// the learning-rate schedule's values.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Batcher, type BatchRow } from '../data/batch';
import { bytesSource, SafetensorsFile, writeSafetensors } from '../formats/safetensors';
import type { GpuContext } from '../gpu/context';
import { acquireNodeGpu } from '../gpu/node';
import { randomModelParams } from '../model/init';
import { TINY_LLAMA } from '../model/testing';
import { forward, shiftLabels } from '../model/transformer';
import { cpuBackend } from '../tensor/cpu-backend';
import * as op from '../tensor/ops';
import { ParamSet } from '../tensor/params';
import { Tape } from '../tensor/tape';
import { countTrainable, methodSpec, predictMemory } from './local-methods';
import { AdamW } from './optimizer';
import { lrAt, SFT_DEFAULTS, type SftRunConfig, SftRunner } from './sft';

const cfg = TINY_LLAMA;
const specs = randomModelParams(cfg, 7, () => false, 0.2);
const file = writeSafetensors(
  Object.fromEntries(specs.map((s) => [s.name, { dtype: 'F32' as const, shape: s.shape, data: s.data }])),
);

function rows(n: number, seed: number): BatchRow[] {
  let x = seed;
  const next = () => {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    return x % cfg.vocabSize;
  };
  return Array.from({ length: n }, (_, i) => {
    const len = 5 + (i % 4);
    const ids = Array.from({ length: len }, next);
    // Loss on the second half only, as a prompt/completion row would have it.
    return { inputIds: ids, labels: ids.map((t, j) => (j < len / 2 ? -100 : t)) };
  });
}

const train = rows(10, 1);
const evalRows = rows(3, 2);
const run: SftRunConfig = {
  ...SFT_DEFAULTS,
  method: 'top_layers',
  options: { num_layers: 1 },
  lr: 3e-2,
  steps: 4,
  batch: 2,
  seqLen: 8,
  gradAccum: 2,
  weightDecay: 0.01,
  logEvery: 1,
};

/** The same training on the float64 twin: losses per step and the final eval loss. */
function reference(r: SftRunConfig): { losses: number[]; evalLoss: number } {
  const be = cpuBackend();
  const pred = methodSpec(r.method).trainable(cfg, r.options);
  const ps = new ParamSet(
    be,
    specs.map((s) => ({ ...s, trainable: pred(s.name) })),
  );
  const opt = new AdamW(ps, {
    lr: r.lr,
    beta1: 0.9,
    beta2: 0.999,
    eps: 1e-8,
    weightDecay: r.weightDecay,
    maxGradNorm: r.maxGradNorm,
  });
  const b = new Batcher(train, { batchSize: r.batch, seqLen: r.seqLen, padId: 0, seed: r.seed });
  const { batch: B, seqLen: T } = r;
  const lossOf = (tp: Tape<Float64Array, Int32Array>, ids: Int32Array, labels: Int32Array, w: number) => {
    const { logits } = forward(tp, cfg, ps, { ids, B, T });
    return op.crossEntropy(
      tp,
      tp.reshape(logits, [B * T, cfg.vocabSize]),
      shiftLabels(labels, B, T),
      'loss',
      w,
    );
  };
  const losses: number[] = [];
  for (let step = 1; step <= r.steps; step++) {
    ps.zeroGrads();
    let sum = 0;
    for (let k = 0; k < r.gradAccum; k++) {
      const batch = b.batchAt((step - 1) * r.gradAccum + k);
      const tp = new Tape(be, true);
      const loss = lossOf(tp, batch.inputIds, batch.labels, 1 / r.gradAccum);
      tp.backward();
      sum += loss.store[0];
      tp.dispose();
    }
    opt.update(lrAt(r.schedule, r.lr, step, r.steps));
    losses.push(sum);
  }
  const eb = new Batcher(evalRows, { batchSize: B, seqLen: T, padId: 0, seed: r.seed, shuffle: false });
  let e = 0;
  for (let i = 0; i < eb.batchesPerEpoch; i++) {
    const bt = eb.batchAt(i);
    const tp = new Tape(be, false);
    e += lossOf(tp, bt.inputIds, bt.labels, 1).store[0];
    tp.dispose();
  }
  return { losses, evalLoss: e / eb.batchesPerEpoch };
}

describe('SftRunner', () => {
  let ctx: GpuContext;
  beforeAll(async () => {
    ctx = await acquireNodeGpu({ quiet: true });
  });
  afterAll(() => ctx?.destroy());

  it('matches the float64 reference loop step by step (top_layers, accumulation 2)', async () => {
    const reader = await SafetensorsFile.open(bytesSource(file, 'model.safetensors'));
    const r = await SftRunner.create(ctx, cfg, reader, { train, eval: evalRows, padId: 0 }, run);
    expect(r.trainableParams).toBe(countTrainable(cfg, 'top_layers', { num_layers: 1 }).trainable);
    const got: number[] = [];
    while (!r.done) {
      r.stepOnce();
      // Points arrive later than their step: the step itself never waits for the GPU.
      for (const p of r.takePoints()) got.push(p.loss!);
    }
    for (const p of await r.flush()) got.push(p.loss!);
    const evalLoss = await r.evalLoss();
    const want = reference(run);
    expect(got).toHaveLength(run.steps);
    for (let i = 0; i < run.steps; i++) expect(got[i]).toBeCloseTo(want.losses[i], 4);
    expect(evalLoss).toBeCloseTo(want.evalLoss, 4);
    // Training moved the loss: the reference's last loss is below its first.
    expect(want.losses[run.steps - 1]).toBeLessThan(want.losses[0]);
    const mem = r.memory();
    // Exact accounting: the flat trainable buffer holds the trainable weights (padded to the view alignment).
    expect(mem.trainable).toBeGreaterThanOrEqual(r.trainableParams * 4);
    expect(mem.optimizer).toBeGreaterThanOrEqual(2 * mem.trainable);
    expect(mem.gradients).toBe(mem.trainable);
    r.dispose();
  });

  it('rejects bad run settings with the setting named', async () => {
    const reader = await SafetensorsFile.open(bytesSource(file, 'model.safetensors'));
    const data = { train, eval: evalRows, padId: 0 };
    await expect(SftRunner.create(ctx, cfg, reader, data, { ...run, seqLen: 64 })).rejects.toThrow(
      /sequence length 64/,
    );
    await expect(
      SftRunner.create(ctx, cfg, reader, data, { ...run, options: { num_layers: 3 } }),
    ).rejects.toThrow(/num_layers=3/);
    await expect(SftRunner.create(ctx, cfg, reader, data, { ...run, batch: 0 })).rejects.toThrow(/batch = 0/);
  });
});

describe('local methods and schedule', () => {
  it('counts trainable weights from the config: full is everything, top_layers the top block and the norm', () => {
    const full = countTrainable(cfg, 'full', {});
    expect(full.trainable).toBe(full.total);
    const top = countTrainable(cfg, 'top_layers', { num_layers: 1 });
    const want = specs
      .filter((s) => s.name.startsWith('model.layers.1.') || s.name === 'model.norm.weight')
      .reduce((a, s) => a + s.data.length, 0);
    expect(top.trainable).toBe(want);
    const m = predictMemory(cfg, 'top_layers', { num_layers: 1 }, 2, 8);
    expect(m.optimizer).toBe(2 * want * 4);
    expect(m.frozen).toBe((full.total - want) * 4);
  });

  it('warms up linearly over a tenth of the run, then decays', () => {
    expect(lrAt('cosine', 1, 1, 100)).toBeCloseTo(0.1, 12);
    expect(lrAt('cosine', 1, 10, 100)).toBe(1);
    expect(lrAt('cosine', 1, 55, 100)).toBeCloseTo(0.5, 12);
    expect(lrAt('linear', 1, 100, 100)).toBe(0);
    expect(lrAt('constant', 2, 50, 100)).toBe(2);
  });
});
