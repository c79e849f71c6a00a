// What an RL run in the playground is configured with, as plain data both the page and the training worker
// read (no engine code, so the page's bundle stays free of it): the algorithm, its options (declared once in
// train/rl/options.ts, with the CLI's flags), the reward choice, the form's TRL-like defaults, the check of a
// dataset's shape against the algorithm, and the reward form → RewardChoice conversion (validated with the CLI's own spec parser, so both accept the same).
// The worker (rl-runs.ts) turns an RlRunSpec into a runner through train/rl/factory.ts, as the CLI does.

import type { ShapeKind } from '../data/types';
import { parseRewardSpec } from '../train/rewards/builtin';
import { RL_OPTION_DEFAULTS, type RlAlgo, type RlOptions } from '../train/rl/options';

export type {
  DpoOptions,
  GrpoOptions,
  PpoOptions,
  RlAlgo,
  RlOptions,
  RsOptions,
} from '../train/rl/options';

export type Algorithm = 'sft' | RlAlgo;

export const ALGORITHMS: { value: Algorithm; label: string }[] = [
  { value: 'sft', label: 'SFT' },
  { value: 'reward', label: 'Reward model' },
  { value: 'ppo', label: 'PPO' },
  { value: 'rs', label: 'Rejection sampling' },
  { value: 'dpo', label: 'DPO' },
  { value: 'grpo', label: 'GRPO' },
];

/** Algorithms that sample completions and score them with a reward. */
export const ONLINE: ReadonlySet<Algorithm> = new Set(['ppo', 'rs', 'grpo']);
/** Algorithms that train on chosen/rejected pairs. */
export const PAIRWISE: ReadonlySet<Algorithm> = new Set(['reward', 'dpo']);

/** How an online run is scored: a built-in spec (`sentiment`, `length:N`, …), user JavaScript, or a
 * finished reward-model run of this session (by run id). */
export type RewardChoice =
  | { kind: 'spec'; spec: string }
  | { kind: 'js'; code: string; timeoutMs: number }
  | { kind: 'model'; runId: string };

/** The RL part of a run's spec (the rest — method, lr, steps, batch, seq len, seed — is the SFT config's):
 * the algorithm, its reward (online algorithms) and the options of train/rl/options.ts. */
export interface RlRunSpec extends RlOptions {
  algo: RlAlgo;
  /** Online algorithms only. */
  reward?: RewardChoice;
}

/** The form's defaults: the options table's (TRL's where TRL has them; a test checks them against the
 * runners' *_DEFAULTS). */
export const RL_FORM_DEFAULTS: Omit<RlRunSpec, 'algo' | 'reward'> = RL_OPTION_DEFAULTS;

/** The shapes each algorithm can read, and why (for the message). */
const PROMPT_SHAPES: readonly ShapeKind[] = ['prompt_only', 'prompt_completion', 'messages', 'preference'];

/**
 * Null when the dataset's shape suits the algorithm, else the sentence to show. Online algorithms take the
 * prompts of any shape with one (prompt-only, prompt/completion, chat messages, or the prompt of
 * chosen/rejected pairs); reward models and DPO need chosen/rejected pairs. Exact match needs reference
 * completions.
 */
export function checkShape(algo: Algorithm, shape: ShapeKind, reward?: RewardChoice): string | null {
  const name = ALGORITHMS.find((a) => a.value === algo)?.label ?? algo;
  if (PAIRWISE.has(algo) && shape !== 'preference')
    return `${name} trains on preference pairs (chosen/rejected columns); this dataset is ${shape}. Load one with chosen and rejected, e.g. the preferences sample.`;
  if (ONLINE.has(algo)) {
    if (!PROMPT_SHAPES.includes(shape))
      return `${name} samples completions from prompts; this dataset is ${shape}, with no prompts. Load prompt-only, prompt/completion, chat or preference data, e.g. the rl-prompts sample.`;
    if (reward?.kind === 'spec' && reward.spec === 'exact' && shape !== 'prompt_completion')
      return `the exact-match reward compares with a reference completion: it needs prompt/completion data, and this dataset is ${shape}.`;
  }
  return null;
}

/** The reward form as the page keeps it. */
export interface RewardForm {
  kind: 'sentiment' | 'length' | 'regex' | 'keywords' | 'exact' | 'js' | 'model';
  /** length: the target word count; regex: the pattern; keywords: comma-separated words. */
  arg: string;
  /** The JavaScript reward's source (defines `function reward({ prompt, completion, reference })`). */
  code: string;
  timeoutMs: number;
  /** A finished reward-model run's id. */
  modelRunId: string;
}

export const REWARD_FORM_DEFAULTS: RewardForm = {
  kind: 'sentiment',
  arg: '',
  code: `// Scores one completion; runs in its own worker with a time limit and no page access.
function reward({ prompt, completion, reference }) {
  const words = completion.toLowerCase().match(/[a-z']+/g) || [];
  return words.filter((w) => ['good', 'great', 'happy', 'fine', 'nice'].includes(w)).length;
}`,
  timeoutMs: 2000,
  modelRunId: '',
};

/** The form → a RewardChoice, or the sentence saying what is wrong with it. */
export function rewardFromForm(f: RewardForm): { reward: RewardChoice } | { error: string } {
  if (f.kind === 'js') {
    if (!/\bfunction\s+reward\b|\breward\s*=/.test(f.code))
      return { error: 'the JavaScript reward must define a function named reward' };
    if (!(f.timeoutMs > 0)) return { error: 'the JavaScript reward needs a time limit above 0 ms' };
    return { reward: { kind: 'js', code: f.code, timeoutMs: f.timeoutMs } };
  }
  if (f.kind === 'model') {
    if (!f.modelRunId) return { error: 'choose a finished reward-model run for the model reward' };
    return { reward: { kind: 'model', runId: f.modelRunId } };
  }
  const spec = f.kind === 'sentiment' || f.kind === 'exact' ? f.kind : `${f.kind}:${f.arg.trim()}`;
  try {
    parseRewardSpec(spec);
  } catch (e) {
    // The parser speaks the CLI's syntax (--reward …); the form's message names the field instead.
    return { error: (e instanceof Error ? e.message : String(e)).replace(/^--reward /, 'reward ') };
  }
  return { reward: { kind: 'spec', spec } };
}
