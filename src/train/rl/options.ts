// The RL algorithms' options, declared once: for each option its key, CLI flag, kind, default (TRL's where
// TRL has one, else the runner's own), range or choices, label and help, and the group it belongs to (the
// online algorithms' sampling, or one algorithm's own). The CLI's flags and usage (cli/rl.ts) and the page's
// form (ui/AlgorithmPanel.tsx) are generated from this table, as the method registry drives the method form;
// the factory (factory.ts) turns the parsed values into a runner's config. Pure data and parsing: the page's
// main-thread bundle imports it, so nothing here may import the engine.

export type RlAlgo = 'reward' | 'ppo' | 'rs' | 'dpo' | 'grpo';
export const RL_ALGOS: readonly RlAlgo[] = ['reward', 'ppo', 'rs', 'dpo', 'grpo'];

export type KlKind = 'k1' | 'k3';

export interface PpoOptions {
  klCoef: number;
  /** Target KL per sequence for the adaptive coefficient; null: fixed coefficient. */
  targetKl: number | null;
  kl: KlKind;
  cliprange: number;
  epochs: number;
  miniBatch: number;
  vfCoef: number;
  /** TRL's score_clip: scores clipped to [−scoreClip, scoreClip]; null: not clipped. */
  scoreClip: number | null;
  /** Micro-batches per minibatch (gradient accumulation); the minibatch must be a multiple of it. */
  gradAccum: number;
}

export interface RsOptions {
  n: number;
  keep: number;
  /** Keep only completions scoring at least this; null: no threshold. */
  threshold: number | null;
  sftEpochs: number;
  miniBatch: number;
  /** Micro-batches per fine-tuning step (gradient accumulation); the minibatch must be a multiple of it. */
  gradAccum: number;
}

export interface GrpoOptions {
  generations: number;
  beta: number;
  iterations: number;
  /** Micro-batches per update (gradient accumulation); batch × generations must be a multiple of it. */
  gradAccum: number;
}

export interface DpoOptions {
  beta: number;
  /** Micro-batches per step (gradient accumulation); the batch of pairs must be a multiple of it. */
  gradAccum: number;
}

/** Every algorithm's options at once (the page's form keeps them all; a run reads its algorithm's group). */
export interface RlOptions {
  /** Online algorithms: tokens sampled per completion. */
  maxNewTokens: number;
  /** Online algorithms: the rollouts' sampling temperature. */
  temperature: number;
  ppo: PpoOptions;
  rs: RsOptions;
  grpo: GrpoOptions;
  dpo: DpoOptions;
}

/** 'sampling' options sit at the top of RlOptions; the others under their algorithm's key. */
export type RlOptionGroup = 'sampling' | 'ppo' | 'rs' | 'grpo' | 'dpo';

export interface RlOptionSpec {
  /** The field in RlOptions (under `group`, or at the top for 'sampling'). */
  key: string;
  group: RlOptionGroup;
  /** The CLI flag, without the dashes. */
  flag: string;
  kind: 'int' | 'float' | 'enum';
  default: number | string | null;
  /** Set when null is allowed: what null means (the form's placeholder; the CLI leaves the flag out). */
  nullable?: string;
  /** Inclusive bounds. */
  min?: number;
  max?: number;
  choices?: readonly string[];
  /** The form's label. */
  label: string;
  help: string;
}

/**
 * The options. Defaults: TRL's PPOConfig (num_ppo_epochs 4, cliprange 0.2, vf_coef 0.1, init_kl_coef 0.05,
 * kl_estimator k1, score_clip None), GRPOConfig (num_generations 4 in the form, β 0.04, num_iterations 1),
 * DPOConfig (β 0.1); rejection sampling has no TRL trainer and keeps the runner's values. Completions are
 * short enough for the built-in model on a CPU-emulated GPU (12 new tokens) and sampled at temperature 1,
 * as the page always did. A test checks each default against the runners' own *_DEFAULTS.
 */
