// The step-wise SFT runner against a float64 reference loop on the CPU twin (same batches, schedule,
// accumulation and AdamW) for a selective method (top_layers) and one with virtual tokens (prompt tuning,
// through the registry's planAdapter/Adapter), a run checkpointed mid-way and restored into a fresh runner
// continuing exactly, a packed run (pack: true; the reference packs the same rows and feeds their positions and
// segment ids, eval unpacked) also checkpointed and restored, the registry's closed-form count against what the
// runner allocates, the exact-match task metric, and the learning-rate schedule's values.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Batch, Batcher, type BatchRow } from '../data/batch';
import { packSequences } from '../data/pack';
import { bytesSource, SafetensorsFile, writeSafetensors } from '../formats/safetensors';
import type { GpuContext } from '../gpu/context';
import { acquireNodeGpu } from '../gpu/node';
import { randomModelParams } from '../model/init';
import { shiftLabels } from '../model/loss';
import { TINY_LLAMA } from '../model/testing';
import { forward } from '../model/transformer';
import { Adapter, planAdapter } from '../peft/adapter';
import { getMethod } from '../peft/registry';
import { cpuBackend } from '../tensor/cpu-backend';
import * as op from '../tensor/ops';
import { ParamSet } from '../tensor/params';
import { Tape } from '../tensor/tape';
import { AdamW } from './optimizer';
import { lrAt, NonFiniteLossError, SFT_DEFAULTS, type SftRunConfig, SftRunner } from './sft';
import type { MetricPoint } from './sft-config';

