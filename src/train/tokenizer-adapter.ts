// The data layer's view of a model tokenizer, and its pad and end-of-sequence ids: shared by the CLI and the
// training worker so both tokenise a dataset and stop a generation exactly alike (moved here from src/cli/model-dir.ts, which imported Node modules).
import type { TextTokenizer as DataTokenizer } from '../data/tokenize';
import type { ModelConfig } from '../formats/model-config';
import type { TextTokenizer } from '../formats/tokenizer';

/**
 * No special tokens from `encode` (the data layer places BOS/EOS itself), and BOS only for families that
 * expect it at the start (Llama), as TRL does.
 */
export function dataTokenizer(tok: TextTokenizer, config: ModelConfig): DataTokenizer {
  return {
    encode: (text) => tok.encode(text, { addSpecialTokens: false }),
    decode: (ids) => tok.decode(ids),
    eosId: tok.eosId,
    bosId: config.family === 'llama' && config.modelType === 'llama' ? tok.bosId : null,
    applyChatTemplate: tok.hasChatTemplate
      ? (messages, opts) => tok.applyChatTemplate(messages, { addGenerationPrompt: opts.addGenerationPrompt })
      : undefined,
  };
}

/** The ids every front end needs from a model's tokenizer and config, worked out in this one place. */
export interface SpecialIds {
  /** Fills rows past their end: the tokenizer's pad token, else its end-of-sequence token, else 0. */
  padId: number;
  /** Tokens that end a generation: config.json's eos_token_id(s) and the tokenizer's eos token. */
  eosIds: number[];
}

export function specialIds(tok: TextTokenizer, config: ModelConfig): SpecialIds {
  const eosIds = [...new Set([...config.eosTokenIds, ...(tok.eosId !== null ? [tok.eosId] : [])])];
  return { padId: tok.padId ?? tok.eosId ?? eosIds[0] ?? 0, eosIds };
}