export const RL_OPTIONS: readonly RlOptionSpec[] = [
  {
    key: 'maxNewTokens',
    group: 'sampling',
    flag: 'max-new-tokens',
    kind: 'int',
    default: 12,
    min: 1,
    label: 'max new tokens',
    help: 'tokens sampled per completion',
  },
  {
    key: 'temperature',
    group: 'sampling',
    flag: 'temperature',
    kind: 'float',
    default: 1,
    min: 0,
    label: 'temperature',
    help: 'sampling temperature of the rollouts (0: greedy)',
  },
  {
    key: 'klCoef',
    group: 'ppo',
    flag: 'kl-coef',
    kind: 'float',
    default: 0.05,
    min: 0,
    label: 'KL coef',
    help: 'init_kl_coef: weight of the per-token KL penalty',
  },
  {
    key: 'targetKl',
    group: 'ppo',
    flag: 'target-kl',
    kind: 'float',
    default: null,
    nullable: 'fixed coef',
    min: 0,
    label: 'target KL',
    help: "Adaptive KL controller's target (per sequence); empty: the coefficient stays fixed",
  },
  {
    key: 'kl',
    group: 'ppo',
    flag: 'kl',
    kind: 'enum',
    default: 'k1',
    choices: ['k1', 'k3'],
    label: 'KL estimator',
    help: 'KL estimator: k1 = log-ratio, k3 = (r − 1) − log r (never negative)',
  },
  {
    key: 'cliprange',
    group: 'ppo',
    flag: 'cliprange',
    kind: 'float',
    default: 0.2,
    min: 0,
    label: 'clip',
    help: 'cliprange of the policy ratio',
  },
  {
    key: 'epochs',
    group: 'ppo',
    flag: 'epochs',
    kind: 'int',
    default: 4,
    min: 1,
    label: 'epochs',
    help: 'PPO epochs over each rollout batch',
  },
  {
    key: 'miniBatch',
    group: 'ppo',
    flag: 'minibatch',
    kind: 'int',
    default: 2,
    min: 1,
    label: 'minibatch',
    help: 'the batch must be a multiple of it',
  },
  {
    key: 'vfCoef',
    group: 'ppo',
    flag: 'vf-coef',
    kind: 'float',
    default: 0.1,
    min: 0,
    label: 'vf coef',
    help: 'vf_coef: weight of the value loss',
  },
  {
    key: 'scoreClip',
    group: 'ppo',
    flag: 'score-clip',
    kind: 'float',
    default: null,
    nullable: 'none',
    min: 0,
    label: 'score clip',
    help: 'score_clip: scores clipped to [−S, S] before the KL penalty; empty: not clipped',
  },
  {
    key: 'gradAccum',
    group: 'ppo',
    flag: 'grad-accum',
    kind: 'int',
    default: 1,
    min: 1,
    label: 'grad accum',
    help: 'micro-batches per minibatch update (gradient accumulation); the minibatch must be a multiple of it',
  },
  {
    key: 'n',
    group: 'rs',
    flag: 'n',
    kind: 'int',
    default: 4,
    min: 1,
    label: 'n',
    help: 'samples per prompt',
  },
  {
    key: 'keep',
    group: 'rs',
    flag: 'keep',
    kind: 'int',
    default: 1,
    min: 1,
    label: 'keep',
    help: 'best k per prompt kept for fine-tuning (at most n)',
  },
  {
    key: 'threshold',
    group: 'rs',
    flag: 'threshold',
    kind: 'float',
    default: null,
    nullable: 'none',
    label: 'threshold',
    help: 'keep only samples scoring at least this',
  },
  {
    key: 'sftEpochs',
    group: 'rs',
    flag: 'epochs',
    kind: 'int',
    default: 2,
    min: 1,
    label: 'SFT epochs',
    help: 'fine-tuning epochs over the kept samples each round',
  },
  {
    key: 'miniBatch',
    group: 'rs',
    flag: 'minibatch',
    kind: 'int',
    default: 4,
    min: 1,
    label: 'minibatch',
    help: 'kept samples per fine-tuning step',
  },
  {
    key: 'gradAccum',
    group: 'rs',
    flag: 'grad-accum',
    kind: 'int',
    default: 1,
    min: 1,
    label: 'grad accum',
    help: 'micro-batches per fine-tuning step (gradient accumulation); the minibatch must be a multiple of it',
  },
  {
    key: 'generations',
    group: 'grpo',
    flag: 'generations',
    kind: 'int',
    default: 4,
    min: 2,
    label: 'generations',
    help: 'completions per prompt (a group)',
  },
  {
    key: 'beta',
    group: 'grpo',
    flag: 'beta',
    kind: 'float',
    default: 0.04,
    min: 0,
    label: 'β',
    help: 'KL weight to the reference',
  },
  {
    key: 'iterations',
    group: 'grpo',
    flag: 'iterations',
    kind: 'int',
    default: 1,
    min: 1,
    label: 'iterations',
    help: 'num_iterations: optimisation passes over each batch (more than 1 clips the ratio)',
  },
  {
    key: 'gradAccum',
    group: 'grpo',
    flag: 'grad-accum',
    kind: 'int',
    default: 1,
    min: 1,
    label: 'grad accum',
    help: 'micro-batches per update (gradient accumulation); batch × generations must be a multiple of it',
  },
  {
    key: 'beta',
    group: 'dpo',
    flag: 'beta',
    kind: 'float',
    default: 0.1,
    min: 0,
    label: 'β',
    help: 'DPO temperature β',
  },
  {
    key: 'gradAccum',
    group: 'dpo',
    flag: 'grad-accum',
    kind: 'int',
    default: 1,
    min: 1,
    label: 'grad accum',
    help: 'micro-batches per step (gradient accumulation); the batch of pairs must be a multiple of it',
  },
];

