// Frozen embedding / LM head held in row parts (tensor/split-weight.ts) when they exceed the per-buffer
// limit, forced here on tiny models with an artificially low limit (2-4 parts): a LoRA step's loss and every
// trainable gradient equal the unsplit run's (float64 twin to 1e-12; GPU to 1e-6 of the GPU's unsplit run and
// to the usual tolerance of the twin), through the chunked head and through forward()'s whole logits; tied
// (GPT-2) and untied (Llama-shaped) heads; f32, bf16 and NF4 bases; greedy generation gives the same tokens;
// the meter counts the parts' bytes exactly as the arena does.
import { describe, expect, it } from 'vitest';
import { testGpu } from '../../test/helpers/gpu';
import { expectClose } from '../../test/helpers/numeric';
import { modelTensors } from '../formats/architecture';
import {
  estimateWeightBytes,
  frozenTensorPlan,
  largestBufferBytes,
  type ModelConfig,
} from '../formats/model-config';
import { Adapter, paramSetOnBase, planAdapter } from '../peft/adapter';
import { getMethod } from '../peft/registry';
import type { RawOptions } from '../peft/types';
import type { Backend } from '../tensor/backend';
import { cpuBackend } from '../tensor/cpu-backend';
import { type BaseSource, FrozenBase } from '../tensor/frozen-base';
import { gpuBackend } from '../tensor/gpu-backend';
import type { MeterStore } from '../tensor/meter-backend';
import * as op from '../tensor/ops';
import { lmHeadLoss } from '../tensor/ops-lmhead';
import { ParamSet } from '../tensor/params';
import { splitOf } from '../tensor/split-weight';
import { Tape, Tensor } from '../tensor/tape';
import type { BaseDtype } from '../tensor/weight-format';
import { frozenBytes, predictTrainingMemory } from '../train/memory';
import { ADAMW_DEFAULTS, AdamW } from '../train/optimizer';
import { baseSpecsOf, PLAN_DEFAULTS, planTraining } from '../train/plan';
import { generate } from './generate';
import { randomModelParams } from './init';
import { causalLmLoss, shiftLabels } from './loss';
import { TINY_GPT2, TINY_LLAMA } from './testing';
import { forward } from './transformer';

const B = 2;
const T = 6;
const LORA = { r: 2, lora_alpha: 6, target_modules: 'all-linear', init_lora_weights: 'false' };
/**
 * LoRA small enough for the low limits below: a run's trained tensors share one flat f32 buffer that must fit
 * the per-buffer limit too (tensor/params.ts), and all-linear r=2 (928 parameters, 3712 bytes) is above the
 * few hundred bytes that split this tiny model's NF4 tables.
 */
const LORA_Q = { r: 1, lora_alpha: 2, target_modules: ['q_proj'], init_lora_weights: 'false' };
/** Llama's tiny config with a vocabulary whose tables outweigh that LoRA's flat buffer, as in real models. */
const LLAMA_WIDE: ModelConfig = { ...TINY_LLAMA, vocabSize: 1500 };

/** GPT-2's tiny MLP outweighs its 37-row table: a vocabulary large enough that the table dominates, as it does in real models. */
const GPT2_WIDE: ModelConfig = { ...TINY_GPT2, vocabSize: 389 };

/**
 * A limit that splits the vocabulary tables (embedding, head) into 2-4 parts and no other tensor: a third of
 * the embedding's largest buffer in `dtype`, or the largest other tensor's when that is more.
 */
function lowLimit(c: ModelConfig, dtype: BaseDtype): number {
  const t = modelTensors(c);
  const vocab = new Set([t.embed, t.head]);
  let other = 0;
  for (const [name, p] of frozenTensorPlan(c, dtype)) {
    if (vocab.has(name)) continue;
    const cols = p.shape.slice(1).reduce((a, b) => a * b, 1);
    other = Math.max(other, largestBufferBytes(p.shape[0], cols, p.dtype, p.layout));
  }
  return Math.max(other, Math.ceil(largestBufferBytes(c.vocabSize, c.hiddenSize, dtype, 'out_in') / 3));
}

