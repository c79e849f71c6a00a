// The RL demo runner (demo.ts) in a CI-sized setting: PPO and rejection sampling with LoRA on a tiny random
// Qwen2 (the CPU float64 twin, which runs the same model code as the GPU) whose tokens decode to words, so
// the real sentiment reward (AFINN) scores them: a few tokens are positive words, one is negative, the rest
// neutral. From a near-uniform start (~0.5 reward) both algorithms must raise the mean reward of fresh
// samples well past the step-to-step noise with a fixed seed, while the KL to the reference (adapter
// disabled) stays bounded; with the learning rate at 0 the same runs must not improve (the test can fail).
// The sentiment demo on the built-in model itself takes many minutes (docs/rl-demo.md, scripts/rl-demo).
// About 30-40 s in all on an idle 2-core machine; the 120 s limits leave room for a loaded one.
import { describe, expect, it } from 'vitest';
import { randomModelParams } from '../../model/init';
import { TINY_LLAMA } from '../../model/testing';
import { cpuBackend } from '../../tensor/cpu-backend';
import { sentimentReward } from '../rewards/builtin';
import { type DemoModel, type DemoOptions, runRlDemo, summarize } from './demo';

const C = TINY_LLAMA;
// Token id → word: 0..3 positive (AFINN +3), 4 negative (−3), the rest neutral.
const WORDS = ['good', 'great', 'happy', 'nice', 'bad'];
const word = (id: number) => WORDS[id] ?? `w${id}`;

const DM: DemoModel = {
  config: C,
  // std 0.3: hidden states large enough that LoRA on the projections moves the logits within a few steps.
  baseSpecs: randomModelParams(C, 7, () => false, 0.3),
  encodePrompt: (text) => Array.from(text, (ch) => 5 + (ch.charCodeAt(0) % 30)),
  decode: (ids) => ids.map((i) => ` ${word(i)}`).join(''),
  eosIds: [],
  padId: 40,
};

const LORA = { r: 4, lora_alpha: 8, target_modules: ['q_proj', 'v_proj', 'o_proj', 'up_proj', 'down_proj'] };
const PROMPTS = ['ab', 'cd', 'efg', 'hi'];

function opts(algo: 'ppo' | 'rs', lr: number, steps = algo === 'ppo' ? 12 : 6): DemoOptions {
  return {
    algo,
    steps,
    seed: 3,
    lr,
    lora: LORA,
    prompts: PROMPTS,
    reward: sentimentReward,
    // The adaptive controller (target 3 nats a sequence, horizon one batch) holds the KL near 10 while the
    // reward rises fivefold; a fixed 0.05 let it pass 25 in 16 steps.
    ppo: {
      batch: 16,
      miniBatch: 8,
      epochs: 2,
      maxNewTokens: 6,
      kl: 'k3',
      klCoef: 0.2,
      targetKl: 3,
      horizon: 16,
    },
    rs: { batch: 4, n: 12, keep: 2, sftEpochs: 3, miniBatch: 8, maxNewTokens: 6 },
  };
}

describe('RL demo runner on a tiny model with the sentiment reward', () => {
  it('summarize: quarters, gain, noise of step differences, KL max', () => {
    const pts = [0, 1, 2, 3, 4, 5, 6, 7].map((i) => ({
      step: i + 1,
      reward_mean: i % 2 ? i + 0.5 : i,
      kl: i / 2,
      entropy: 1,
      response_len: 4,
    }));
    const s = summarize(pts, 1);
    expect(s.reward_first_quarter).toBeCloseTo(0.75, 12);
    expect(s.reward_last_quarter).toBeCloseTo(6.75, 12);
    expect(s.gain).toBeCloseTo(6, 12);
    // Differences alternate 1.5, 0.5: sample std over 7 of them.
    const d = [1.5, 0.5, 1.5, 0.5, 1.5, 0.5, 1.5];
    const dm = d.reduce((a, b) => a + b) / 7;
    expect(s.step_noise).toBeCloseTo(Math.sqrt(d.reduce((a, x) => a + (x - dm) ** 2, 0) / 6), 12);
    expect(s.kl_max).toBe(3.5);
  });

  it('PPO raises the mean reward past the noise with bounded KL; lr 0 does not', async () => {
    const r = await runRlDemo(cpuBackend(), DM, opts('ppo', 5e-2));
    const s = r.summary;
    expect(r.curve).toHaveLength(12);
    // Recorded with this seed: 0.46 → 3.5 reward, gain 2.09 against step noise 0.63, KL max 10.8; with the
    // model's float sums grouped otherwise (the residual folded into o_proj/down_proj), gain 3.6 and KL max
    // 14.0: the sampled trajectory is chaotic in the last bit. Over seeds 3-7 the KL max ran 12.1-18.6 (a
    // fixed coefficient of 0.05: 12.7-26.4 over seeds 3-5), so this bound only says the KL stays bounded;
    // the controller's own action is the rising coefficient checked below.
    expect(s.gain).toBeGreaterThan(1);
    expect(s.gain).toBeGreaterThan(2 * s.step_noise);
    expect(s.kl_max).toBeLessThan(20);
    // The controller raised the coefficient (the KL ran above its target).
    expect(r.curve.at(-1)!.kl_coef!).toBeGreaterThan(0.2);
    for (const p of r.curve) expect(Number.isFinite(p.entropy) && p.entropy > 0).toBe(true);
    // Control: with the learning rate at 0 the policy is the reference (KL 0) and the reward does not climb.
    const z = await runRlDemo(cpuBackend(), DM, opts('ppo', 0, 8));
    expect(z.summary.gain).toBeLessThan(0.5);
    expect(z.summary.kl_max).toBeLessThan(1e-9);
  }, 120_000);

  it('rejection sampling raises the mean reward of fresh samples over rounds; lr 0 does not', async () => {
    const r = await runRlDemo(cpuBackend(), DM, opts('rs', 2e-2));
    const s = r.summary;
    expect(r.curve).toHaveLength(6);
    expect(s.gain).toBeGreaterThan(0.3);
    expect(s.kl_max).toBeLessThan(6);
    // The kept completions score at least the round's mean (the best of each group).
    for (const p of r.curve) expect(p.kept_reward_mean!).toBeGreaterThanOrEqual(p.reward_mean);
    const z = await runRlDemo(cpuBackend(), DM, opts('rs', 0, 4));
    expect(z.summary.gain).toBeLessThan(0.3);
    expect(z.summary.kl_max).toBeLessThan(1e-9);
  }, 120_000);
});
