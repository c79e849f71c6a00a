// Gradient accumulation in every RL algorithm, on the CPU float64 twin with a tiny Llama + LoRA: one update
// over a batch in k = 2 micro-batches equals the same update in one (k = 1): the accumulated gradients and
// the parameters after the optimizer step agree to float64 rounding, and so do the logged figures. The
// batches have completions of different lengths, so a micro-batch normalised by its own tokens (instead of
// the whole batch's) or left unweighted (no 1/k) fails; the gradients are compared because AdamW's first
// step hardly sees a uniform scale. And k = 1 is bit-identical to the update as written before accumulation
// existed (spelled out here from the runners' exported pieces).
import { describe, expect, it } from 'vitest';
import { expectClose } from '../../../test/helpers/numeric';
import type { TokenizedPair } from '../../data/tokenize';
import { randomModelParams } from '../../model/init';
import { TINY_LLAMA } from '../../model/testing';
import { cpuBackend } from '../../tensor/cpu-backend';
import { policyLoss } from '../../tensor/ops-rl';
import { Tape } from '../../tensor/tape';
import type { RewardFn } from '../rewards/builtin';
import { type PromptSet, type RlEnv, rolloutStep } from './common';
import { DPO_DEFAULTS, DpoRunner, dpoLoss, pairSeqs } from './dpo';
import { GRPO_DEFAULTS, GrpoRunner, grpoLossData } from './grpo';
import { groupAdvantages } from './math';
import { batchSeqs, type HeadKind, RlModel, type Seq, withoutVirtual } from './policy';
import { PPO_DEFAULTS, PpoRunner, ppoExperience } from './ppo';
import { REWARD_DEFAULTS, RewardRunner, rewardLoss } from './reward';
import { RS_DEFAULTS, RsRunner } from './rs';

type Twin = RlModel<Float64Array, Int32Array>;

const C = TINY_LLAMA;
const base = randomModelParams(C, 3, () => false, 0.3);
const LORA = { r: 2, lora_alpha: 4, target_modules: ['q_proj', 'v_proj'], init_lora_weights: false };
const be = cpuBackend();
const twin = (head: HeadKind): Twin =>
  RlModel.create(be, C, base, { method: 'lora', options: LORA, seed: 1, lr: 1e-2, head });

/** Completions of lengths 4, 2, 1, 3: the halves [0, 1] and [2, 3] hold 6 and 4 tokens. */
const SEQS: Seq[] = [
  { prompt: [1, 5, 9], completion: [3, 7, 2, 11] },
  { prompt: [4, 2], completion: [8, 8] },
  { prompt: [6, 1, 12, 30], completion: [19] },
  { prompt: [2], completion: [33, 21, 5] },
];

const pair = (prompt: number[], chosen: number[], rejected: number[]): TokenizedPair => ({
  promptIds: prompt,
  chosen: { inputIds: [...prompt, ...chosen], labels: [...prompt.map(() => -100), ...chosen] },
  rejected: { inputIds: [...prompt, ...rejected], labels: [...prompt.map(() => -100), ...rejected] },
  source: { file: 'test', row: 0 },
});
const PAIRS = [
  pair([1, 5], [3, 7], [2]),
  pair([4], [8, 8, 1], [9, 9]),
  pair([6, 1, 12], [19], [20, 4, 4]),
  pair([2], [33, 21], [5]),
];

const PROMPTS: PromptSet = { ids: [[1, 5, 9], [4, 2], [7]], texts: ['a', 'b', 'c'] };
/** Completions that decode to more characters score higher: samples get different rewards. */
const lengthReward: RewardFn = async (items) => items.map((x) => x.completion.length);
const env = (m: Twin): RlEnv<Float64Array, Int32Array> => ({
  model: m,
  decode: (ids) => ids.join(' '),
  eosIds: [],
  padId: 0,
  reward: lengthReward,
});

interface State {
  params: Map<string, Float64Array>;
  grads: Map<string, Float64Array>;
}

/** The trainable tensors and their gradients (still those of the last update: zeroed at the next). */
async function state(m: Twin): Promise<State> {
  const params = new Map<string, Float64Array>();
  const grads = new Map<string, Float64Array>();
  for (const t of m.ps.trainable()) {
    params.set(t.name, await m.ps.read(t.name));
    grads.set(t.name, await m.ps.readGrad(t.name));
  }
  return params.size ? { params, grads } : Promise.reject(new Error('nothing trainable'));
}

