// From a prepared dataset to what an SFT run trains on: tokenise every example with the model's tokenizer
// (BOS, EOS, chat template and completion-only labels as TRL places them), split train/eval by seed, and
// pick the pad id. The page's worker and the CLI both call this, so the same file, model and seed give the
// same rows, batches and losses in both front ends. A dataset already tokenised into a token arena
// (data/ingest.ts, untruncated) gives the same rows through sftDataFromArena without a second copy of its
// tokens: each row reads its ids from the arena when a batch is made.
import type { BatchRow } from '../data/batch';
import { splitTrainEval } from '../data/split';
import { sftRows, type TokenArena } from '../data/token-arena';
import { tokenizeForSft } from '../data/tokenize';
import type { DataIssue, Example } from '../data/types';
import type { ModelConfig } from '../formats/model-config';
import type { TextTokenizer } from '../formats/tokenizer';
import type { SftData } from './sft';
import { dataTokenizer, specialIds } from './tokenizer-adapter';

export interface SftDataOptions {
  seqLen: number;
  /** Share of the tokenised examples held out for evaluation (0..1). */
  evalFraction: number;
  /** The run's seed: it also fixes the split. */
  seed: number;
}

export interface SftDataResult extends SftData {
  /** Examples the tokenizer could not use (too long after truncation rules, empty...), with reasons. */
  issues: readonly DataIssue[];
  /** How many examples were skipped (issues keeps only the first few). */
  skipped: number;
}

export function sftData(
  tokenizer: TextTokenizer,
  config: ModelConfig,
  examples: readonly Example[],
  o: SftDataOptions,
): SftDataResult {
  const tok = tokenizeForSft(dataTokenizer(tokenizer, config), examples, { maxLength: o.seqLen });
  const split = splitTrainEval<BatchRow>(tok.examples, { evalFraction: o.evalFraction, seed: o.seed });
  return {
    train: split.train,
    eval: split.eval,
    padId: specialIds(tokenizer, config).padId,
    issues: tok.issues,
    skipped: tok.skipped,
  };
}

/**
 * sftData for examples held in a token arena, tokenised with dataTokenizer(tokenizer, config) and no
 * length limit: the same train and eval rows (cut at seqLen), skips and reasons, in the same order.
 */
export function sftDataFromArena(
  tokenizer: TextTokenizer,
  config: ModelConfig,
  arena: TokenArena,
  o: SftDataOptions,
): SftDataResult {
  const tok = sftRows(arena, o.seqLen);
  const split = splitTrainEval<BatchRow>(tok.examples, { evalFraction: o.evalFraction, seed: o.seed });
  return {
    train: split.train,
    eval: split.eval,
    padId: specialIds(tokenizer, config).padId,
    issues: tok.issues,
    skipped: tok.skipped,
  };
}
