// The plan from config.json alone (plan.ts): a base dtype's frozen bytes are the stored bytes of each tensor
// as the base holds it (estimateWeightBytes, written apart from the meter); runs side by side hold the base
// once; suggestions come only over the budget and each fits it; a method that trains base tensors leases
// none of them, so full fine-tuning and LoRA compare at the same shapes.
import { describe, expect, it } from 'vitest';
import { estimateWeightBytes, expectedTensorShapes, parseModelConfig } from '../formats/model-config';
import { randomModelParams } from '../model/init';
import { TINY_GPT2, TINY_LLAMA } from '../model/testing';
import { Adapter, planAdapter } from '../peft/adapter';
import { getMethod } from '../peft/registry';
import type { MeterStore } from '../tensor/meter-backend';
import type { ParamSet } from '../tensor/params';
import { predictTrainingMemory } from './memory';
import {
  PLAN_DEFAULTS,
  type PlanChoice,
  parseBytes,
  planJson,
  planTraining,
  predictRun,
  suggestFits,
} from './plan';

/** Deep enough that the step, not the weights, dominates; wide enough that formats differ by a lot. */
const MID = parseModelConfig({
  model_type: 'llama',
  vocab_size: 512,
  hidden_size: 64,
  intermediate_size: 128,
  num_hidden_layers: 6,
  num_attention_heads: 4,
  num_key_value_heads: 2,
  max_position_embeddings: 256,
  tie_word_embeddings: true,
});

const choice = (over: Partial<PlanChoice> = {}): PlanChoice => ({
  ...PLAN_DEFAULTS,
  batch: 4,
  seqLen: 32,
  ...over,
});

describe('plan: frozen base', () => {
  for (const dtype of ['f32', 'bf16', 'int8', 'nf4'] as const) {
    it(`a ${dtype} base: the shared frozen bytes are the base's stored bytes`, () => {
      const p = planTraining(MID, [{ method: 'lora', options: {} }], choice({ baseDtype: dtype }));
      expect(p.sharedFrozenBytes).toBe(estimateWeightBytes(MID, dtype));
      expect(p.byCategory.frozen).toBe(p.sharedFrozenBytes);
    });
  }

  it('a 4-bit base holds under a fifth of the f32 one', () => {
    const f32 = planTraining(MID, [{ method: 'lora', options: {} }], choice());
    const nf4 = planTraining(MID, [{ method: 'lora', options: {} }], choice({ baseDtype: 'nf4' }));
    expect(nf4.sharedFrozenBytes).toBeLessThan(f32.sharedFrozenBytes / 5);
    // Only the frozen base changes: the step and the run's own state are the same.
    expect(nf4.runs[0].stepBytes).toBe(f32.runs[0].stepBytes);
    expect(nf4.runs[0].persistentBytes).toBe(f32.runs[0].persistentBytes);
  });

  it('full fine-tuning leases no base tensor (it trains its own f32 copy), whatever the base dtype', () => {
    const full = predictRun(TINY_GPT2, { method: 'full', options: {} }, choice({ baseDtype: 'nf4' }));
    expect(full.leased).toEqual([]);
    expect(full.byCategory.frozen).toBe(0);
    // Trainable copy, gradients and two AdamW moments: four flat f32 buffers, each tensor padded to 64 values;
    // and the clip's two scalars (the squared norm, the factor), 16 bytes each.
    const padded = [...expectedTensorShapes(TINY_GPT2).values()]
      .map((s) => Math.ceil(s.reduce((a, b) => a * b, 1) / 64) * 64)
      .reduce((a, b) => a + b, 0);
    expect(full.persistentBytes).toBe(4 * 4 * padded + 2 * 16);
  });
});

