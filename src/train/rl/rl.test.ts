// Whole-model RL losses on fixed rollouts over a tiny Qwen2 with LoRA: PPO (policy + value), GRPO and DPO
// losses and gradients on the GPU equal the CPU float64 twin's; the twin's PPO and DPO gradients equal
// central differences; a reward model's Bradley–Terry step; and the arena holds one copy of the base weights
// through a whole PEFT PPO step (rollout with the KV cache, reference pass, epochs), with a value head.
import { describe, expect, it } from 'vitest';
import { testGpu } from '../../../test/helpers/gpu';
import { expectClose } from '../../../test/helpers/numeric';
import { randomModelParams } from '../../model/init';
import { TINY_LLAMA } from '../../model/testing';
import type { Backend } from '../../tensor/backend';
import { cpuBackend } from '../../tensor/cpu-backend';
import { gpuBackend } from '../../tensor/gpu-backend';
import { Tape } from '../../tensor/tape';
import { sentimentReward } from '../rewards/builtin';
import { dpoLoss } from './dpo';
import { grpoLossData } from './grpo';
import { groupAdvantages } from './math';
import { batchSeqs, type HeadKind, RlModel, type Seq } from './policy';
import { PPO_DEFAULTS, PpoRunner, ppoExperience } from './ppo';
import { rewardLoss } from './reward';

const C = TINY_LLAMA;
const base = randomModelParams(C, 3, () => false, 0.3);
// LoRA with B ≠ 0 (init_lora_weights=false) so A gets gradient too.
const LORA = {
  r: 2,
  lora_alpha: 4,
  target_modules: ['q_proj', 'v_proj', 'up_proj'],
  init_lora_weights: false,
};

function model<S, I>(be: Backend<S, I>, head: HeadKind) {
  return RlModel.create(be, C, base, { method: 'lora', options: LORA, seed: 1, lr: 1e-2, head });
}

const SEQS: Seq[] = [
  { prompt: [1, 5, 9], completion: [3, 7, 2, 11] },
  { prompt: [4, 2], completion: [8, 8] },
  { prompt: [6, 1, 12, 30], completion: [19] },
  { prompt: [2], completion: [33, 21, 5] },
];

/** A fixed PPO experience from the model's own (CPU twin) numbers, with made-up scores and a shifted reference. */
async function experience() {
  const m = model(cpuBackend(), 'value');
  const b = batchSeqs(SEQS, 0);
  const e = await m.evaluate(b);
  m.dispose();
  const ref = e.logp.map((l) => l.map((x, t) => x + 0.1 * Math.sin(t + 1)));
  // Old log-probs slightly off the current ones, so ratios differ from 1 and some clip.
  const old = e.logp.map((l) => l.map((x, t) => x + 0.15 * Math.cos(3 * t + l.length)));
  return ppoExperience(SEQS, [1, -0.5, 0.25, 2], old, ref, e.values!, { ...PPO_DEFAULTS, klCoef: 0.1 });
}

async function ppoGrads<S, I>(m: RlModel<S, I>, exp: Awaited<ReturnType<typeof experience>>) {
  const r = new PpoRunner(
    { model: m, decode: () => '', eosIds: [], padId: 0, reward: sentimentReward },
    { ids: [[1]], texts: [''] },
    {
      ...PPO_DEFAULTS,
      steps: 1,
      lr: 1e-2,
      batch: 4,
      miniBatch: 4,
    },
  );
  const tp = new Tape(m.be, true);
  m.ps.zeroGrads();
  const { pstats, vstats } = r.minibatchLoss(tp, exp, [0, 1, 2, 3]);
  tp.backward();
  const p = await m.be.read(pstats, 6);
  const v = await m.be.read(vstats, 3);
  tp.dispose();
  const grads = new Map<string, Float64Array>();
  for (const t of m.ps.trainable()) grads.set(t.name, await m.ps.readGrad(t.name));
  return { loss: p[0] + v[0], p, v, grads };
}

