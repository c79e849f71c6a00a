// What a recipe is made from and what it is: the run as the playground holds it (algorithm, method and its
// options, the run's settings, the RL options, the reward, the model and the exact data split) in, and plain
// text files out, so the page's worker (zipped) and the CLI (written to a folder) produce the same folder.
import type { Example } from '../../data/types';
import type { ModelConfig } from '../../formats/model-config';
import type { MethodContext } from '../../peft/types';
import type { RlRunSettings } from '../rl/factory';
import type { RlAlgo } from '../rl/options';
import type { SftRunConfig } from '../sft-config';

export type RecipeAlgo = 'sft' | RlAlgo;
export const RECIPE_ALGOS: readonly RecipeAlgo[] = ['sft', 'reward', 'ppo', 'rs', 'dpo', 'grpo'];

/** An online run's reward: a built-in spec (`sentiment`, `length:8`…), user JavaScript, or a reward model. */
export type RecipeReward =
  | { kind: 'spec'; spec: string }
  | { kind: 'js'; source: string }
  | { kind: 'model'; path: string };

/** The examples the run trains and evaluates on, in the run's order (src/train/recipe/split.ts). */
export interface RecipeSplit {
  train: readonly Example[];
  eval: readonly Example[];
}

/**
 * A sparse or rows run's fixed entries per target weight: flat row-major indices in the canonical [out, in]
 * (sparse, N:M included), or whole output rows (rows).
 */
export interface SparseMaskEntry {
  /** The module path (e.g. `model.layers.0.self_attn.q_proj`). */
  module: string;
  shape: [number, number];
  indices?: readonly number[];
  rows?: readonly number[];
}

export interface RecipeInput {
  algo: RecipeAlgo;
  model: {
    /** A Hugging Face id or a folder: what `from_pretrained` loads on the cluster. */
    name: string;
    config: ModelConfig;
    /** The tokenizer has its own chat template; without one the playground's plain `User:/Assistant:` is used. */
    hasChatTemplate: boolean;
  };
  /** The run's settings: for SFT the whole config; for RL the method, options and AdamW settings. */
  run: SftRunConfig;
  /** Share of the examples held out for evaluation (SFT; reward models through `rl.train.evalFraction`). */
  evalFraction: number;
  /** RL runs: the algorithm's options and training settings, as train/rl/factory.ts builds the runner from. */
  rl?: RlRunSettings;
  /** Online algorithms' reward (default: the built-in sentiment reward, as the runner's). */
  reward?: RecipeReward;
  split: RecipeSplit;
  /** Sparse and rows runs: the entries the run trains (sparse_mask.json beside train.py). */
  sparseMask?: readonly SparseMaskEntry[];
  /** What the method's parse may need (prompt tuning's TEXT init tokenizes its text). */
  methodCtx?: MethodContext;
  /** When the recipe was written (recipe.json), ISO 8601. */
  createdAt?: string;
}

export interface RecipeFile {
  path: string;
  text: string;
}
