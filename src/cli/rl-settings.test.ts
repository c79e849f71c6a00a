// The CLI and the page's worker configure the same RL run for the same inputs: the CLI's flags
// (rlSettingsFromArgs) and the page's run spec (worker rlSettings) give equal settings, so the one factory
// (train/rl/factory.ts runnerConfig) gives equal runner configs — checked for every algorithm with options
// off their defaults (scoreClip, cliprange and gradient accumulation included), against values written out
// here. Without algorithm
// flags the CLI starts from the page form's defaults.
import { describe, expect, it } from 'vitest';
import { runnerConfig } from '../train/rl/factory';
import { RL_OPTION_DEFAULTS } from '../train/rl/options';
import { SFT_DEFAULTS, type SftRunConfig } from '../train/sft-config';
import { rlSettings } from '../worker/rl-runs';
import { RL_FORM_DEFAULTS, type RlRunSpec } from '../worker/rl-spec';
import { Args } from './args';
import { rlSettingsFromArgs } from './rl';

const config: SftRunConfig = {
  ...SFT_DEFAULTS,
  method: 'lora',
  options: { r: 4, lora_alpha: 8 },
  lr: 0.002,
  steps: 5,
  batch: 4,
  seqLen: 32,
  seed: 3,
  weightDecay: 0.01,
  maxGradNorm: 0.5,
};

const common = [
  '--method',
  'lora',
  '--set',
  'r=4',
  '--set',
  'lora_alpha=8',
  '--lr',
  '0.002',
  '--steps',
  '5',
  '--batch',
  '4',
  '--seq',
  '32',
  '--seed',
  '3',
  '--weight-decay',
  '0.01',
  '--max-grad-norm',
  '0.5',
  '--eval-fraction',
  '0.25',
];

const page = (rl: Partial<RlRunSpec> & Pick<RlRunSpec, 'algo'>) =>
  rlSettings(config, { ...RL_FORM_DEFAULTS, ...rl }, 0.25);
const cli = (...flags: string[]) => rlSettingsFromArgs(new Args([...common, ...flags]));

describe('CLI flags and the page spec build the same runner', () => {
  it('PPO with score clipping and a cliprange', () => {
    const p = page({
      algo: 'ppo',
      maxNewTokens: 6,
      temperature: 0.7,
      ppo: { ...RL_FORM_DEFAULTS.ppo, scoreClip: 1, cliprange: 0.3, kl: 'k3', targetKl: 6, miniBatch: 1 },
    });
    const c = cli(
      '--algo',
      'ppo',
      '--max-new-tokens',
      '6',
      '--temperature',
      '0.7',
      '--score-clip',
      '1',
      '--cliprange',
      '0.3',
      '--kl',
      'k3',
      '--target-kl',
      '6',
      '--minibatch',
      '1',
    );
    expect(c).toEqual(p);
    const r = runnerConfig(c);
    expect(r).toEqual(runnerConfig(p));
    expect(r.algo).toBe('ppo');
    expect(r.config).toMatchObject({
      scoreClip: 1,
      cliprange: 0.3,
      kl: 'k3',
      targetKl: 6,
      miniBatch: 1,
      epochs: 4,
      klCoef: 0.05,
      vfCoef: 0.1,
      maxNewTokens: 6,
      temperature: 0.7,
      steps: 5,
      lr: 0.002,
      batch: 4,
      seed: 3,
    });
    expect(c.train).toEqual({
      method: 'lora',
      options: { r: 4, lora_alpha: 8 },
      seed: 3,
      lr: 0.002,
      steps: 5,
      batch: 4,
      seqLen: 32,
      weightDecay: 0.01,
      maxGradNorm: 0.5,
      evalFraction: 0.25,
      maxPromptLength: 64,
    });
  });

  it('rejection sampling, GRPO, DPO and the reward model', () => {
    const cases: [ReturnType<typeof page>, string[], Record<string, unknown>][] = [
      [
        page({ algo: 'rs', rs: { n: 3, keep: 2, threshold: 0.5, sftEpochs: 1, miniBatch: 2, gradAccum: 2 } }),
        [
          '--algo',
          'rs',
          '--n',
          '3',
          '--keep',
          '2',
          '--threshold',
          '0.5',
          '--epochs',
          '1',
          '--minibatch',
          '2',
          '--grad-accum',
          '2',
        ],
        {
          n: 3,
          keep: 2,
          threshold: 0.5,
          sftEpochs: 1,
          miniBatch: 2,
          gradAccum: 2,
          maxNewTokens: 12,
          temperature: 1,
        },
      ],
      [
        page({ algo: 'grpo', grpo: { generations: 2, beta: 0, iterations: 2, gradAccum: 8 } }),
        ['--algo', 'grpo', '--generations', '2', '--beta', '0', '--iterations', '2', '--grad-accum', '8'],
        { generations: 2, beta: 0, iterations: 2, epsilon: 0.2, gradAccum: 8 },
      ],
      [
        page({ algo: 'dpo', dpo: { beta: 0.3, gradAccum: 2 } }),
        ['--algo', 'dpo', '--beta', '0.3', '--grad-accum', '2'],
        { beta: 0.3, gradAccum: 2 },
      ],
      [
        page({ algo: 'ppo', ppo: { ...RL_FORM_DEFAULTS.ppo, gradAccum: 2 } }),
        ['--algo', 'ppo', '--grad-accum', '2'],
        { miniBatch: 2, gradAccum: 2 },
      ],
      [page({ algo: 'reward' }), ['--algo', 'reward'], { batch: 4 }],
    ];
    for (const [p, flags, want] of cases) {
      const c = cli(...flags);
      expect(c, flags[1]).toEqual(p);
      expect(runnerConfig(c)).toEqual(runnerConfig(p));
      expect(runnerConfig(c).config, flags[1]).toMatchObject({ ...want, steps: 5, lr: 0.002 });
    }
  });

  it('without algorithm flags the CLI starts from the page form defaults', () => {
    expect(RL_FORM_DEFAULTS).toEqual(RL_OPTION_DEFAULTS);
    for (const algo of ['ppo', 'rs', 'grpo', 'dpo', 'reward'] as const)
      expect(cli('--algo', algo)).toEqual(page({ algo }));
  });

  it('a bad option is refused naming the flag, and options that clash in the form words', () => {
    expect(() => cli('--algo', 'ppo', '--cliprange', '-0.1')).toThrow(
      '--cliprange -0.1: must be a number ≥ 0, got "-0.1"',
    );
    expect(() => cli('--algo', 'ppo', '--minibatch', '3')).toThrow(
      'PPO: the batch (4) must be a multiple of the minibatch (3)',
    );
    expect(() => cli('--algo', 'ppo', '--grad-accum', '3')).toThrow(
      'PPO: the minibatch (2) must be a multiple of grad accum (3)',
    );
    expect(() => cli('--algo', 'grpo', '--grad-accum', '3')).toThrow(
      'GRPO: batch × generations (16) must be a multiple of grad accum (3)',
    );
    expect(() => cli('--algo', 'dpo', '--grad-accum', '0')).toThrow(
      '--grad-accum 0: must be an integer ≥ 1, got "0"',
    );
    expect(() => cli('--algo', 'rs', '--keep', '5')).toThrow(
      'rejection sampling: keep (5) must be between 1 and n (4)',
    );
    expect(() => cli('--algo', 'nope')).toThrow('--algo nope: one of sft, reward, ppo, rs, dpo, grpo');
  });
});