describe('plan: runs side by side', () => {
  it('three methods on one base: the base once, Σ persistent, the largest step', () => {
    const runs = ['lora', 'ia3', 'prompt'].map((method) => ({ method, options: {} }));
    const p = planTraining(MID, runs, choice({ baseDtype: 'bf16' }));
    const alone = runs.map((r) => planTraining(MID, [r], choice({ baseDtype: 'bf16' })));
    const base = estimateWeightBytes(MID, 'bf16');
    expect(p.sharedFrozenBytes).toBe(base);
    for (const a of alone) expect(a.sharedFrozenBytes).toBe(base);
    const persistent = p.runs.reduce((n, r) => n + r.persistentBytes, 0);
    const step = Math.max(...p.runs.map((r) => r.stepBytes));
    expect(p.predictedPeakBytes).toBe(base + persistent + step);
    // Each run's own figure is itself alone on the base.
    expect(p.runs.map((r) => r.predictedPeakBytes)).toEqual(alone.map((a) => a.predictedPeakBytes));
    // Counting the base three times would have cost two more copies.
    const separate = alone.reduce((n, a) => n + a.predictedPeakBytes, 0);
    expect(separate - p.predictedPeakBytes).toBeGreaterThanOrEqual(2 * base);
    // The categories add up to the peak.
    expect(Object.values(p.byCategory).reduce((a, b) => a + b, 0)).toBe(p.predictedPeakBytes);
  });
});

describe('plan: activation checkpointing', () => {
  it("the run's step is the engine's checkpointed step on the meter, and smaller than the plain one", () => {
    const run = { method: 'lora', options: {} };
    const ck = predictRun(MID, run, choice({ checkpointing: true }));
    const plain = predictRun(MID, run, choice());
    // The same step called directly, with the runner's option: what the plan reports is the engine's figure.
    const m = getMethod('lora');
    const p = planAdapter(m, {}, MID, randomModelParams(MID, 1), 0);
    const hooks = (ps: ParamSet<MeterStore, MeterStore>) => new Adapter(m, p, MID, ps).hooks;
    const direct = predictTrainingMemory(MID, p.specs, hooks, { B: 4, T: 32 }, { checkpointing: true });
    expect(ck.predictedPeakBytes).toBe(direct.peakTotal);
    expect(ck.persistentBytes).toBe(plain.persistentBytes);
    // Six blocks keep their inputs only: the step holds well under half the plain one's activations.
    expect(ck.stepBytes).toBeLessThan(plain.stepBytes / 2);
  });
});

describe('plan: suggestions', () => {
  const runs = [{ method: 'lora', options: {} }];

  it('none while the choice fits', () => {
    const p = planTraining(TINY_LLAMA, runs, choice());
    expect(suggestFits(TINY_LLAMA, runs, p, p.predictedPeakBytes)).toEqual([]);
    const line = planJson(p, [], p.predictedPeakBytes);
    expect(line.fits).toBe(true);
    expect(line).not.toHaveProperty('suggestions');
  });

  it('over the budget: micro-batches, a smaller base, each below the budget with its own peak', () => {
    const p = planTraining(MID, runs, choice({ batch: 8 }));
    const half = planTraining(MID, runs, choice({ batch: 4 }));
    // Between batch 4 and batch 8: micro-batches of 4 (× 2) fit, nothing at batch 8 with an f32 base does.
    const budget = Math.floor((p.predictedPeakBytes + half.predictedPeakBytes) / 2);
    const s = suggestFits(MID, runs, p, budget);
    expect(s.length).toBeGreaterThan(0);
    for (const x of s) {
      expect(x.predictedPeakBytes).toBeLessThanOrEqual(budget);
      expect(x.predictedPeakBytes).toBe(planTraining(MID, runs, x.choice).predictedPeakBytes);
      // The rows per optimizer step stay the chosen ones.
      expect(x.choice.batch * x.choice.gradAccum).toBe(8);
    }
    const micro = s.find((x) => x.change === 'batch 4 × 2 micro-batches');
    expect(micro?.predictedPeakBytes).toBe(half.predictedPeakBytes);
  });

  it('nothing fits an impossible budget: no suggestion', () => {
    const p = planTraining(MID, runs, choice());
    expect(suggestFits(MID, runs, p, 1000)).toEqual([]);
    // Said as an empty list, so the page can say that nothing tried fits.
    expect(planJson(p, [], 1000)).toMatchObject({ fits: false, suggestions: [] });
  });
});

describe('parseBytes', () => {
  it('reads binary and decimal units', () => {
    expect(parseBytes('4GiB')).toBe(4 * 2 ** 30);
    expect(parseBytes('1.5 GiB')).toBe(1.5 * 2 ** 30);
    expect(parseBytes('2GB')).toBe(2e9);
    expect(parseBytes('123')).toBe(123);
    expect(() => parseBytes('4 gigs')).toThrow('is not a size');
  });
});