/** k = 2 against k = 1: gradients and parameters to float64 rounding; the update moved something. */
function expectSameUpdate(got: State, want: State, before: State): void {
  expect([...got.params.keys()]).toEqual([...want.params.keys()]);
  let moved = 0;
  for (const [name, w] of want.params) {
    expectClose(got.grads.get(name)!, want.grads.get(name)!, 1e-9, 1e-13, `${name} grad`);
    expectClose(got.params.get(name)!, w, 1e-9, 1e-13, `${name} param`);
    if (w.some((x, i) => x !== before.params.get(name)![i])) moved++;
  }
  expect(moved).toBeGreaterThan(0);
}

/** Bit-identical states (k = 1 against the update as written before accumulation). */
function expectIdentical(got: State, want: State): void {
  for (const [name, w] of want.params) {
    expect(Array.from(got.params.get(name)!), name).toEqual(Array.from(w));
    expect(Array.from(got.grads.get(name)!), `${name} grad`).toEqual(Array.from(want.grads.get(name)!));
  }
}

describe('gradient accumulation: k = 2 micro-batches make the one-batch update', () => {
  it('PPO: a minibatch of 4 in two micro-batches of 2 (uneven tokens)', async () => {
    const probe = twin('value');
    const e = await probe.evaluate(batchSeqs(SEQS, 0));
    const before = await state(probe);
    probe.dispose();
    const ref = e.logp.map((l) => l.map((x, t) => x + 0.1 * Math.sin(t + 1)));
    const old = e.logp.map((l) => l.map((x, t) => x + 0.15 * Math.cos(3 * t + l.length)));
    const exp = ppoExperience(SEQS, [1, -0.5, 0.25, 2], old, ref, e.values!, {
      ...PPO_DEFAULTS,
      klCoef: 0.1,
    });
    const run = async (k: number | 'before') => {
      const m = twin('value');
      const r = new PpoRunner(env(m), PROMPTS, {
        ...PPO_DEFAULTS,
        steps: 1,
        lr: 1e-2,
        batch: 4,
        miniBatch: 4,
        gradAccum: k === 'before' ? 1 : k,
      });
      let stats: [Float64Array, Float64Array];
      if (k === 'before') {
        const tp = new Tape(m.be, true);
        m.ps.zeroGrads();
        const { pstats, vstats } = r.minibatchLoss(tp, exp, [0, 1, 2, 3]);
        tp.backward();
        m.opt.update(1e-2);
        stats = [await m.be.read(pstats, 6), await m.be.read(vstats, 3)];
        tp.dispose();
      } else stats = await r.update(exp, [0, 1, 2, 3]);
      const s = await state(m);
      m.dispose();
      return { s, stats };
    };
    const [k1, k2, was] = [await run(1), await run(2), await run('before')];
    expectSameUpdate(k2.s, k1.s, before);
    expectClose(k2.stats[0], k1.stats[0], 1e-9, 1e-13, 'policy stats');
    expectClose(k2.stats[1], k1.stats[1], 1e-9, 1e-13, 'value stats');
    expectIdentical(k1.s, was.s);
    expect(k1.stats).toEqual(was.stats);
  });

  it('GRPO: a whole step, 2 prompts × 2 generations in two micro-batches', async () => {
    const c = { ...GRPO_DEFAULTS, steps: 1, lr: 1e-2, batch: 2, generations: 2, maxNewTokens: 3 };
    const before = await state(twin(null));
    const run = async (k: number) => {
      const m = twin(null);
      const metrics = await new GrpoRunner(env(m), PROMPTS, { ...c, gradAccum: k }).step();
      const s = await state(m);
      m.dispose();
      return { s, metrics };
    };
    const [k1, k2] = [await run(1), await run(2)];
    expectSameUpdate(k2.s, k1.s, before);
    for (const key of ['loss', 'kl', 'clipfrac'] as const)
      expect(k2.metrics[key], key).toBeCloseTo(k1.metrics[key]!, 12);
    // Before accumulation: rollout, old and reference log-probs, one tape over the batch, one update.
    const m = twin(null);
    const { ro, batch } = await rolloutStep(env(m), PROMPTS, 0, c, c.generations);
    const pol = await m.evaluate(batch, { temperature: c.temperature });
    const refLogp = (await m.evaluate(batch, { temperature: c.temperature, reference: true })).logp;
    const data = grpoLossData(batch, pol.logp, refLogp, groupAdvantages(ro.scores, c.generations));
    const tp = new Tape(m.be, true);
    m.ps.zeroGrads();
    const sc = m.score(tp, batch, c.temperature);
    policyLoss(tp, sc.logp, data, { clipLow: c.epsilon, clipHigh: c.epsilon, beta: c.beta }, 'grpo.loss');
    tp.backward();
    m.opt.update(c.lr);
    tp.dispose();
    expectIdentical(k1.s, await state(m));
    m.dispose();
  });

  it('rejection sampling: a fine-tuning minibatch of 4 in two micro-batches (uneven tokens)', async () => {
    const before = await state(twin(null));
    const run = async (k: number | 'before') => {
      const m = twin(null);
      const r = new RsRunner(env(m), PROMPTS, {
        ...RS_DEFAULTS,
        steps: 1,
        lr: 1e-2,
        miniBatch: 4,
        gradAccum: k === 'before' ? 1 : k,
      });
      let loss: Float64Array;
      if (k === 'before') {
        const tp = new Tape(m.be, true);
        m.ps.zeroGrads();
        const l = r.sftLoss(tp, SEQS);
        tp.backward();
        m.opt.update(1e-2);
        loss = await m.be.read(l.store, 1);
        tp.dispose();
      } else loss = await r.update(SEQS);
      const s = await state(m);
      m.dispose();
      return { s, loss: loss[0] };
    };
    const [k1, k2, was] = [await run(1), await run(2), await run('before')];
    expectSameUpdate(k2.s, k1.s, before);
    expect(k2.loss).toBeCloseTo(k1.loss, 12);
    expectIdentical(k1.s, was.s);
    expect(k1.loss).toBe(was.loss);
  });

  it('DPO: 4 pairs in two micro-batches of 2', async () => {
    const before = await state(twin(null));
    const run = async (k: number) => {
      const m = twin(null);
      const metrics = await new DpoRunner(m, PAIRS, 0, {
        ...DPO_DEFAULTS,
        steps: 1,
        lr: 1e-2,
        batch: 4,
        gradAccum: k,
      }).step();
      const s = await state(m);
      m.dispose();
      return { s, metrics };
    };
    const [k1, k2] = [await run(1), await run(2)];
    expectSameUpdate(k2.s, k1.s, before);
    for (const key of ['loss', 'accuracy', 'reward_mean', 'kl'] as const)
      expect(k2.metrics[key], key).toBeCloseTo(k1.metrics[key]!, 12);
    // Before accumulation: the reference's sums on a tape without gradients, one loss, one update.
    const m = twin(null);
    const seqs = pairSeqs(PAIRS);
    const batch = batchSeqs(seqs, 0, m.virtual());
    await m.adapter.setEnabled(false);
    const refTape = new Tape(m.be, false);
    const refBatch = withoutVirtual(batch);
    const refSums = m.sequenceLogp(refTape, refBatch, m.score(refTape, refBatch).logp).store;
    await m.adapter.setEnabled(true);
    const tp = new Tape(m.be, true);
    m.ps.zeroGrads();
    const stats = dpoLoss(m, tp, seqs, 0, refSums, DPO_DEFAULTS.beta);
    tp.backward();
    m.opt.update(1e-2);
    const s = await m.be.read(stats, 5);
    tp.dispose();
    refTape.dispose();
    expectIdentical(k1.s, await state(m));
    expect(k1.metrics.loss).toBe(s[0]);
    m.dispose();
  });

  it('reward model: 4 pairs in two micro-batches of 2', async () => {
    const before = await state(twin('score'));
    const run = async (k: number | 'before') => {
      const m = twin('score');
      const r = new RewardRunner(m, PAIRS, [], 0, {
        ...REWARD_DEFAULTS,
        steps: 1,
        lr: 1e-2,
        batch: 4,
        gradAccum: k === 'before' ? 1 : k,
      });
      let loss: number;
      if (k === 'before') {
        const tp = new Tape(m.be, true);
        m.ps.zeroGrads();
        const stats = rewardLoss(m, tp, pairSeqs(PAIRS), 0);
        tp.backward();
        m.opt.update(1e-2);
        loss = (await m.be.read(stats, 5))[0];
        tp.dispose();
      } else loss = (await r.step()).loss;
      const s = await state(m);
      m.dispose();
      return { s, loss };
    };
    const [k1, k2, was] = [await run(1), await run(2), await run('before')];
    expectSameUpdate(k2.s, k1.s, before);
    expect(k2.loss).toBeCloseTo(k1.loss, 12);
    expectIdentical(k1.s, was.s);
    expect(k1.loss).toBe(was.loss);
  });
});