/** The model's random values as a base source in `dtype` (frozenTensorPlan), read from host arrays. */
function sourceOf(c: ModelConfig, dtype: BaseDtype): BaseSource {
  const values = new Map(randomModelParams(c, 11, () => false, 0.2, true).map((s) => [s.name, s.data]));
  return {
    tensors: [...frozenTensorPlan(c, dtype)].map(([name, p]) => ({ name, ...p })),
    read: async (name) => values.get(name)!,
  };
}

/** LoRA (all linears) on the base in `dtype`, its frozen tensors leased from a FrozenBase with the limit. */
async function loraOnBase<S, I>(
  be: Backend<S, I>,
  c: ModelConfig,
  dtype: BaseDtype,
  limit: number,
  options: RawOptions = LORA,
) {
  const m = getMethod('lora');
  const specs = randomModelParams(c, 11, () => false, 0.2, true);
  const plan = planAdapter(m, options, c, specs, 3);
  const base = new FrozenBase(be, sourceOf(c, dtype), dtype, undefined, { maxBufferBytes: limit });
  const ps = await paramSetOnBase(be, plan, base);
  return { ps, adapter: new Adapter(m, plan, c, ps), base };
}

function batch(c: ModelConfig) {
  // Ids from every part of the vocabulary, the last row included.
  const ids = Int32Array.from({ length: B * T }, (_, i) => (i * 7 + 3) % c.vocabSize);
  ids[1] = c.vocabSize - 1;
  ids[2] = 0;
  const labels = Int32Array.from(ids, (t, i) => (i % 4 === 1 ? -100 : t));
  return { ids, labels, B, T };
}

/** One LoRA step's loss and gradients: the chunked head (3-row chunks), or forward()'s logits + crossEntropy. */
async function step<S, I>(
  be: Backend<S, I>,
  c: ModelConfig,
  dtype: BaseDtype,
  limit: number,
  wholeHead: boolean,
) {
  const { ps, adapter, base } = await loraOnBase(be, c, dtype, limit);
  const parts = splitOf(ps.get(modelTensors(c).head))?.parts.length ?? 1;
  const embedParts = splitOf(ps.get(modelTensors(c).embed))?.parts.length ?? 1;
  const tp = new Tape(be, true);
  ps.zeroGrads();
  const input = batch(c);
  let loss: S;
  if (wholeHead) {
    const { labels, ...fwd } = input;
    const res = forward(tp, c, ps, fwd, adapter.hooks);
    const flat = tp.reshape(res.logits, [B * T, c.vocabSize]);
    loss = op.crossEntropy(tp, flat, shiftLabels(labels, B, T, 0), 'loss', 0.5).store;
  } else {
    loss = causalLmLoss(tp, c, ps, input, adapter.hooks, { weight: 0.5, headChunkRows: 3 }).loss.store;
  }
  tp.backward();
  const grads = new Map<string, Float64Array>();
  for (const t of ps.trainable()) grads.set(t.name, await ps.readGrad(t.name));
  const out = { loss: (await be.read(loss, 1))[0], grads, parts, embedParts };
  tp.dispose();
  adapter.dispose();
  ps.dispose();
  base.dispose();
  return out;
}

type Step = Awaited<ReturnType<typeof step>>;

function same(got: Step, want: Step, rtol: number, atol: number) {
  expect(Number.isFinite(got.loss)).toBe(true);
  expectClose([got.loss], [want.loss], rtol, atol, 'loss');
  expect([...got.grads.keys()]).toEqual([...want.grads.keys()]);
  let nonzero = 0;
  for (const [name, g] of want.grads) {
    const scale = g.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
    expectClose(got.grads.get(name)!, g, rtol, atol * Math.max(scale, 1e-3), `grad ${name}`);
    if (scale > 0) nonzero++;
  }
  expect(nonzero).toBe(want.grads.size);
}

