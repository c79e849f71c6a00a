// The SFT runner with `pack: true`: its losses step by step against a float64 reference loop on the CPU twin
// that packs the same rows (packSequences, bfd) and feeds their positions and segment ids; eval stays unpacked
// (a packed and an unpacked run from the same weights report the same eval loss); a packed run checkpointed
// after 2 steps and restored into a fresh runner finishes with the same losses; packing really fills rows.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Batcher, type BatchRow } from '../data/batch';
import { packSequences } from '../data/pack';
import { bytesSource, SafetensorsFile, writeSafetensors } from '../formats/safetensors';
import type { GpuContext } from '../gpu/context';
import { acquireNodeGpu } from '../gpu/node';
import { randomModelParams } from '../model/init';
import { TINY_LLAMA } from '../model/testing';
import { forward, shiftLabels } from '../model/transformer';
import { Adapter, planAdapter } from '../peft/adapter';
import { getMethod } from '../peft/registry';
import { cpuBackend } from '../tensor/cpu-backend';
import * as op from '../tensor/ops';
import { ParamSet } from '../tensor/params';
import { Tape } from '../tensor/tape';
import { rng } from '../util/rng';
import { AdamW } from './optimizer';
import { lrAt, SFT_DEFAULTS, type SftRunConfig, SftRunner } from './sft';

const cfg = TINY_LLAMA;
const specs = randomModelParams(cfg, 3, () => false, 0.2);
const file = writeSafetensors(
  Object.fromEntries(specs.map((s) => [s.name, { dtype: 'F32' as const, shape: s.shape, data: s.data }])),
);

/** Rows of 3..8 tokens, loss on the second half (prompt/completion-like). */
function rows(n: number, seed: number): BatchRow[] {
  const r = rng(seed);
  return Array.from({ length: n }, (_, i) => {
    const len = 3 + ((i * 5) % 6);
    const ids = Array.from({ length: len }, () => Math.floor(r() * cfg.vocabSize));
    return { inputIds: ids, labels: ids.map((t, j) => (j < len / 2 ? -100 : t)) };
  });
}

const train = rows(14, 1);
const evalRows = rows(4, 2);
const run: SftRunConfig = {
  ...SFT_DEFAULTS,
  method: 'lora',
  options: { r: 2, lora_alpha: 4 },
  lr: 2e-2,
  steps: 4,
  batch: 2,
  seqLen: 12,
  logEvery: 1,
  pack: true,
};
const data = { train, eval: evalRows, padId: 0 };

/** The same packed training on the float64 twin: per-step losses and the (unpacked) eval loss. */
function reference(r: SftRunConfig): { losses: number[]; evalLoss: number } {
  const be = cpuBackend();
  const method = getMethod(r.method);
  const plan = planAdapter(method, r.options, cfg, specs, r.seed);
  const ps = new ParamSet(be, plan.specs);
  const adapter = new Adapter(method, plan, cfg, ps);
  const opt = new AdamW(ps, {
    lr: r.lr,
    beta1: 0.9,
    beta2: 0.999,
    eps: 1e-8,
    weightDecay: 0,
    maxGradNorm: 1,
  });
  const { batch: B, seqLen: T } = r;
  const packed = packSequences(train, { seqLen: T, padId: 0 });
  const batcher = new Batcher(packed, { batchSize: B, seqLen: T, padId: 0, seed: r.seed });
  const loss = (tp: Tape<Float64Array, Int32Array>, b: ReturnType<Batcher['batchAt']>, pack: boolean) => {
    const extra = pack ? { positions: b.positionIds, segments: b.segmentIds } : {};
    const { logits, virtual } = forward(tp, cfg, ps, { ids: b.inputIds, B, T, ...extra }, adapter.hooks);
    const flat = tp.reshape(logits, [B * (T + virtual), cfg.vocabSize]);
    return op.crossEntropy(tp, flat, shiftLabels(b.labels, B, T, virtual), 'loss');
  };
  const losses: number[] = [];
  for (let step = 1; step <= r.steps; step++) {
    ps.zeroGrads();
    const tp = new Tape(be, true);
    losses.push(loss(tp, batcher.batchAt(step - 1), true).store[0]);
    tp.backward();
    tp.dispose();
    opt.update(lrAt(r.schedule, r.lr, step, r.steps));
  }
  const eb = new Batcher(evalRows, { batchSize: B, seqLen: T, padId: 0, seed: r.seed, shuffle: false });
  let e = 0;
  for (const b of eb.epoch(0)) {
    const tp = new Tape(be, false);
    e += loss(tp, b, false).store[0];
    tp.dispose();
  }
  return { losses, evalLoss: e / eb.batchesPerEpoch };
}

describe('SftRunner with packing', () => {
  let ctx: GpuContext;
  beforeAll(async () => {
    ctx = await acquireNodeGpu({ quiet: true });
  });
  afterAll(() => ctx?.destroy());

  it('packs the training rows: fewer rows, less padding', () => {
    const packed = packSequences(train, { seqLen: run.seqLen, padId: 0 });
    const tokens = train.reduce((a, r) => a + r.inputIds.length, 0);
    expect(packed.reduce((a, r) => a + r.used, 0)).toBe(tokens);
    expect(packed.length).toBeLessThanOrEqual(train.length / 2);
    // Unpacked, each row is padded to seqLen; packed, most of each row is tokens.
    expect(tokens / (packed.length * run.seqLen)).toBeGreaterThan(0.8);
    expect(tokens / (train.length * run.seqLen)).toBeLessThan(0.5);
  });

  it('matches the packed float64 reference step by step, eval unpacked; resumes from a checkpoint', async () => {
    const reader = await SafetensorsFile.open(bytesSource(file, 'model.safetensors'));
    const want = reference(run);
    // Straight through 2 steps, then checkpoint and continue in a fresh runner.
    const a = await SftRunner.create(ctx, cfg, reader, data, run);
    // Before any step the eval loss equals an unpacked run's: eval never packs.
    const unpacked = await SftRunner.create(ctx, cfg, reader, data, { ...run, pack: false });
    const e0 = await a.evalLoss();
    expect(e0).toBe(await unpacked.evalLoss());
    unpacked.dispose();
    a.stepOnce();
    a.stepOnce();
    const first = (await a.flush()).map((p) => p.loss!);
    const tokens2 = (await a.checkpoint()).tokens;
    // Packed batches of 2 rows hold more than 2 examples' tokens: the first two steps saw 4 full rows.
    const packed = packSequences(train, { seqLen: run.seqLen, padId: 0 });
    expect(tokens2).toBeGreaterThan(4 * Math.max(...train.map((r) => r.inputIds.length)));
    expect(tokens2).toBeLessThanOrEqual(4 * run.seqLen);
    expect(packed.length).toBeGreaterThanOrEqual(4);
    const ck = await a.checkpoint();
    a.dispose();
    const b = await SftRunner.create(ctx, cfg, reader, data, run);
    b.restore(ck);
    while (!b.done) b.stepOnce();
    const got = [...first, ...(await b.flush()).map((p) => p.loss!)];
    expect(got).toHaveLength(run.steps);
    for (let i = 0; i < run.steps; i++) expect(got[i]).toBeCloseTo(want.losses[i], 4);
    expect(await b.evalLoss()).toBeCloseTo(want.evalLoss, 4);
    b.dispose();
  });
});
