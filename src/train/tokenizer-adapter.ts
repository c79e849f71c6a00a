// The data layer's view of a model tokenizer, shared by the CLI and the training worker so both tokenise
// a dataset exactly alike (moved here from src/cli/model-dir.ts, which imported Node modules).
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