/** The option groups each algorithm reads. */
export const RL_ALGO_GROUPS: Readonly<Record<RlAlgo, readonly RlOptionGroup[]>> = {
  reward: [],
  ppo: ['sampling', 'ppo'],
  rs: ['sampling', 'rs'],
  grpo: ['sampling', 'grpo'],
  dpo: ['dpo'],
};

/** The options `algo` reads, in the table's order. */
export function rlOptionSpecs(algo: RlAlgo): RlOptionSpec[] {
  const groups = RL_ALGO_GROUPS[algo];
  return RL_OPTIONS.filter((o) => groups.includes(o.group));
}

type Value = number | string | null;

/** The page's form field for the option: `rl-maxNewTokens` (sampling), `rl-ppo-klCoef` (an algorithm's). */
export const rlFieldName = (s: RlOptionSpec): string =>
  s.group === 'sampling' ? `rl-${s.key}` : `rl-${s.group}-${s.key}`;

/**
 * The option's value in `o`; its default where `o` lacks it: a form saved before the option existed (the
 * page's settings merge one level deep, so an old saved group replaces the default group whole).
 */
export function getRlOption(o: RlOptions, s: RlOptionSpec): Value {
  const holder = (s.group === 'sampling' ? o : o[s.group]) as unknown as Record<string, Value> | undefined;
  return holder && s.key in holder ? holder[s.key] : s.default;
}

/** A copy of `o` with the option set to `v`. */
export function setRlOption(o: RlOptions, s: RlOptionSpec, v: Value): RlOptions {
  if (s.group === 'sampling') return { ...o, [s.key]: v };
  return { ...o, [s.group]: { ...o[s.group], [s.key]: v } };
}

/** Every option at its default. */
function defaults(): RlOptions {
  const o = { ppo: {}, rs: {}, grpo: {}, dpo: {} } as unknown as RlOptions;
  let out = o;
  for (const s of RL_OPTIONS) out = setRlOption(out, s, s.default);
  return out;
}

export const RL_OPTION_DEFAULTS: RlOptions = defaults();

/** What a value must be, in words ("an integer ≥ 1", "one of k1, k3"). */
function wanted(s: RlOptionSpec): string {
  if (s.kind === 'enum') return `one of ${s.choices?.join(', ')}`;
  const what = s.kind === 'int' ? 'an integer' : 'a number';
  const range =
    s.min !== undefined && s.max !== undefined
      ? ` in [${s.min}, ${s.max}]`
      : s.min !== undefined
        ? ` ≥ ${s.min}`
        : s.max !== undefined
          ? ` ≤ ${s.max}`
          : '';
  return `${what}${range}${s.nullable ? ` (or empty: ${s.nullable})` : ''}`;
}

/** Null when `v` is a valid value of the option, else what it must be. */
export function checkRlOption(s: RlOptionSpec, v: unknown): string | null {
  if (v === null && s.nullable) return null;
  if (s.kind === 'enum') return typeof v === 'string' && s.choices?.includes(v) ? null : wanted(s);
  const ok =
    typeof v === 'number' &&
    Number.isFinite(v) &&
    (s.kind !== 'int' || Number.isInteger(v)) &&
    (s.min === undefined || v >= s.min) &&
    (s.max === undefined || v <= s.max);
  return ok ? null : wanted(s);
}

