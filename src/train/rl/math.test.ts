// Tests for math.ts on hand-checkable numbers: KL estimators, TRL's reward shaping, GAE (γ, λ) by hand,
// whitening, GRPO's group advantages and the adaptive KL controller; rejection sampling's selection.
import { describe, expect, it } from 'vitest';
import { expectClose } from '../../../test/helpers/numeric';
import { gae, groupAdvantages, KlController, klEstimate, meanVar, shapedRewards, whiten } from './math';
import { PPO_DEFAULTS, ppoExperience } from './ppo';
import { selectBest } from './rs';

describe('RL math', () => {
  it('KL estimators: k1 = logp − ref, k3 = e^{ref−logp} − 1 − (ref − logp) ≥ 0', () => {
    expect(klEstimate(-1, -1.5, 'k1')).toBeCloseTo(0.5, 15);
    expect(klEstimate(-1, -1.5, 'k3')).toBeCloseTo(Math.exp(-0.5) - 1 + 0.5, 15);
    expect(klEstimate(-2, -1, 'k3')).toBeGreaterThan(0);
    expect(klEstimate(-2, -2, 'k3')).toBe(0);
  });

  it('shaped rewards: −β·kl per token, the score added at the last token', () => {
    const { rewards, kl } = shapedRewards([-1, -2, -3], [-1.5, -2, -2], 2, 0.1, 'k1');
    expectClose(kl, [0.5, 0, -1], 1e-15, 1e-15);
    expectClose(rewards, [-0.05, 0, 0.1 + 2], 1e-15, 1e-15);
  });

  it('GAE by hand: γ = 0.9, λ = 0.5', () => {
    // δ2 = 1 − 0.5 = 0.5; δ1 = 0 + 0.9·0.5 − 0.2 = 0.25; δ0 = 0 + 0.9·0.2 − 0.1 = 0.08.
    // A2 = 0.5; A1 = 0.25 + 0.45·0.5 = 0.475; A0 = 0.08 + 0.45·0.475 = 0.29375.
    const { advantages, returns } = gae([0, 0, 1], [0.1, 0.2, 0.5], 0.9, 0.5);
    expectClose(advantages, [0.29375, 0.475, 0.5], 1e-14, 1e-14);
    expectClose(returns, [0.39375, 0.675, 1], 1e-14, 1e-14);
    // γ = λ = 1: the advantage is the return-to-go minus the value.
    expectClose(gae([1, 2, 3], [0, 0, 0], 1, 1).advantages, [6, 5, 3], 1e-15, 1e-15);
  });

  it('whitening over all tokens of the batch: mean 0, unbiased variance 1', () => {
    const w = whiten([Float64Array.from([1, 2]), Float64Array.from([3, 4, 10])]);
    const { mean, variance } = meanVar(w);
    expect(mean).toBeCloseTo(0, 12);
    expect(variance).toBeCloseTo(1, 6);
  });

  it('GRPO group advantages: (r − mean)/(std + 1e-4) per group, std unbiased', () => {
    const a = groupAdvantages([1, 3, 0, 0], 2);
    const std = Math.SQRT2; // of [1, 3]: mean 2, unbiased variance 2
    expectClose(a, [-1 / (std + 1e-4), 1 / (std + 1e-4), 0, 0], 1e-14, 1e-14);
    expect(() => groupAdvantages([1, 2, 3], 2)).toThrow(/groups of 2/);
  });

  it('KL controller: fixed stays, adaptive moves toward the target within ±20% error', () => {
    const f = new KlController(0.1);
    f.update(100, 4);
    expect(f.value).toBe(0.1);
    const a = new KlController(0.1, 6, 100);
    a.update(12, 10); // error clipped to 0.2 → ×(1 + 0.2·10/100)
    expect(a.value).toBeCloseTo(0.1 * 1.02, 15);
    a.update(3, 10); // error −0.5 clipped to −0.2
    expect(a.value).toBeCloseTo(0.1 * 1.02 * 0.98, 15);
  });

  it('rejection sampling keeps the best k per group, above a threshold', () => {
    expect(selectBest([0.1, 0.9, 0.5, -1, 2, 2], 3, 1, null)).toEqual([1, 4]);
    expect(selectBest([0.1, 0.9, 0.5, -1, 2, 2], 3, 2, 0.5)).toEqual([1, 2, 4, 5]);
    expect(selectBest([0.1, 0.2], 2, 1, 1)).toEqual([]);
  });
});

describe('PPO score clipping (TRL score_clip)', () => {
  it('clips each score to ±scoreClip before the KL penalty, and only then', () => {
    const seqs = [0, 1, 2].map(() => ({ prompt: [1], completion: [2, 3] }));
    const lp = () => [
      Float64Array.from([-1, -2]),
      Float64Array.from([-0.5, -1]),
      Float64Array.from([-3, -1]),
    ];
    const ref = [
      Float64Array.from([-1.2, -2]),
      Float64Array.from([-0.5, -0.7]),
      Float64Array.from([-3, -1.5]),
    ];
    const values = [new Float64Array(2), new Float64Array(2), new Float64Array(2)];
    const c = { ...PPO_DEFAULTS, klCoef: 0.1, whitenAdvantages: false };
    const clipped = ppoExperience(seqs, [3, -2, 0.5], lp(), ref, values, { ...c, scoreClip: 1 });
    const byHand = ppoExperience(seqs, [1, -1, 0.5], lp(), ref, values, c);
    const raw = ppoExperience(seqs, [3, -2, 0.5], lp(), ref, values, c);
    expect(clipped.returns.map((r) => Array.from(r))).toEqual(byHand.returns.map((r) => Array.from(r)));
    expect(clipped.klPerSeq).toEqual(raw.klPerSeq);
    expect(clipped.returns[0][0]).not.toBe(raw.returns[0][0]);
    expect(clipped.returns[2][0]).toBe(raw.returns[2][0]);
  });
});
