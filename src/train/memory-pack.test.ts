// The memory prediction of a packed step (StepShape.pack): it counts the segment ids (and on Llama the position
// ids, which an unpacked step does not upload) exactly, and its peak equals what the GPU arena measures for the
// same packed step within 0.5%, for LoRA and prefix tuning on both families.
import { describe, expect, it } from 'vitest';
import { testGpu } from '../../test/helpers/gpu';
import type { ModelConfig } from '../formats/model-config';
import { alignBytes } from '../gpu/arena';
import { randomModelParams } from '../model/init';
import { TINY_GPT2, TINY_LLAMA } from '../model/testing';
import { forward, shiftLabels } from '../model/transformer';
import { Adapter, planAdapter } from '../peft/adapter';
import { getMethod } from '../peft/registry';
import { gpuBackend } from '../tensor/gpu-backend';
import type { MeterStore } from '../tensor/meter-backend';
import * as op from '../tensor/ops';
import { ParamSet } from '../tensor/params';
import { Tape } from '../tensor/tape';
import { predictTrainingMemory } from './memory';
import { AdamW } from './optimizer';

const B = 2;
const T = 12;

function plan(c: ModelConfig, method: string) {
  const m = getMethod(method);
  return { m, plan: planAdapter(m, m.testOptions(c, false), c, randomModelParams(c, 1), 1) };
}

/** The arena's peak over one packed training step on the GPU (two examples per row). */
async function measuredPacked(c: ModelConfig, method: string): Promise<number> {
  const ctx = await testGpu();
  const be = gpuBackend(ctx);
  const { m, plan: p } = plan(c, method);
  await ctx.sync();
  const before = ctx.arena.stats().currentTotal;
  ctx.arena.resetPeak();
  const ps = new ParamSet(be, p.specs);
  const adapter = new Adapter(m, p, c, ps);
  const opt = new AdamW(ps, {
    lr: 1e-3,
    beta1: 0.9,
    beta2: 0.999,
    eps: 1e-8,
    weightDecay: 0,
    maxGradNorm: 1,
  });
  const ids = Int32Array.from({ length: B * T }, (_, i) => i % c.vocabSize);
  const half = T / 2;
  const positions = Int32Array.from(ids, (_, i) => (i % T) % half);
  const segments = Int32Array.from(ids, (_, i) => 1 + Math.floor((i % T) / half));
  const tp = new Tape(be, true);
  ps.zeroGrads();
  const { logits, virtual } = forward(tp, c, ps, { ids, B, T, positions, segments }, adapter.hooks);
  const flat = tp.reshape(logits, [B * (T + virtual), c.vocabSize]);
  op.crossEntropy(tp, flat, shiftLabels(ids, B, T, virtual), 'loss');
  tp.backward();
  opt.update();
  tp.dispose();
  await ctx.sync();
  const peak = ctx.arena.stats().peakTotal - before;
  opt.dispose();
  adapter.dispose();
  ps.dispose();
  return peak;
}

describe('memory prediction of a packed step', () => {
  for (const c of [TINY_GPT2, TINY_LLAMA])
    for (const method of ['lora', 'prefix']) {
      it(`${method} on ${c.family}: counts the id buffers and matches the arena`, async () => {
        const { m, plan: p } = plan(c, method);
        const hooks = (ps: ParamSet<MeterStore, MeterStore>) => new Adapter(m, p, c, ps).hooks;
        const plain = predictTrainingMemory(c, p.specs, hooks, { B, T });
        const packed = predictTrainingMemory(c, p.specs, hooks, { B, T, pack: true });
        // Segment ids on both families; Llama also uploads positions, unless prefix tuning's offset already made
        // it (GPT-2 always embeds them).
        const ids = alignBytes(B * T * 4);
        const positionsToo = c.family === 'llama' && method !== 'prefix';
        expect(packed.peakTotal - plain.peakTotal).toBe(positionsToo ? 2 * ids : ids);
        const got = await measuredPacked(c, method);
        expect(Math.abs(packed.peakTotal - got) / got).toBeLessThan(0.005);
      });
    }
});