/** A flag's or field's text → the option's value; throws what it must be. Empty means null where allowed. */
export function parseRlOption(s: RlOptionSpec, raw: string): Value {
  const t = raw.trim();
  const v: Value = t === '' || t === 'none' ? null : s.kind === 'enum' ? t : Number(t);
  const problem = checkRlOption(s, v);
  if (problem) throw new Error(`must be ${problem}, got "${raw}"`);
  return v;
}

/**
 * The options from flags: `get(flag)` gives a flag's text or undefined; absent flags keep their defaults.
 * Errors name the flag: "--kl-coef -1: must be a number ≥ 0 …".
 */
export function rlOptionsFromFlags(algo: RlAlgo, get: (flag: string) => string | undefined): RlOptions {
  let o = RL_OPTION_DEFAULTS;
  for (const s of rlOptionSpecs(algo)) {
    const raw = get(s.flag);
    if (raw === undefined) continue;
    try {
      o = setRlOption(o, s, parseRlOption(s, raw));
    } catch (e) {
      throw new Error(`--${s.flag} ${raw}: ${e instanceof Error ? e.message : String(e)}`);
    }
  }
  return o;
}

/** The CLI's usage lines for the algorithm options, one per group. */
export function rlFlagsUsage(): string {
  const groups: RlOptionGroup[] = ['sampling', 'ppo', 'rs', 'grpo', 'dpo'];
  return groups
    .map((g) => {
      const flags = RL_OPTIONS.filter((o) => o.group === g).map((o) => {
        const arg = o.kind === 'enum' ? o.choices?.join('|') : o.kind === 'int' ? 'N' : 'X';
        const def = o.default === null ? '' : `=${o.default}`;
        return `[--${o.flag} ${arg}${def}]`;
      });
      return `        ${g === 'sampling' ? 'ppo/rs/grpo' : g}: ${flags.join(' ')}`;
    })
    .join('\n');
}

/** Gradient accumulation splits a batch into equal micro-batches: what must divide by `gradAccum`. */
function accumProblem(algo: RlAlgo, o: RlOptions, batch: number): string | null {
  const split = (what: string, n: number, k: number) =>
    Number.isInteger(k) && k >= 1 && n % k !== 0
      ? `${what} (${n}) must be a multiple of grad accum (${k})`
      : null;
  if (algo === 'ppo') return split('PPO: the minibatch', o.ppo.miniBatch, o.ppo.gradAccum);
  if (algo === 'rs') return split('rejection sampling: the minibatch', o.rs.miniBatch, o.rs.gradAccum);
  if (algo === 'grpo')
    return split('GRPO: batch × generations', batch * o.grpo.generations, o.grpo.gradAccum);
  if (algo === 'dpo') return split('DPO: the batch', batch, o.dpo.gradAccum);
  return null;
}

/**
 * The checks across options and the batch, in the form's words (the CLI prints them too): null when the
 * runner would accept them. Each option's own range is checked first, naming its label.
 */
export function checkRlOptions(algo: RlAlgo, o: RlOptions, batch: number): string | null {
  if (RL_ALGO_GROUPS[algo].includes('sampling') && !(o.maxNewTokens >= 1))
    return 'max new tokens must be at least 1';
  if (algo === 'ppo' && (o.ppo.miniBatch < 1 || batch % o.ppo.miniBatch !== 0))
    return `PPO: the batch (${batch}) must be a multiple of the minibatch (${o.ppo.miniBatch})`;
  if (algo === 'rs' && !(o.rs.keep >= 1 && o.rs.keep <= o.rs.n))
    return `rejection sampling: keep (${o.rs.keep}) must be between 1 and n (${o.rs.n})`;
  if (algo === 'grpo' && !(o.grpo.generations >= 2))
    return `GRPO: ${o.grpo.generations} generations per prompt; a group needs at least 2`;
  const accum = accumProblem(algo, o, batch);
  if (accum) return accum;
  for (const s of rlOptionSpecs(algo)) {
    const problem = checkRlOption(s, getRlOption(o, s));
    if (problem) return `${s.label} must be ${problem}`;
  }
  return null;
}
