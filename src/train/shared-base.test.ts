// Runs on one shared frozen base (one device, one copy of the frozen model): two SftRunners borrowing it,
// their steps interleaved, give exactly the losses each gives alone on a base of its own; the arena counts
// the frozen bytes once (exact), each run's own figures leave the base out; disposing one leaves the other
// training and the base alive, the last one frees it. An f16 base trains with losses close to the f32
// base's; a method that trains base weights is refused on a quantized base before anything is allocated.
import { describe, expect, it } from 'vitest';
import { testGpu } from '../../test/helpers/gpu';
import type { BatchRow } from '../data/batch';
import { estimateWeightBytes } from '../formats/model-config';
import {
  bytesSource,
  parseSafetensors,
  SafetensorsFile,
  toFloat32,
  writeSafetensors,
} from '../formats/safetensors';
import type { GpuContext } from '../gpu/context';
import { randomModelParams } from '../model/init';
import { baseSpecsOf, checkpointBaseSource, loadCheckpointSpecs } from '../model/load';
import { TINY_LLAMA } from '../model/testing';
import { paramSetOnBase, planAdapter } from '../peft/adapter';
import { exportMergedModel } from '../peft/export';
import { getMethod } from '../peft/registry';
import { FrozenBase } from '../tensor/frozen-base';
import { gpuBackend } from '../tensor/gpu-backend';
import type { BaseDtype } from '../tensor/weight-format';
import { SFT_DEFAULTS, type SftRunConfig, SftRunner } from './sft';

const cfg = TINY_LLAMA;
const file = writeSafetensors(
  Object.fromEntries(
    randomModelParams(cfg, 5, () => false, 0.2).map((s) => [
      s.name,
      { dtype: 'F32' as const, shape: s.shape, data: s.data ?? [] },
    ]),
  ),
);
const reader = () => SafetensorsFile.open(bytesSource(file, 'model.safetensors'));

function rows(n: number, seed: number): BatchRow[] {
  let x = seed;
  const next = () => {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    return x % cfg.vocabSize;
  };
  return Array.from({ length: n }, (_, i) => {
    const ids = Array.from({ length: 5 + (i % 3) }, next);
    return { inputIds: ids, labels: ids };
  });
}
const data = { train: rows(8, 1), eval: rows(2, 2), padId: 0 };

const base: SftRunConfig = {
  ...SFT_DEFAULTS,
  method: 'lora',
  options: {},
  lr: 3e-2,
  steps: 4,
  batch: 2,
  seqLen: 8,
  logEvery: 1,
  evalEvery: 0,
};
/** Two different runs (method, seed): mixed-up state between them would show in their losses. */
const RUN_A: SftRunConfig = {
  ...base,
  method: 'lora',
  options: { r: 2, target_modules: 'q_proj,v_proj' },
  seed: 1,
};
const RUN_B: SftRunConfig = { ...base, method: 'top_layers', options: { num_layers: 1 }, seed: 2 };

async function lossesAlone(ctx: GpuContext, run: SftRunConfig): Promise<number[]> {
  const r = await SftRunner.create(ctx, cfg, await reader(), data, run);
  while (!r.done) r.stepOnce();
  const out = (await r.flush()).map((p) => p.loss ?? Number.NaN);
  r.dispose();
  return out;
}

const sharedBase = async (ctx: GpuContext, dtype: BaseDtype = 'f32') =>
  new FrozenBase(gpuBackend(ctx), checkpointBaseSource(cfg, await reader(), dtype), dtype, (f) =>
    ctx.arena.withOwner('base', f),
  );

