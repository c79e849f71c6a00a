// The RL options table (options.ts) is what the CLI's flags and the page's form are generated from: its
// defaults equal the runners' own (TRL's), every option parses from its flag (to its default, and to another
// value that lands on the same key), a value out of range or off the choices is refused with the flag named,
// the usage lists every flag, and the cross-option checks speak the form's sentences.
import { describe, expect, it } from 'vitest';
import { DPO_DEFAULTS } from './dpo';
import { runnerConfig } from './factory';
import { GRPO_DEFAULTS } from './grpo';
import {
  checkRlOption,
  checkRlOptions,
  getRlOption,
  RL_ALGOS,
  RL_OPTION_DEFAULTS,
  RL_OPTIONS,
  type RlOptionSpec,
  rlFlagsUsage,
  rlOptionSpecs,
  rlOptionsFromFlags,
} from './options';
import { PPO_DEFAULTS } from './ppo';
import { RS_DEFAULTS } from './rs';

const RUNNER_DEFAULTS: Record<string, Record<string, unknown>> = {
  ppo: PPO_DEFAULTS,
  rs: RS_DEFAULTS,
  grpo: GRPO_DEFAULTS,
  dpo: DPO_DEFAULTS,
};

/** A valid value other than the default, to see that the flag sets this option and no other. */
function another(s: RlOptionSpec): string {
  if (s.kind === 'enum') return s.choices?.find((c) => c !== s.default) ?? '';
  const base = typeof s.default === 'number' ? s.default : (s.min ?? 0);
  return String(s.kind === 'int' ? base + 1 : base + 0.25);
}

