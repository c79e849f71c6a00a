// Memory prediction for an RL step: with the RL primitives on the shared Backend, a PPO optimisation step
// (model + LoRA + value head created, one minibatch's policy and value losses, backward, AdamW update) runs
// on the metering backend unchanged, and its predicted peak is within 10% of the arena's measured peak for
// the same step on the GPU (as src/train/memory.test.ts checks for supervised steps).
import { describe, expect, it } from 'vitest';
import { testGpu } from '../../../test/helpers/gpu';
import { randomModelParams } from '../../model/init';
import { TINY_LLAMA } from '../../model/testing';
import type { Backend } from '../../tensor/backend';
import { gpuBackend } from '../../tensor/gpu-backend';
import { meterBackend } from '../../tensor/meter-backend';
import { Tape } from '../../tensor/tape';
import { sentimentReward } from '../rewards/builtin';
import { RlModel, type Seq } from './policy';
import { PPO_DEFAULTS, PpoRunner, ppoExperience } from './ppo';

const C = TINY_LLAMA;
const base = randomModelParams(C, 3, () => false, 0.3);
const LORA = { r: 2, lora_alpha: 4, target_modules: ['q_proj', 'v_proj', 'up_proj'] };
const SEQS: Seq[] = [
  { prompt: [1, 5, 9], completion: [3, 7, 2, 11] },
  { prompt: [4, 2], completion: [8, 8] },
  { prompt: [6, 1, 12, 30], completion: [19] },
  { prompt: [2], completion: [33, 21, 5] },
];
// A fixed rollout's numbers (no sampling: the meter computes nothing, so a step must not depend on reads).
const wave = (n: number, f: number) =>
  SEQS.map((s) => Float64Array.from(s.completion, (_, t) => n * Math.sin(f * t + 1)));
const EXP = ppoExperience(SEQS, [1, -0.5, 0.25, 2], wave(-1, 1), wave(-1.1, 2), wave(0.3, 3), {
  ...PPO_DEFAULTS,
  klCoef: 0.1,
});

/** Creates the policy on `be` and runs one PPO minibatch update over all four sequences. */
function ppoStep<S, I>(be: Backend<S, I>): RlModel<S, I> {
  const m = RlModel.create(be, C, base, { method: 'lora', options: LORA, seed: 1, lr: 1e-2, head: 'value' });
  const r = new PpoRunner(
    { model: m, decode: () => '', eosIds: [], padId: 0, reward: sentimentReward },
    { ids: [[1]], texts: [''] },
    { ...PPO_DEFAULTS, steps: 1, lr: 1e-2, batch: 4, miniBatch: 4 },
  );
  const tp = new Tape(be, true);
  m.ps.zeroGrads();
  r.minibatchLoss(tp, EXP, [0, 1, 2, 3]);
  tp.backward();
  m.opt.update();
  tp.dispose();
  return m;
}

describe('RL memory prediction', () => {
  it('a PPO step on the meter predicts the arena peak within 10%', async () => {
    const meter = meterBackend();
    ppoStep(meter);
    const predicted = meter.stats();

    const ctx = await testGpu();
    const before = ctx.arena.stats().currentTotal;
    ctx.arena.resetPeak();
    const m = ppoStep(gpuBackend(ctx));
    await ctx.sync();
    const s = ctx.arena.stats();
    m.dispose();
    const measuredPeak = s.peakTotal - before;
    expect(Math.abs(predicted.peakTotal - measuredPeak) / measuredPeak).toBeLessThan(0.1);
    // What the model and training hold is predicted exactly; the step's activations are seen (the RL ops ran).
    for (const cat of ['trainable', 'gradients', 'frozen', 'optimizer'] as const) {
      expect(predicted.peak[cat], cat).toBe(s.peak[cat]);
    }
    expect(predicted.peak.activations).toBeGreaterThan(0);
  });
});