describe('SftRunners on one shared frozen base', () => {
  it('train as they do alone, hold the base once, and free it with the last run', async () => {
    const ctx = await testGpu();
    const refA = await lossesAlone(ctx, RUN_A);
    const refB = await lossesAlone(ctx, RUN_B);
    expect(Math.abs(refA[3] - refB[3])).toBeGreaterThan(1e-3);
    ctx.trimPool();
    const frozen0 = ctx.arena.stats().current.frozen;

    const fb = await sharedBase(ctx);
    const a = await SftRunner.create(ctx, cfg, await reader(), data, RUN_A, { base: fb, owner: 'a' });
    const b = await SftRunner.create(ctx, cfg, await reader(), data, RUN_B, { base: fb, owner: 'b' });
    // LoRA borrows every base tensor: the device holds the f32 model once, exactly its bytes.
    expect(fb.users).toBe(2);
    expect(ctx.arena.stats().current.frozen - frozen0).toBe(estimateWeightBytes(cfg, 'f32'));
    expect(ctx.arena.statsOf('base').current.frozen).toBe(estimateWeightBytes(cfg, 'f32'));
    // Each run's own figures leave the shared base out.
    expect(a.memory().frozen).toBe(0);
    expect(b.memory().frozen).toBe(0);
    expect(b.memory().trainable).toBeGreaterThan(0);

    const got: Record<'a' | 'b', number[]> = { a: [], b: [] };
    // Interleaved for two steps, then a goes away and b finishes alone on the base.
    for (let s = 0; s < 2; s++) {
      a.stepOnce();
      b.stepOnce();
    }
    got.a.push(...(await a.flush()).map((p) => p.loss ?? Number.NaN));
    got.b.push(...(await b.flush()).map((p) => p.loss ?? Number.NaN));
    expect(got.a).toEqual(refA.slice(0, 2));
    // Merging a's LoRA (its merged export) goes into a's private copies: the shared base and b's view of it
    // stay exactly as loaded, and the copies go again after the unmerge.
    const q = 'model.layers.0.self_attn.q_proj.weight';
    const before = Array.from(await fb.values(q));
    const frozenBefore = ctx.arena.stats().current.frozen;
    const merged = await exportMergedModel(a.adapter);
    const file = parseSafetensors(merged.weights, 'model.safetensors');
    const mq = file.tensors.get(q)!;
    const mergedQ = toFloat32(
      merged.weights.subarray(file.dataStart + mq.begin, file.dataStart + mq.end),
      mq.dtype,
      'm',
      q,
    );
    expect(Array.from(mergedQ).some((v, i) => Math.abs(v - before[i]) > 1e-6)).toBe(true);
    expect(Array.from(await fb.values(q))).toEqual(before);
    expect(Array.from(await b.ps.read(q))).toEqual(before);
    expect(ctx.arena.stats().current.frozen).toBe(frozenBefore);
    a.dispose();
    expect(fb.users).toBe(1);
    // The base stays for b: what top_layers leaves frozen (the top layer and the final norm are b's own).
    const heldBytes = estimateWeightBytes(cfg, 'f32');
    const frozenNow = ctx.arena.stats().current.frozen - frozen0;
    expect(frozenNow).toBeGreaterThan(0);
    expect(frozenNow).toBeLessThan(heldBytes);
    expect(ctx.arena.statsOf('base').current.frozen).toBe(frozenNow);
    while (!b.done) b.stepOnce();
    got.b.push(...(await b.flush()).map((p) => p.loss ?? Number.NaN));
    expect(got.b).toEqual(refB);
    b.dispose();
    expect(fb.users).toBe(0);
    expect(fb.heldNames()).toEqual([]);
    expect(ctx.arena.stats().current.frozen).toBe(frozen0);
  });

  it('DoRA reads only its target weights from the checkpoint, and trains as with the whole model on the host', async () => {
    const ctx = await testGpu();
    const dora: SftRunConfig = {
      ...RUN_A,
      method: 'dora',
      options: { r: 2, target_modules: 'q_proj,v_proj' },
    };
    const md = await reader();
    const streamed = await lossesAlone(ctx, dora);
    const whole = await SftRunner.create(ctx, cfg, md, data, dora, {
      baseSpecs: await loadCheckpointSpecs(cfg, md),
    });
    while (!whole.done) whole.stepOnce();
    expect((await whole.flush()).map((p) => p.loss)).toEqual(streamed);
    whole.dispose();
    // Planned on specs without values: the targets are read as zeros and named, and training refuses it.
    const specs = baseSpecsOf(checkpointBaseSource(cfg, md));
    const plan = planAdapter(getMethod('dora'), dora.options, cfg, specs, 1);
    expect(plan.unread).toEqual(
      [0, 1].flatMap((l) => ['q_proj', 'v_proj'].map((m) => `model.layers.${l}.self_attn.${m}.weight`)),
    );
    const fb = await sharedBase(ctx);
    await expect(paramSetOnBase(gpuBackend(ctx), plan, fb)).rejects.toThrow(/without values/);
    expect(fb.users).toBe(0);
  });

  it('an f16 base trains with losses close to the f32 base', async () => {
    const ctx = await testGpu();
    const f32 = await lossesAlone(ctx, { ...RUN_A, baseDtype: 'f32' });
    const f16 = await lossesAlone(ctx, { ...RUN_A, baseDtype: 'f16' });
    // f16 rounds each weight to 11 significant bits (relative error ≤ 2⁻¹¹ ≈ 4.9e-4, unbiased), so the loss,
    // a smooth function of many weights, moves by well under that relative amount: measured 2–4e-5 over these
    // 4 steps. The bound, half of 2⁻¹¹, leaves ~6× room and would catch a base read wrongly (a swapped half,
    // a lost scale: errors of order 1). The gap is not zero: the base really is held in f16.
    for (let i = 0; i < f32.length; i++) {
      expect(Math.abs(f16[i] - f32[i])).toBeLessThan(2.5e-4 * Math.abs(f32[i]));
    }
    expect(f16.some((l, i) => l !== f32[i])).toBe(true);
  });

  it('holds the base in each dtype in exactly the bytes estimateWeightBytes predicts', async () => {
    const ctx = await testGpu();
    for (const dtype of ['f32', 'f16', 'bf16', 'int8', 'nf4'] as const) {
      const fb = await sharedBase(ctx, dtype);
      const lease = await fb.lease(fb.names());
      expect(ctx.arena.statsOf('base').current.frozen, dtype).toBe(estimateWeightBytes(cfg, dtype));
      lease.release();
      expect(ctx.arena.statsOf('base').current.frozen).toBe(0);
    }
    // 16-bit halves the matrices; NF4 is about an eighth of f32 plus its absmax per block of 64.
    expect(estimateWeightBytes(cfg, 'f16')).toBeLessThan(0.55 * estimateWeightBytes(cfg, 'f32'));
    expect(estimateWeightBytes(cfg, 'nf4')).toBeLessThan(0.2 * estimateWeightBytes(cfg, 'f32'));
  });

  it('refuses full fine-tuning on an nf4 base before allocating anything', async () => {
    const ctx = await testGpu();
    const before = ctx.arena.stats().current;
    await expect(
      SftRunner.create(ctx, cfg, await reader(), data, {
        ...base,
        method: 'full',
        options: {},
        baseDtype: 'nf4',
      }),
    ).rejects.toThrow(/nf4 base holds as nf4: a trained tensor must be f32.*--base-dtype f32/);
    expect(ctx.arena.stats().current).toEqual(before);
  });
});