describe('the RL options table', () => {
  it('has the runners defaults (TRL values) and the page form sampling defaults', () => {
    for (const s of RL_OPTIONS) {
      if (s.group === 'sampling') continue;
      expect(s.default, `${s.group}.${s.key}`).toEqual(RUNNER_DEFAULTS[s.group][s.key]);
    }
    expect(RL_OPTION_DEFAULTS.maxNewTokens).toBe(12);
    expect(RL_OPTION_DEFAULTS.temperature).toBe(1);
    expect(RL_OPTION_DEFAULTS.ppo).toEqual({
      klCoef: 0.05,
      targetKl: null,
      kl: 'k1',
      cliprange: 0.2,
      epochs: 4,
      miniBatch: 2,
      vfCoef: 0.1,
      scoreClip: null,
      gradAccum: 1,
    });
    expect(RL_OPTION_DEFAULTS.rs).toEqual({
      n: 4,
      keep: 1,
      threshold: null,
      sftEpochs: 2,
      miniBatch: 4,
      gradAccum: 1,
    });
    expect(RL_OPTION_DEFAULTS.grpo).toEqual({ generations: 4, beta: 0.04, iterations: 1, gradAccum: 1 });
    expect(RL_OPTION_DEFAULTS.dpo).toEqual({ beta: 0.1, gradAccum: 1 });
  });

  it('every option of every algorithm parses from its flag, to its default and to another value', () => {
    for (const algo of RL_ALGOS) {
      const flags = rlOptionSpecs(algo).map((s) => s.flag);
      expect(new Set(flags).size, `${algo}: one option per flag`).toBe(flags.length);
      for (const s of rlOptionSpecs(algo)) {
        const at = (raw: string) => rlOptionsFromFlags(algo, (f) => (f === s.flag ? raw : undefined));
        expect(at(s.default === null ? '' : String(s.default)), s.flag).toEqual(RL_OPTION_DEFAULTS);
        const v = another(s);
        const o = at(v);
        expect(getRlOption(o, s), s.flag).toEqual(s.kind === 'enum' ? v : Number(v));
        // Nothing else moved.
        for (const t of RL_OPTIONS)
          if (t !== s) expect(getRlOption(o, t), `${s.flag} left ${t.key}`).toEqual(t.default);
      }
    }
  });

  it('refuses a value out of range or off the choices, naming the flag', () => {
    expect(() => rlOptionsFromFlags('ppo', (f) => (f === 'kl-coef' ? '-1' : undefined))).toThrow(
      '--kl-coef -1: must be a number ≥ 0, got "-1"',
    );
    expect(() => rlOptionsFromFlags('ppo', (f) => (f === 'kl' ? 'k2' : undefined))).toThrow(
      '--kl k2: must be one of k1, k3, got "k2"',
    );
    expect(() => rlOptionsFromFlags('grpo', (f) => (f === 'generations' ? '1' : undefined))).toThrow(
      '--generations 1: must be an integer ≥ 2, got "1"',
    );
    expect(() => rlOptionsFromFlags('rs', (f) => (f === 'n' ? '2.5' : undefined))).toThrow(
      '--n 2.5: must be an integer ≥ 1, got "2.5"',
    );
    // Empty is "none" only where null is allowed.
    expect(() => rlOptionsFromFlags('dpo', (f) => (f === 'beta' ? '' : undefined))).toThrow(/^--beta : /);
    for (const algo of RL_ALGOS)
      for (const s of rlOptionSpecs(algo)) {
        const bad = s.kind === 'enum' ? 'nope' : s.min !== undefined ? String(s.min - 1) : 'x';
        expect(() => rlOptionsFromFlags(algo, (f) => (f === s.flag ? bad : undefined))).toThrow(
          new RegExp(`^--${s.flag} `),
        );
      }
  });

  it('a flag of another algorithm is not read', () => {
    expect(rlOptionsFromFlags('dpo', (f) => (f === 'kl-coef' ? '-1' : undefined))).toEqual(
      RL_OPTION_DEFAULTS,
    );
  });

  it('the usage lists every flag with its default', () => {
    const u = rlFlagsUsage();
    for (const s of RL_OPTIONS) {
      const arg = s.kind === 'enum' ? s.choices?.join('|') : s.kind === 'int' ? 'N' : 'X';
      expect(u).toContain(`[--${s.flag} ${arg}${s.default === null ? '' : `=${s.default}`}]`);
    }
  });

  it('checks single options and the options together in the form words', () => {
    const d = RL_OPTION_DEFAULTS;
    for (const algo of RL_ALGOS) expect(checkRlOptions(algo, d, 4), algo).toBeNull();
    expect(checkRlOptions('ppo', { ...d, ppo: { ...d.ppo, klCoef: -1 } }, 4)).toBe(
      'KL coef must be a number ≥ 0',
    );
    expect(checkRlOptions('ppo', { ...d, ppo: { ...d.ppo, targetKl: null, scoreClip: 1 } }, 4)).toBeNull();
    expect(checkRlOptions('ppo', d, 3)).toBe('PPO: the batch (3) must be a multiple of the minibatch (2)');
    expect(checkRlOptions('rs', { ...d, rs: { ...d.rs, keep: 5 } }, 4)).toBe(
      'rejection sampling: keep (5) must be between 1 and n (4)',
    );
    expect(checkRlOptions('grpo', { ...d, grpo: { ...d.grpo, iterations: 0 } }, 4)).toBe(
      'iterations must be an integer ≥ 1',
    );
    // Gradient accumulation splits into equal micro-batches.
    expect(checkRlOptions('ppo', { ...d, ppo: { ...d.ppo, gradAccum: 2 } }, 4)).toBeNull();
    expect(checkRlOptions('ppo', { ...d, ppo: { ...d.ppo, gradAccum: 4 } }, 4)).toBe(
      'PPO: the minibatch (2) must be a multiple of grad accum (4)',
    );
    expect(checkRlOptions('rs', { ...d, rs: { ...d.rs, gradAccum: 3 } }, 4)).toBe(
      'rejection sampling: the minibatch (4) must be a multiple of grad accum (3)',
    );
    expect(checkRlOptions('grpo', { ...d, grpo: { ...d.grpo, gradAccum: 8 } }, 2)).toBeNull();
    expect(checkRlOptions('grpo', { ...d, grpo: { ...d.grpo, gradAccum: 3 } }, 2)).toBe(
      'GRPO: batch × generations (8) must be a multiple of grad accum (3)',
    );
    expect(checkRlOptions('dpo', { ...d, dpo: { ...d.dpo, gradAccum: 3 } }, 4)).toBe(
      'DPO: the batch (4) must be a multiple of grad accum (3)',
    );
    expect(checkRlOptions('dpo', { ...d, dpo: { ...d.dpo, gradAccum: 0 } }, 4)).toBe(
      'grad accum must be an integer ≥ 1',
    );
    // A form saved before grad accum existed reads its default, and passes.
    const { gradAccum: _, ...oldPpo } = d.ppo;
    const old = { ...d, ppo: oldPpo as typeof d.ppo };
    expect(getRlOption(old, RL_OPTIONS.find((s) => s.group === 'ppo' && s.key === 'gradAccum')!)).toBe(1);
    expect(checkRlOptions('ppo', old, 4)).toBeNull();
    // DPO reads no sampling option.
    expect(checkRlOptions('dpo', { ...d, maxNewTokens: 0 }, 4)).toBeNull();
    expect(checkRlOption(RL_OPTIONS.find((s) => s.key === 'threshold')!, -3)).toBeNull();
  });

  it('the runner config takes every option of its algorithm', () => {
    const train = {
      method: 'lora',
      options: {},
      seed: 7,
      lr: 0.002,
      steps: 3,
      batch: 4,
      seqLen: 32,
      weightDecay: 0,
      maxGradNorm: 1,
      evalFraction: 0,
      maxPromptLength: 64,
    };
    for (const algo of ['ppo', 'rs', 'grpo', 'dpo'] as const) {
      const set = rlOptionsFromFlags(algo, (f) => {
        const s = rlOptionSpecs(algo).find((x) => x.flag === f);
        return s ? another(s) : undefined;
      });
      const { config } = runnerConfig({ algo, rl: set, train });
      const c = config as unknown as Record<string, unknown>;
      for (const s of rlOptionSpecs(algo)) expect(c[s.key], `${algo} ${s.key}`).toEqual(getRlOption(set, s));
      expect(c.steps).toBe(3);
      expect(c.lr).toBe(0.002);
      expect(c.batch).toBe(4);
    }
  });
});
