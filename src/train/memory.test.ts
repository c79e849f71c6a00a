// The memory prediction (a step on the metering backend) against the arena's measured peak of the same
// step on the GPU: within 10% in total and per category, for full fine-tuning and LoRA on both families; a packed
// step (StepShape.pack) counts its position and segment ids exactly and stays within 0.5% of the arena.
import { describe, expect, it } from 'vitest';
import { testGpu } from '../../test/helpers/gpu';
import type { ModelConfig } from '../formats/model-config';
import { alignBytes, MEMORY_CATEGORIES } from '../gpu/arena';
import { randomModelParams } from '../model/init';
import { causalLmLoss } from '../model/loss';
import { TINY_GPT2, TINY_LLAMA } from '../model/testing';
import { Adapter, planAdapter } from '../peft/adapter';
import { getMethod, listMethods } from '../peft/registry';
import { gpuBackend } from '../tensor/gpu-backend';
import type { MeterStore } from '../tensor/meter-backend';
import { ParamSet } from '../tensor/params';
import { Tape } from '../tensor/tape';
import { predictTrainingMemory } from './memory';
import { ADAMW_DEFAULTS, AdamW } from './optimizer';

async function measured(c: ModelConfig, method: string, B: number, T: number, pack = false) {
  const ctx = await testGpu();
  const be = gpuBackend(ctx);
  const m = getMethod(method);
  const plan = planAdapter(m, m.testOptions(c, false), c, randomModelParams(c, 1), 1);
  const hooks = (ps: ParamSet<MeterStore, MeterStore>) => new Adapter(m, plan, c, ps).hooks;
  const predicted = predictTrainingMemory(c, plan.specs, hooks, { B, T, pack });
  const unpacked = pack ? predictTrainingMemory(c, plan.specs, hooks, { B, T }) : predicted;
  const before = ctx.arena.stats().currentTotal;
  ctx.arena.resetPeak();
  const ps = new ParamSet(be, plan.specs);
  const adapter = new Adapter(m, plan, c, ps);
  const opt = new AdamW(ps, { ...ADAMW_DEFAULTS, weightDecay: 0, maxGradNorm: 1 });
  const ids = Int32Array.from({ length: B * T }, (_, i) => i % c.vocabSize);
  // Packed: two examples per row, positions restarting and segment ids 1, 2.
  const half = Math.ceil(T / 2);
  const packed = pack
    ? {
        positions: Int32Array.from(ids, (_, i) => (i % T) % half),
        segments: Int32Array.from(ids, (_, i) => 1 + Math.floor((i % T) / half)),
      }
    : {};
  const tp = new Tape(be, true);
  ps.zeroGrads();
  causalLmLoss(tp, c, ps, { ids, labels: ids, B, T, ...packed }, adapter.hooks);
  tp.backward();
  opt.update();
  tp.dispose();
  await ctx.sync();
  const s = ctx.arena.stats();
  opt.dispose();
  adapter.dispose();
  ps.dispose();
  return { predicted, unpacked, measuredPeak: s.peakTotal - before, measuredByCat: s.peak };
}

describe('memory prediction', () => {
  for (const c of [TINY_GPT2, TINY_LLAMA]) {
    const methods = c === TINY_LLAMA ? listMethods().map((m) => m.info.name) : ['full', 'lora'];
    for (const method of methods) {
      it(`${method} on ${c.modelType}: predicted peak within 10% of the measured one`, async () => {
        const r = await measured(c, method, 2, 16);
        expect(Math.abs(r.predicted.peakTotal - r.measuredPeak) / r.measuredPeak).toBeLessThan(0.1);
        // Categories that hold what training adds are predicted exactly.
        for (const cat of ['trainable', 'gradients', 'frozen'] as const) {
          expect(r.predicted.peak[cat], cat).toBe(r.measuredByCat[cat]);
        }
        for (const cat of MEMORY_CATEGORIES) expect(r.predicted.peak[cat], cat).toBeGreaterThanOrEqual(0);
      });
    }
  }
});

describe('memory prediction of a packed step', () => {
  for (const c of [TINY_GPT2, TINY_LLAMA])
    for (const method of c === TINY_LLAMA ? ['lora', 'prefix'] : ['lora']) {
      it(`${method} on ${c.modelType}: counts the id buffers and matches the arena`, async () => {
        const B = 2;
        const T = 12;
        const r = await measured(c, method, B, T, true);
        // Segment ids on both families; Llama also uploads positions, unless prefix tuning's offset already made
        // it (GPT-2 always embeds them).
        const ids = alignBytes(B * T * 4);
        const positionsToo = c.family === 'llama' && method !== 'prefix';
        expect(r.predicted.peakTotal - r.unpacked.peakTotal).toBe(positionsToo ? 2 * ids : ids);
        expect(Math.abs(r.predicted.peakTotal - r.measuredPeak) / r.measuredPeak).toBeLessThan(0.005);
      });
    }
});
