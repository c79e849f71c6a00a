// "Start runs" with an RL algorithm (rl.ts): the RlRunSpec built from the form, the sentences for a dataset
// shape the algorithm cannot read, a bad reward, options the runner would refuse, and a model reward without
// a finished reward-model run; and the RL samples shipped for the built-in model parse as the shapes their
// algorithms need, with chosen answers more positive than rejected ones (the sentiment reward agrees).
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { prepareDataset } from '../data/prepare';
import type { RlForm } from '../store/rl';
import type { RunRecord } from '../store/runs';
import { sentimentScore } from '../train/rewards/builtin';
import { REWARD_FORM_DEFAULTS, RL_FORM_DEFAULTS } from '../worker/rl-spec';
import { type RlFormState, rlPart } from './rl';

const state = (o: Partial<RlFormState> = {}): RlFormState => ({
  algorithm: 'ppo',
  rlForm: RL_FORM_DEFAULTS,
  rewardForm: REWARD_FORM_DEFAULTS,
  runs: [],
  ...o,
});

const rewardRun = (id: string, state: RunRecord['state']) =>
  ({ spec: { id, rl: { algo: 'reward' } }, state }) as unknown as RunRecord;

describe('rlPart', () => {
  it('SFT has no RL part; RL algorithms carry their options and reward', () => {
    expect(rlPart(state({ algorithm: 'sft' }), 'text', 4)).toEqual({ rl: undefined });
    expect(rlPart(state(), 'prompt_only', 4)).toEqual({
      rl: { ...RL_FORM_DEFAULTS, algo: 'ppo', reward: { kind: 'spec', spec: 'sentiment' } },
    });
    // Pairwise algorithms take no reward.
    expect(rlPart(state({ algorithm: 'dpo' }), 'preference', 2)).toEqual({
      rl: { ...RL_FORM_DEFAULTS, algo: 'dpo' },
    });
  });
  it('refuses a dataset shape the algorithm cannot read', () => {
    expect(rlPart(state({ algorithm: 'reward' }), 'prompt_only', 2)).toEqual({
      error: expect.stringMatching(/^Reward model trains on preference pairs/),
    });
    expect(rlPart(state({ algorithm: 'grpo' }), 'text', 2)).toEqual({
      error: expect.stringMatching(/^GRPO samples completions from prompts/),
    });
  });
  it('refuses a bad reward field and options the runners would refuse', () => {
    expect(
      rlPart(state({ rewardForm: { ...REWARD_FORM_DEFAULTS, kind: 'length', arg: 'x' } }), 'prompt_only', 4),
    ).toEqual({
      error: 'reward length:x: the length must be a whole number ≥ 1',
    });
    const form = (p: Partial<RlForm>) => ({ ...RL_FORM_DEFAULTS, ...p });
    expect(rlPart(state(), 'prompt_only', 3)).toEqual({
      error: 'PPO: the batch (3) must be a multiple of the minibatch (2)',
    });
    expect(
      rlPart(
        state({
          algorithm: 'rs',
          rlForm: form({ rs: { ...RL_FORM_DEFAULTS.rs, n: 2, keep: 3, threshold: null } }),
        }),
        'prompt_only',
        4,
      ),
    ).toEqual({
      error: 'rejection sampling: keep (3) must be between 1 and n (2)',
    });
    expect(
      rlPart(
        state({
          algorithm: 'grpo',
          rlForm: form({ grpo: { ...RL_FORM_DEFAULTS.grpo, generations: 1, beta: 0 } }),
        }),
        'prompt_only',
        4,
      ),
    ).toEqual({
      error: 'GRPO: 1 generations per prompt; a group needs at least 2',
    });
    expect(rlPart(state({ rlForm: form({ maxNewTokens: 0 }) }), 'prompt_only', 4)).toEqual({
      error: 'max new tokens must be at least 1',
    });
  });
  it('a model reward needs a finished reward-model run of this session', () => {
    const rewardForm = { ...REWARD_FORM_DEFAULTS, kind: 'model' as const, modelRunId: 'rm-1' };
    expect(rlPart(state({ rewardForm, runs: [rewardRun('rm-1', 'running')] }), 'prompt_only', 4)).toEqual({
      error: 'the model reward needs a finished reward-model run of this session',
    });
    expect(rlPart(state({ rewardForm, runs: [rewardRun('rm-1', 'done')] }), 'prompt_only', 4)).toEqual({
      rl: { ...RL_FORM_DEFAULTS, algo: 'ppo', reward: { kind: 'model', runId: 'rm-1' } },
    });
  });
});

describe('the RL samples in public/datasets', () => {
  const load = (name: string) =>
    prepareDataset(name, new Uint8Array(readFileSync(`public/datasets/${name}`)), { onError: 'stop' });
  it('rl-prompts.jsonl: sentence openings, prompt-only', async () => {
    const d = await load('rl-prompts.jsonl');
    expect(d.shape.kind).toBe('prompt_only');
    expect(d.examples.length).toBeGreaterThanOrEqual(16);
  });
  it('preferences.jsonl: chosen/rejected pairs, the chosen one more positive each time', async () => {
    const d = await load('preferences.jsonl');
    expect(d.shape.kind).toBe('preference');
    expect(d.examples.length).toBeGreaterThanOrEqual(16);
    for (const e of d.examples) {
      if (e.kind !== 'preference' || typeof e.chosen !== 'string' || typeof e.rejected !== 'string')
        throw new Error('expected text pairs');
      expect(sentimentScore(e.chosen), e.chosen).toBeGreaterThan(sentimentScore(e.rejected));
    }
  });
});