const cfg = TINY_LLAMA;
const specs = randomModelParams(cfg, 7, () => false, 0.2);
const file = writeSafetensors(
  Object.fromEntries(
    specs.map((s) => [s.name, { dtype: 'F32' as const, shape: s.shape, data: s.data ?? [] }]),
  ),
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
  const plan = planAdapter(getMethod(r.method), r.options, cfg, specs, r.seed);
  const ps = new ParamSet(be, plan.specs);
  const adapter = new Adapter(getMethod(r.method), plan, cfg, ps);
  const opt = new AdamW(ps, {
    lr: r.lr,
    beta1: 0.9,
    beta2: 0.999,
    eps: 1e-8,
    weightDecay: r.weightDecay,
    maxGradNorm: r.maxGradNorm,
  });
  const trainRows = r.pack ? packSequences(train, { seqLen: r.seqLen, padId: 0 }) : train;
  const b = new Batcher(trainRows, { batchSize: r.batch, seqLen: r.seqLen, padId: 0, seed: r.seed });
  const { batch: B, seqLen: T } = r;
  const lossOf = (tp: Tape<Float64Array, Int32Array>, bt: Batch, w: number, packed: boolean) => {
    const seg = packed ? { positions: bt.positionIds, segments: bt.segmentIds } : {};
    const { logits, virtual } = forward(tp, cfg, ps, { ids: bt.inputIds, B, T, ...seg }, adapter.hooks);
    return op.crossEntropy(
      tp,
      tp.reshape(logits, [B * (T + virtual), cfg.vocabSize]),
      shiftLabels(bt.labels, B, T, virtual),
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
      const loss = lossOf(tp, batch, 1 / r.gradAccum, !!r.pack);
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
    e += lossOf(tp, bt, 1, false).store[0];
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
    expect(r.trainableParams).toBe(r.adapter.plan.count);
    const want1 = specs
      .filter((s) => s.name.startsWith('model.layers.1.') || s.name === 'model.norm.weight')
      .reduce((a, s) => a + s.shape.reduce((x, y) => x * y, 1), 0);
    expect(r.trainableParams).toBe(want1);
    const got: number[] = [];
    const pts: MetricPoint[] = [];
    while (!r.done) {
      r.stepOnce();
      // Points arrive later than their step: the step itself never waits for the GPU (one read stays in
      // flight here, so points arrive one at a time, at different times).
      await r.settle(1);
      pts.push(...r.takePoints());
    }
    pts.push(...(await r.flush()));
    for (const p of pts) got.push(p.loss!);
    // Speed is steady-state: from the first point on, its compile time left out.
    const [p1, pn] = [pts[0], pts[pts.length - 1]];
    expect(pn.tokensPerS).toBeCloseTo(((pn.tokens - p1.tokens) * 1000) / (pn.timeMs - p1.timeMs), 6);
    expect(pn.msPerStep).toBeCloseTo((pn.timeMs - p1.timeMs) / (pn.step - p1.step), 6);
    expect(p1.tokensPerS).toBeCloseTo((p1.tokens * 1000) / p1.timeMs, 6);
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

  it('trains prompt tuning (virtual tokens) as the reference does', async () => {
    const reader = await SafetensorsFile.open(bytesSource(file, 'model.safetensors'));
    const pr: SftRunConfig = { ...run, method: 'prompt', options: { num_virtual_tokens: 3 }, gradAccum: 1 };
    const r = await SftRunner.create(ctx, cfg, reader, { train, eval: evalRows, padId: 0 }, pr);
    expect(r.trainableParams).toBe(3 * cfg.hiddenSize);
    while (!r.done) r.stepOnce();
    const got = (await r.flush()).map((p) => p.loss!);
    const want = reference(pr);
    for (let i = 0; i < pr.steps; i++) expect(got[i]).toBeCloseTo(want.losses[i], 4);
    expect(await r.evalLoss()).toBeCloseTo(want.evalLoss, 4);
    r.dispose();
  });

  it('resumes from a checkpoint exactly: 2 steps, checkpoint, a fresh runner restores and finishes', async () => {
    const reader = await SafetensorsFile.open(bytesSource(file, 'model.safetensors'));
    const lr: SftRunConfig = { ...run, method: 'lora', options: { r: 2, lora_alpha: 4 } };
    const data = { train, eval: evalRows, padId: 0 };
    const a = await SftRunner.create(ctx, cfg, reader, data, lr);
    a.stepOnce();
    a.stepOnce();
    const first = (await a.flush()).map((p) => p.loss!);
    const ck = await a.checkpoint();
    a.dispose();
    expect(ck.step).toBe(2);
    expect(ck.m.some((x) => x !== 0)).toBe(true);
    const b = await SftRunner.create(ctx, cfg, reader, data, lr);
    b.restore(ck);
    expect(b.step).toBe(2);
    while (!b.done) b.stepOnce();
    const rest = (await b.flush()).map((p) => p.loss!);
    const want = reference(lr);
    const got = [...first, ...rest];
    expect(got).toHaveLength(lr.steps);
    for (let i = 0; i < lr.steps; i++) expect(got[i]).toBeCloseTo(want.losses[i], 4);
    expect(await b.evalLoss()).toBeCloseTo(want.evalLoss, 4);
    expect(() => b.restore({ ...ck, m: new Float32Array(3) })).toThrow(/checkpoint m: 3 values/);
    // Its saved PEFT files, imported into a zero-step run, evaluate to the same loss.
    const saved = await b.adapter.save('tiny');
    const c = await SftRunner.create(
      ctx,
      cfg,
      reader,
      data,
      { ...run, steps: 0 },
      {
        adapterConfig: saved.files.config,
        adapterWeights: saved.files.weights,
      },
    );
    expect(c.adapter.method.info.name).toBe('lora');
    expect(c.done).toBe(true);
    expect(await c.evalLoss()).toBeCloseTo(want.evalLoss, 5);
    await expect(
      SftRunner.create(ctx, cfg, reader, data, run, {
        adapterConfig: saved.files.config,
        adapterWeights: new Uint8Array(8),
      }),
    ).rejects.toThrow(/adapter_model.safetensors/);
    b.dispose();
    c.dispose();
  });

  it('packs the training split (pack: true) as a packed reference does, eval unpacked, and resumes', async () => {
    const reader = await SafetensorsFile.open(bytesSource(file, 'model.safetensors'));
    const pk: SftRunConfig = {
      ...run,
      method: 'lora',
      options: { r: 2, lora_alpha: 4 },
      seqLen: 16,
      pack: true,
    };
    const data = { train, eval: evalRows, padId: 0 };
    // Rows of 5-8 tokens: two per 16-token row, so half the rows and much less padding.
    const packed = packSequences(train, { seqLen: pk.seqLen, padId: 0 });
    expect(packed.length).toBe(train.length / 2);
    expect(packed.reduce((a, x) => a + x.used, 0)).toBe(train.reduce((a, x) => a + x.inputIds.length, 0));
    const a = await SftRunner.create(ctx, cfg, reader, data, pk);
    // Eval never packs: before any step a packed and an unpacked run report the same eval loss.
    const plain = await SftRunner.create(ctx, cfg, reader, data, { ...pk, pack: false });
    expect(await a.evalLoss()).toBe(await plain.evalLoss());
    plain.dispose();
    a.stepOnce();
    a.stepOnce();
    const first = (await a.flush()).map((p) => p.loss!);
    const ck = await a.checkpoint();
    a.dispose();
    const b = await SftRunner.create(ctx, cfg, reader, data, pk);
    b.restore(ck);
    while (!b.done) b.stepOnce();
    const got = [...first, ...(await b.flush()).map((p) => p.loss!)];
    const want = reference(pk);
    // The unpacked reference differs: the comparison below tells packed batches from unpacked ones.
    const unpackedWant = reference({ ...pk, pack: false });
    expect(Math.abs(unpackedWant.losses[0] - want.losses[0])).toBeGreaterThan(1e-3);
    expect(got).toHaveLength(pk.steps);
    for (let i = 0; i < pk.steps; i++) expect(got[i]).toBeCloseTo(want.losses[i], 4);
    expect(await b.evalLoss()).toBeCloseTo(want.evalLoss, 4);
    b.dispose();
  });

  it("scores greedy completions: exact match against the float64 twin's greedy tokens", async () => {
    const reader = await SafetensorsFile.open(bytesSource(file, 'model.safetensors'));
    const r = await SftRunner.create(ctx, cfg, reader, { train, eval: evalRows, padId: 0 }, run);
    // Targets made from the model's own greedy continuation (computed on the CPU twin) must all match;
    // a corrupted target must not.
    const be = cpuBackend();
    const ps = new ParamSet(be, planAdapter(getMethod('top_layers'), run.options, cfg, specs, 0).specs);
    const { generate } = await import('../model/generate');
    const prompts = evalRows.map((x) => x.inputIds.slice(0, 3));
    const g = await generate(be, cfg, ps, prompts, { maxNewTokens: 2 });
    const rowsOk: BatchRow[] = prompts.map((p, i) => ({
      inputIds: [...p, ...g.rows[i].tokens],
      labels: [-100, -100, -100, ...g.rows[i].tokens],
    }));
    const bad = rowsOk.map((x, i) =>
      i === 0 ? { ...x, inputIds: [...x.inputIds.slice(0, 4), (x.inputIds[4] + 1) % cfg.vocabSize] } : x,
    );
    const ok = await SftRunner.create(ctx, cfg, reader, { train, eval: rowsOk, padId: 0 }, run);
    expect(await ok.exactMatch([])).toBe(1);
    const nb = await SftRunner.create(ctx, cfg, reader, { train, eval: bad, padId: 0 }, run);
    expect(await nb.exactMatch([])).toBeCloseTo(2 / 3, 12);
    // Rows without an unlabelled prompt (plain text) give no metric.
    const plain = await SftRunner.create(
      ctx,
      cfg,
      reader,
      { train, eval: [{ inputIds: [1, 2, 3], labels: [1, 2, 3] }], padId: 0 },
      run,
    );
    expect(await plain.exactMatch([])).toBeNull();
    for (const x of [r, ok, nb, plain]) x.dispose();
  });

  it('rejects bad run settings with the setting named', async () => {
    const reader = await SafetensorsFile.open(bytesSource(file, 'model.safetensors'));
    const data = { train, eval: evalRows, padId: 0 };
    await expect(SftRunner.create(ctx, cfg, reader, data, { ...run, seqLen: 64 })).rejects.toThrow(
      /sequence length 64/,
    );
    await expect(
      SftRunner.create(ctx, cfg, reader, data, { ...run, options: { num_layers: 3 } }),
    ).rejects.toThrow(/num_layers/);
    await expect(SftRunner.create(ctx, cfg, reader, data, { ...run, method: 'nope' })).rejects.toThrow(
      /unknown method "nope"/,
    );
    await expect(SftRunner.create(ctx, cfg, reader, data, { ...run, batch: 0 })).rejects.toThrow(/batch = 0/);
  });
});

describe('schedule', () => {
  it('warms up linearly over a tenth of the run, then decays', () => {
    expect(lrAt('cosine', 1, 1, 100)).toBeCloseTo(0.1, 12);
    expect(lrAt('cosine', 1, 10, 100)).toBe(1);
    expect(lrAt('cosine', 1, 55, 100)).toBeCloseTo(0.5, 12);
    expect(lrAt('linear', 1, 100, 100)).toBe(0);
    expect(lrAt('constant', 2, 50, 100)).toBe(2);
  });
});

describe('NonFiniteLossError', () => {
  it('blames the weights at step 1 (no update has happened yet) and the learning rate after', () => {
    const first = new NonFiniteLossError(1, Number.NaN, 'models/x');
    expect(first.message).toContain('at step 1, before any update: not the learning rate');
    expect(first.message).toContain('check models/x for NaN or Inf weights');
    expect(first.message).not.toMatch(/lower learning rate/);
    const later = new NonFiniteLossError(7, Number.POSITIVE_INFINITY);
    expect(later.message).toMatch(/became Infinity at step 7; .*lower learning rate/);
  });
});
