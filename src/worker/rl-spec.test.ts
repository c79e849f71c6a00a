// The playground's RL form logic (rl-spec.ts): which dataset shapes each algorithm accepts and the sentence
// it shows otherwise, the reward form → RewardChoice (validated with the CLI's parser), and the form's
// defaults equal to the runners' own (TRL's) defaults, so the page and the CLI start from the same values.
import { describe, expect, it } from 'vitest';
import { DPO_DEFAULTS } from '../train/rl/dpo';
import { GRPO_DEFAULTS } from '../train/rl/grpo';
import { PPO_DEFAULTS } from '../train/rl/ppo';
import { RS_DEFAULTS } from '../train/rl/rs';
import { checkShape, REWARD_FORM_DEFAULTS, RL_FORM_DEFAULTS, rewardFromForm } from './rl-spec';

describe('checkShape', () => {
  it('lets SFT take any shape', () => {
    for (const s of ['text', 'prompt_completion', 'messages', 'preference', 'prompt_only'] as const)
      expect(checkShape('sft', s)).toBeNull();
  });
  it('needs chosen/rejected pairs for reward models and DPO', () => {
    expect(checkShape('dpo', 'preference')).toBeNull();
    expect(checkShape('reward', 'preference')).toBeNull();
    expect(checkShape('dpo', 'prompt_only')).toMatch(
      /^DPO trains on preference pairs.*this dataset is prompt_only/,
    );
    expect(checkShape('reward', 'text')).toMatch(/^Reward model trains on preference pairs/);
  });
  it('takes prompts from any shape with one for PPO, rejection sampling and GRPO', () => {
    for (const a of ['ppo', 'rs', 'grpo'] as const) {
      for (const s of ['prompt_only', 'prompt_completion', 'messages', 'preference'] as const)
        expect(checkShape(a, s)).toBeNull();
      expect(checkShape(a, 'text')).toMatch(/samples completions from prompts; this dataset is text/);
    }
  });
  it('needs reference completions for the exact-match reward', () => {
    const exact = { kind: 'spec', spec: 'exact' } as const;
    expect(checkShape('grpo', 'prompt_completion', exact)).toBeNull();
    expect(checkShape('grpo', 'prompt_only', exact)).toMatch(
      /exact-match reward .* needs prompt\/completion/,
    );
    expect(checkShape('ppo', 'prompt_only', { kind: 'spec', spec: 'sentiment' })).toBeNull();
  });
});

describe('rewardFromForm', () => {
  const f = (o: Partial<typeof REWARD_FORM_DEFAULTS>) => rewardFromForm({ ...REWARD_FORM_DEFAULTS, ...o });
  it('builds the CLI spec strings for the built-in rewards', () => {
    expect(f({ kind: 'sentiment' })).toEqual({ reward: { kind: 'spec', spec: 'sentiment' } });
    expect(f({ kind: 'length', arg: ' 8 ' })).toEqual({ reward: { kind: 'spec', spec: 'length:8' } });
    expect(f({ kind: 'regex', arg: 'good|fine' })).toEqual({
      reward: { kind: 'spec', spec: 'regex:good|fine' },
    });
    expect(f({ kind: 'keywords', arg: 'good,happy' })).toEqual({
      reward: { kind: 'spec', spec: 'keywords:good,happy' },
    });
    expect(f({ kind: 'exact', arg: 'ignored' })).toEqual({ reward: { kind: 'spec', spec: 'exact' } });
  });
  it('says what is wrong with a bad value, naming the reward', () => {
    expect(f({ kind: 'length', arg: '' })).toEqual({
      error: 'reward length:: "length" needs a value after the colon',
    });
    expect(f({ kind: 'length', arg: '2.5' })).toEqual({
      error: 'reward length:2.5: the length must be a whole number ≥ 1',
    });
    const bad = f({ kind: 'regex', arg: '(' });
    expect('error' in bad && bad.error).toMatch(/^reward regex:\(: .*(unterminated|missing)/i);
  });
  it('passes JavaScript code and its time limit, and wants a reward function', () => {
    expect(f({ kind: 'js' })).toEqual({
      reward: { kind: 'js', code: REWARD_FORM_DEFAULTS.code, timeoutMs: 2000 },
    });
    expect(f({ kind: 'js', code: 'const x = 1;' })).toEqual({
      error: 'the JavaScript reward must define a function named reward',
    });
    expect(f({ kind: 'js', timeoutMs: 0 })).toEqual({
      error: 'the JavaScript reward needs a time limit above 0 ms',
    });
  });
  it('needs a chosen run for the model reward', () => {
    expect(f({ kind: 'model' })).toEqual({
      error: 'choose a finished reward-model run for the model reward',
    });
    expect(f({ kind: 'model', modelRunId: 'run-1' })).toEqual({ reward: { kind: 'model', runId: 'run-1' } });
  });
  it('the default JavaScript reward counts positive words', () => {
    const reward = new Function(`${REWARD_FORM_DEFAULTS.code}; return reward;`)() as (x: {
      completion: string;
    }) => number;
    expect(reward({ completion: 'a good and happy day, good' })).toBe(3);
  });
});

describe('RL_FORM_DEFAULTS', () => {
  it('equal the runners defaults (TRL values)', () => {
    const d = RL_FORM_DEFAULTS;
    expect(d.ppo).toEqual({
      klCoef: PPO_DEFAULTS.klCoef,
      targetKl: PPO_DEFAULTS.targetKl,
      kl: PPO_DEFAULTS.kl,
      cliprange: PPO_DEFAULTS.cliprange,
      epochs: PPO_DEFAULTS.epochs,
      miniBatch: PPO_DEFAULTS.miniBatch,
      vfCoef: PPO_DEFAULTS.vfCoef,
      scoreClip: PPO_DEFAULTS.scoreClip,
      gradAccum: PPO_DEFAULTS.gradAccum,
    });
    expect(d.rs).toEqual({
      n: RS_DEFAULTS.n,
      keep: RS_DEFAULTS.keep,
      threshold: RS_DEFAULTS.threshold,
      sftEpochs: RS_DEFAULTS.sftEpochs,
      miniBatch: RS_DEFAULTS.miniBatch,
      gradAccum: RS_DEFAULTS.gradAccum,
    });
    expect(d.grpo).toEqual({
      generations: GRPO_DEFAULTS.generations,
      beta: GRPO_DEFAULTS.beta,
      iterations: GRPO_DEFAULTS.iterations,
      gradAccum: GRPO_DEFAULTS.gradAccum,
    });
    expect(d.dpo).toEqual({ beta: DPO_DEFAULTS.beta, gradAccum: DPO_DEFAULTS.gradAccum });
  });
});