const MODELS: Array<[string, ModelConfig]> = [
  ['untied Llama-shaped head', TINY_LLAMA],
  ['tied GPT-2 head', GPT2_WIDE],
];
const DTYPES: BaseDtype[] = ['f32', 'bf16', 'nf4'];

describe('frozen embedding and head in row parts: a LoRA step', () => {
  for (const [what, c] of MODELS) {
    for (const dtype of DTYPES) {
      it(`${what}, ${dtype} base: twin split = unsplit (1e-12), chunked head and whole logits`, async () => {
        const be = cpuBackend();
        for (const wholeHead of [false, true]) {
          const whole = await step(be, c, dtype, Number.POSITIVE_INFINITY, wholeHead);
          const split = await step(be, c, dtype, lowLimit(c, dtype), wholeHead);
          expect(whole.parts).toBe(1);
          expect(split.parts).toBeGreaterThanOrEqual(2);
          expect(split.parts).toBeLessThanOrEqual(4);
          expect(split.embedParts).toBe(split.parts);
          same(split, whole, 1e-12, 1e-12);
        }
      });
    }
  }

  for (const [what, c] of MODELS) {
    for (const dtype of ['f32', 'bf16', 'nf4'] as const) {
      it(`${what}, ${dtype} base: GPU split = GPU unsplit (f32 roundings) and = the float64 twin`, async () => {
        const be = gpuBackend(await testGpu());
        const twin = await step(cpuBackend(), c, dtype, Number.POSITIVE_INFINITY, false);
        const whole = await step(be, c, dtype, Number.POSITIVE_INFINITY, false);
        const split = await step(be, c, dtype, lowLimit(c, dtype), false);
        expect(split.parts).toBeGreaterThanOrEqual(2);
        // f32 on both sides: only dH's sum over the vocabulary runs in another order (per part), which moves a
        // gradient by a few f32 roundings through two layers of backward: 5e-6 of each tensor's scale.
        same(split, whole, 1e-6, 5e-6);
        same(split, twin, 1e-4, 1e-4);
        if (dtype === 'f32') {
          const logits = await step(be, c, dtype, lowLimit(c, dtype), true);
          same(logits, twin, 1e-4, 1e-4);
        }
      });
    }
  }

  it('a trained head held in parts is refused by name', async () => {
    const be = cpuBackend();
    const c = TINY_LLAMA;
    const { ps, base } = await loraOnBase(be, c, 'f32', lowLimit(c, 'f32'));
    const head = ps.get(modelTensors(c).head);
    // The same storage claimed trainable: what lmHeadLoss must refuse rather than train a part.
    const tp = new Tape(be, true);
    const h = tp.tensor([2, c.hiddenSize], false, 'h');
    const trained = new Tensor(head.shape, head.store, true, head.name, true);
    trained.grad = be.alloc(head.size, 'gradients', 'dhead');
    expect(() => lmHeadLoss(tp, h, trained, Int32Array.of(1, 2))).toThrow(
      /lm_head\.weight is held in \d parts and cannot be trained/,
    );
    tp.dispose();
    ps.dispose();
    base.dispose();
  });
});

async function greedy<S, I>(be: Backend<S, I>, c: ModelConfig, dtype: BaseDtype, limit: number) {
  const { ps, adapter, base } = await loraOnBase(be, c, dtype, limit);
  const prompts = [[1, c.vocabSize - 1, 5], [c.vocabSize - 2]];
  const logits: number[] = [];
  const res = await generate(be, c, ps as ParamSet<S, I>, prompts, {
    maxNewTokens: 5,
    hooks: adapter.hooks,
    onLogits: (_, l) => logits.push(...l),
  });
  adapter.dispose();
  ps.dispose();
  base.dispose();
  return { tokens: res.rows.map((r) => r.tokens), logits };
}