describe('RL losses on a tiny model: GPU = CPU twin = central differences', () => {
  it('PPO policy + value loss and gradients', async () => {
    const exp = await experience();
    const cpu = model(cpuBackend(), 'value');
    const ctx = await testGpu();
    const gpu = model(gpuBackend(ctx), 'value');
    const a = await ppoGrads(cpu, exp);
    const g = await ppoGrads(gpu, exp);
    expect(a.p[3]).toBeGreaterThan(0); // some tokens clipped: both branches are exercised
    expectClose(g.p, a.p, 2e-4, 2e-5, 'policy stats');
    expectClose(g.v, a.v, 2e-4, 2e-5, 'value stats');
    for (const [name, ga] of a.grads) expectClose(g.grads.get(name)!, ga, 2e-3, 2e-5, name);
    // Central differences on the twin through one LoRA tensor and the value head.
    for (const name of [
      'base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight',
      'v_head.summary.weight',
    ]) {
      const x = await cpu.ps.read(name);
      const cd = centralDiffAsync(cpu, name, x, async () => (await ppoGrads(cpu, exp)).loss);
      const { idx, grad } = await cd;
      const an = a.grads.get(name)!;
      for (const [j, i] of idx.entries()) expect(an[i]).toBeCloseTo(grad[j], 6);
    }
    cpu.dispose();
    gpu.dispose();
  });

  it('GRPO (β = 0.04) and DPO losses and gradients', async () => {
    const ctx = await testGpu();
    const run = async <S, I>(m: RlModel<S, I>) => {
      const b = batchSeqs(SEQS, 0);
      const e = await m.evaluate(b);
      const ref = e.logp.map((l) => l.map((x, t) => x - 0.2 * Math.sin(t)));
      const data = grpoLossData(b, e.logp, ref, groupAdvantages([1, 0, 0.5, 0.7], 2));
      const tp = new Tape(m.be, true);
      m.ps.zeroGrads();
      const { policyLoss } = await import('../../tensor/ops-rl');
      const st = policyLoss(
        tp,
        m.score(tp, b).logp,
        data,
        { clipLow: 0.2, clipHigh: 0.2, beta: 0.04 },
        'grpo',
      );
      tp.backward();
      const grpo = await m.be.read(st, 6);
      tp.dispose();
      const gGrpo = await m.ps.readGrad('base_model.model.model.layers.1.mlp.up_proj.lora_B.weight');
      // DPO: pairs (0,1), (2,3) against reference sums (the base model: adapter disabled).
      await m.adapter.setEnabled(false);
      const rt = new Tape(m.be, false);
      const rb = batchSeqs(SEQS, 0);
      const refSums = m.sequenceLogp(rt, rb, m.score(rt, rb).logp).store;
      await m.adapter.setEnabled(true);
      const tp2 = new Tape(m.be, true);
      m.ps.zeroGrads();
      const dst = dpoLoss(m, tp2, SEQS, 0, refSums, 0.1);
      tp2.backward();
      const dpo = await m.be.read(dst, 5);
      tp2.dispose();
      rt.dispose();
      const gDpo = await m.ps.readGrad('base_model.model.model.layers.0.self_attn.v_proj.lora_A.weight');
      return { grpo, gGrpo, dpo, gDpo };
    };
    const cpu = model(cpuBackend(), null);
    const gpu = model(gpuBackend(ctx), null);
    const a = await run(cpu);
    const g = await run(gpu);
    expect(a.grpo[2]).toBeGreaterThan(0);
    expect(a.dpo[0]).not.toBeCloseTo(Math.LN2, 3); // the adapter moved the policy off the reference
    expectClose(g.grpo, a.grpo, 2e-4, 2e-5, 'grpo stats');
    expectClose(g.gGrpo, a.gGrpo, 2e-3, 2e-5, 'grpo grad');
    expectClose(g.dpo, a.dpo, 2e-4, 2e-5, 'dpo stats');
    expectClose(g.gDpo, a.gDpo, 2e-3, 2e-5, 'dpo grad');
    cpu.dispose();
    gpu.dispose();
  });

  it('reward model: Bradley–Terry loss and accuracy; its gradient on the twin by central differences', async () => {
    const m = model(cpuBackend(), 'score');
    const lossAt = async () => {
      const tp = new Tape(m.be, true);
      m.ps.zeroGrads();
      const st = rewardLoss(m, tp, SEQS, 0);
      tp.backward();
      const s = await m.be.read(st, 5);
      tp.dispose();
      return s;
    };
    const s = await lossAt();
    expect(s[1] === 0 || s[1] === 0.5 || s[1] === 1).toBe(true);
    const an = await m.ps.readGrad('score.weight');
    const { idx, grad } = await centralDiffAsync(
      m,
      'score.weight',
      await m.ps.read('score.weight'),
      async () => (await lossAt())[0],
    );
    for (const [j, i] of idx.entries()) expect(an[i]).toBeCloseTo(grad[j], 7);
    m.dispose();
  });
});

/** Central differences of an async loss over a parameter's entries (a few of them). */
async function centralDiffAsync<S, I>(
  m: RlModel<S, I>,
  name: string,
  x0: Float64Array,
  loss: () => Promise<number>,
) {
  const eps = 1e-5;
  const idx = [0, 3, 7, Math.floor(x0.length / 2), x0.length - 1];
  const grad: number[] = [];
  for (const i of idx) {
    const x = Float64Array.from(x0);
    x[i] = x0[i] + eps;
    m.ps.write(name, x);
    const up = await loss();
    x[i] = x0[i] - eps;
    m.ps.write(name, x);
    const dn = await loss();
    grad.push((up - dn) / (2 * eps));
  }
  m.ps.write(name, x0);
  return { idx, grad };
}

describe('PEFT PPO memory', () => {
  it('one copy of the base weights in the arena through a whole PPO step', async () => {
    const ctx = await testGpu();
    const frozen0 = ctx.arena.stats().current.frozen;
    const m = model(gpuBackend(ctx), 'value');
    const baseBytes = base.reduce((a, s) => a + (s.data?.length ?? 0) * 4, 0);
    expect(ctx.arena.stats().current.frozen - frozen0).toBe(baseBytes);
    const r = new PpoRunner(
      {
        model: m,
        decode: (ids) => ids.map((i) => (i % 2 ? ' good' : ' bad')).join(''),
        eosIds: [],
        padId: 0,
        reward: sentimentReward,
      },
      { ids: [[1, 2], [3]], texts: ['a', 'b'] },
      { ...PPO_DEFAULTS, steps: 1, lr: 1e-2, batch: 2, miniBatch: 1, epochs: 2, maxNewTokens: 4 },
    );
    ctx.arena.resetPeak();
    const met = await r.step();
    expect(met.response_len).toBe(4);
    for (const k of ['reward_mean', 'kl', 'entropy', 'clipfrac', 'value_loss'] as const)
      expect(Number.isFinite(met[k])).toBe(true);
    // Peak frozen bytes: still one copy (the reference pass disabled the adapter instead of copying weights).
    expect(ctx.arena.stats().atPeak.frozen - frozen0).toBeLessThanOrEqual(baseBytes);
    expect(ctx.arena.stats().current.frozen - frozen0).toBe(baseBytes);
    r.dispose();
  });
});
