// The exact examples a run trains and evaluates on, for the recipe's data/ folder: the same tokenisation
// and seeded split the run goes through (train/sft-data.ts for SFT, train/rl/factory.ts for RL), mapped back
// from tokenised rows to the examples they came from, so the cluster run sees the browser run's rows.
import { splitTrainEval } from '../../data/split';
import { tokenizeForSft, tokenizePairs, tokenizePrompt } from '../../data/tokenize';
import type { Example, SourceLocation } from '../../data/types';
import type { ModelConfig } from '../../formats/model-config';
import type { TextTokenizer } from '../../formats/tokenizer';
import { dataTokenizer } from '../tokenizer-adapter';
import type { RecipeAlgo, RecipeSplit } from './types';

export interface SplitSettings {
  seqLen: number;
  seed: number;
  /** SFT and reward models: the held-out share (the other RL algorithms train on everything). */
  evalFraction: number;
  /** Online algorithms: prompts are cut to this many tokens. */
  maxPromptLength: number;
}

const keyOf = (s: SourceLocation) => `${s.file}\u0000${s.line ?? ''}\u0000${s.row ?? ''}`;

/** The examples behind tokenised rows, by their source (each row remembers where it came from). */
function backToExamples(
  examples: readonly Example[],
  rows: readonly { source: SourceLocation }[],
): Example[] {
  const byKey = new Map<string, Example[]>();
  for (const e of examples) {
    const k = keyOf(e.source);
    byKey.set(k, [...(byKey.get(k) ?? []), e]);
  }
  const used = new Map<string, number>();
  return rows.map((r) => {
    const k = keyOf(r.source);
    const i = used.get(k) ?? 0;
    used.set(k, i + 1);
    const e = byKey.get(k)?.[i];
    if (!e) throw new Error(`recipe: no example at ${r.source.file} line ${r.source.line ?? r.source.row}`);
    return e;
  });
}

/** The run's train and eval examples, in the run's order. */
export function recipeSplit(
  algo: RecipeAlgo,
  tokenizer: TextTokenizer,
  config: ModelConfig,
  examples: readonly Example[],
  s: SplitSettings,
): RecipeSplit {
  const tok = dataTokenizer(tokenizer, config);
  if (algo === 'sft') {
    const kept = backToExamples(examples, tokenizeForSft(tok, examples, { maxLength: s.seqLen }).examples);
    return splitTrainEval(kept, { evalFraction: s.evalFraction, seed: s.seed });
  }
  if (algo === 'reward' || algo === 'dpo') {
    const kept = backToExamples(examples, tokenizePairs(tok, examples, { maxLength: s.seqLen }).examples);
    return splitTrainEval(kept, { evalFraction: algo === 'reward' ? s.evalFraction : 0, seed: s.seed });
  }
  // Online algorithms sample from every example with a prompt (train/rl/prompts.ts promptSet).
  const train = examples.filter((e) => {
    if (e.kind === 'text') return false;
    const p = tokenizePrompt(tok, e, { maxPromptLength: s.maxPromptLength }).promptIds;
    return !(p.length === 0 || (p.length === 1 && p[0] === tok.bosId));
  });
  return { train, eval: [] };
}