describe('generation with a head in row parts', () => {
  for (const [what, c] of MODELS) {
    it(`${what}: the same tokens and last-token logits split and unsplit (twin and GPU)`, async () => {
      for (const be of [cpuBackend(), gpuBackend(await testGpu())] as Backend<unknown, unknown>[]) {
        for (const dtype of ['f32', 'nf4'] as const) {
          const whole = await greedy(be, c, dtype, Number.POSITIVE_INFINITY);
          const split = await greedy(be, c, dtype, lowLimit(c, dtype));
          expect(split.tokens).toEqual(whole.tokens);
          expect(split.tokens.flat().length).toBe(10);
          expectClose(split.logits, whole.logits, 1e-6, 1e-6, `${be.kind} ${dtype} logits`);
        }
      }
    });
  }
});

describe('the meter counts the parts as the arena holds them', () => {
  for (const dtype of ['f32', 'bf16', 'int8', 'nf4'] as const) {
    it(`${dtype}: frozen bytes of the split base = meter = estimateWeightBytes; a step's peak where the meter says`, async () => {
      const ctx = await testGpu();
      const c = TINY_LLAMA;
      const limit = lowLimit(c, dtype);
      const be = gpuBackend(ctx);
      const before = ctx.arena.stats().current.frozen;
      const base = new FrozenBase(be, sourceOf(c, dtype), dtype, undefined, { maxBufferBytes: limit });
      const lease = await base.lease(base.names());
      const measured = ctx.arena.stats().current.frozen - before;
      expect(splitOf(lease.get(modelTensors(c).embed))?.parts.length).toBeGreaterThanOrEqual(2);
      const specs = baseSpecsOf(c, dtype);
      expect(frozenBytes(specs, limit)).toBe(measured);
      expect(estimateWeightBytes(c, dtype, limit)).toBe(measured);
      // The parts' alignment makes the split base differ from the whole one: the count is the parts'.
      lease.release();
      expect(ctx.arena.stats().current.frozen).toBe(before);
      base.dispose();
    });
  }

  /** One LoRA step's arena peak on the GPU and the meter's prediction, NF4 base held with `limit`. */
  async function measuredAndPredicted(limit: number) {
    const ctx = await testGpu();
    const c = LLAMA_WIDE;
    const dtype = 'nf4';
    const m = getMethod('lora');
    const plan = planAdapter(m, LORA_Q, c, randomModelParams(c, 11), 3);
    const fplan = frozenTensorPlan(c, dtype);
    const specs = plan.specs.map((s) => {
      const p = fplan.get(s.name);
      return p && !s.trainable ? { ...s, data: null, dtype: p.dtype, layout: p.layout } : s;
    });
    const hooks = (ps: ParamSet<MeterStore, MeterStore>) => new Adapter(m, { ...plan, specs }, c, ps).hooks;
    const predicted = predictTrainingMemory(c, specs, hooks, { B, T }, { maxBufferBytes: limit }).peakTotal;
    const before = ctx.arena.stats().currentTotal;
    ctx.arena.resetPeak();
    const be = gpuBackend(ctx);
    const { ps, adapter, base } = await loraOnBase(be, c, dtype, limit, LORA_Q);
    const opt = new AdamW(ps, { ...ADAMW_DEFAULTS, maxGradNorm: 1 });
    const tp = new Tape(be, true);
    ps.zeroGrads();
    const { ids } = batch(c);
    causalLmLoss(tp, c, ps, { ids, labels: ids, B, T }, adapter.hooks);
    tp.backward();
    opt.update();
    tp.dispose();
    await ctx.sync();
    const measured = ctx.arena.stats().peakTotal - before;
    opt.dispose();
    adapter.dispose();
    ps.dispose();
    base.dispose();
    return { measured, predicted };
  }

  it('a LoRA step on a split NF4 base peaks on the GPU where the meter says, the parts counted exactly', async () => {
    const split = await measuredAndPredicted(lowLimit(LLAMA_WIDE, 'nf4'));
    const whole = await measuredAndPredicted(Number.POSITIVE_INFINITY);
    // The parts' own alignment makes the split base larger: the meter sees exactly what the arena holds.
    expect(split.predicted).toBeGreaterThan(whole.predicted);
    expect(split.measured - whole.measured).toBe(split.predicted - whole.predicted);
    // What the meter never sees is the kernels' brief workspace (reduction partials), the same split or not.
    expect(split.measured).toBeGreaterThanOrEqual(split.predicted);
    expect(split.measured).toBeLessThanOrEqual(split.predicted * 1.01);
  });

  it('plan: a split base counted once in its parts; a linear weight above the limit refused by name', () => {
    const c = LLAMA_WIDE;
    const run = { method: 'lora', options: LORA_Q };
    for (const baseDtype of ['f32', 'nf4'] as const) {
      const limit = lowLimit(c, baseDtype);
      const choice = { ...PLAN_DEFAULTS, batch: B, seqLen: T, baseDtype, maxBufferBytes: limit };
      const plan = planTraining(c, [run, run], choice);
      expect(plan.sharedFrozenBytes).toBe(estimateWeightBytes(c, baseDtype, limit));
      const whole = planTraining(c, [run, run], { ...choice, maxBufferBytes: undefined });
      // The split costs its parts' alignment and the head's part scratch, nothing else.
      expect(plan.predictedPeakBytes).toBeGreaterThanOrEqual(whole.predictedPeakBytes);
      expect(plan.predictedPeakBytes - whole.predictedPeakBytes).toBeLessThan(4 * B * T * c.vocabSize + 1024);
    }
    // Under the MLP's 1536 bytes (above q_proj's 1024): the MLP weights would need parts, which only the tables' readers take.
    const tight = { ...PLAN_DEFAULTS, batch: B, seqLen: T, maxBufferBytes: 1100 };
    expect(() => planTraining(c, [run], tight)).toThrow(
      /mlp\.(gate|up|down)_proj\.weight \[\d+,\d+\] needs 1536 bytes .*only the embedding and the LM head are read in row parts/,
    );
  });

  it('a trained tensor above the limit is refused by the plan, naming it', () => {
    const c = TINY_LLAMA;
    const m = getMethod('full');
    const plan = planAdapter(m, {}, c, randomModelParams(c, 11), 3);
    expect(() =>
      predictTrainingMemory(
        c,
        plan.specs,
        (ps) => new Adapter(m, plan, c, ps).hooks,
        { B, T },
        {
          maxBufferBytes: lowLimit(c, 'f32'),
        },
      ),
    ).toThrow(
      /model\.embed_tokens\.weight \[41,16\] needs 2624 bytes in one f32 buffer.*; it is trained, and a trained tensor cannot be split/,
    );
  });

  it('trained tensors that each fit but not together in the flat buffer are refused, by the plan and the set', () => {
    const c = TINY_LLAMA;
    const m = getMethod('full');
    const plan = planAdapter(m, {}, c, randomModelParams(c, 11), 3);
    const sizes = plan.specs.filter((s) => s.trainable).map((s) => s.shape.reduce((a, b) => a * b, 1) * 4);
    // Above every trained tensor, below their sum.
    const limit = Math.max(...sizes) + 4;
    const total = sizes.reduce((a, b) => a + b, 0);
    expect(total).toBeGreaterThan(limit);
    const flatMessage = new RegExp(
      `${(total / 4).toLocaleString('en')} trainable parameters are held in one f32 buffer .* at most`,
    );
    expect(() =>
      predictTrainingMemory(
        c,
        plan.specs,
        (ps) => new Adapter(m, plan, c, ps).hooks,
        { B, T },
        { maxBufferBytes: limit },
      ),
    ).toThrow(flatMessage);
    // The run's own set says the same before allocating anything (the backend states its limit).
    let allocated = 0;
    const cpu = cpuBackend();
    const limited: Backend<Float64Array, Int32Array> = {
      ...cpu,
      maxBufferBytes: limit,
      alloc: (n, cat, label) => {
        allocated++;
        return cpu.alloc(n, cat, label);
      },
    };
    expect(() => new ParamSet(limited, plan.specs)).toThrow(flatMessage);
    expect(allocated).toBe(0);
  });
});
