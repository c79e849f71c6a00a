// The recipe's input from what a front end holds about a run: the model (name, config, tokenizer), the
// prepared examples, the run's SftRunConfig and, for RL, its RlRunSettings and reward. Both the page's worker
// (worker/exports.ts) and the CLI (cli/recipe.ts) call this, so they write the same folder for the same run.
import type { Example } from '../../data/types';
import type { ModelConfig } from '../../formats/model-config';
import type { TextTokenizer } from '../../formats/tokenizer';
import { linearSites } from '../../model/sites';
import type { RlRunSettings } from '../rl/factory';
import { type SftRunConfig, sftRunConfig } from '../sft-config';
import { recipeSplit } from './split';
import type { RecipeAlgo, RecipeInput, RecipeReward, SparseMaskEntry } from './types';

export interface RunForRecipe {
  algo: RecipeAlgo;
  model: { name: string; config: ModelConfig; tokenizer: TextTokenizer };
  examples: readonly Example[];
  /** The run's settings (an RL run's are taken from `rl`: rlRunConfig). */
  run: SftRunConfig;
  evalFraction: number;
  rl?: RlRunSettings;
  reward?: RecipeReward;
  /** The run's fixed integer tensors (a sparse adapter's indices, from its plan). */
  ints?: readonly { name: string; data: Int32Array }[];
  createdAt?: string;
}

const INDICES = /^base_model\.model\.(.+)\.weight\.(sparse|row)_indices$/;

/** A sparse or rows plan's indices per target weight, with the weight's canonical [out, in] shape. */
export function sparseMaskOf(
  config: ModelConfig,
  ints: readonly { name: string; data: Int32Array }[],
): SparseMaskEntry[] {
  const sites = new Map(linearSites(config).map((s) => [s.path, s]));
  const out: SparseMaskEntry[] = [];
  for (const { name, data } of ints) {
    const m = INDICES.exec(name);
    const site = m ? sites.get(m[1]) : undefined;
    if (!m || !site) continue;
    const shape: [number, number] = [site.outFeatures, site.inFeatures];
    const ids = Array.from(data);
    out.push(m[2] === 'row' ? { module: m[1], shape, rows: ids } : { module: m[1], shape, indices: ids });
  }
  return out;
}

/**
 * An RL run's settings as an SftRunConfig: only what the RL runners read (method, options, lr, steps, batch,
 * sequence length, AdamW's decay and clip, seed), the rest at SFT_DEFAULTS — so a page run (whose spec also
 * carries the SFT form's fields) and the CLI's flags give the same recipe.json.
 */
export function rlRunConfig(rl: RlRunSettings): SftRunConfig {
  const t = rl.train;
  return sftRunConfig({
    method: t.method,
    options: t.options,
    lr: t.lr,
    steps: t.steps,
    batch: t.batch,
    seqLen: t.seqLen,
    weightDecay: t.weightDecay,
    maxGradNorm: t.maxGradNorm,
    seed: t.seed,
  });
}

export function recipeInputOf(x: RunForRecipe): RecipeInput {
  const t = x.rl?.train;
  const split = recipeSplit(x.algo, x.model.tokenizer, x.model.config, x.examples, {
    seqLen: t?.seqLen ?? x.run.seqLen,
    seed: t?.seed ?? x.run.seed,
    evalFraction: t ? t.evalFraction : x.evalFraction,
    maxPromptLength: t?.maxPromptLength ?? 64,
  });
  return {
    algo: x.algo,
    model: { name: x.model.name, config: x.model.config, hasChatTemplate: x.model.tokenizer.hasChatTemplate },
    run: x.rl ? rlRunConfig(x.rl) : x.run,
    evalFraction: t ? t.evalFraction : x.evalFraction,
    rl: x.rl,
    reward: x.reward,
    split,
    sparseMask: x.ints && x.ints.length > 0 ? sparseMaskOf(x.model.config, x.ints) : undefined,
    methodCtx: {
      tokenizer: { encode: (text: string) => x.model.tokenizer.encode(text) },
      tokenizerName: x.model.name,
    },
    createdAt: x.createdAt,
  };
}
