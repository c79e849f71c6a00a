// The prompts an online RL algorithm (PPO, rejection sampling, GRPO) samples from: one per dataset example
// that has a prompt (prompt-only, prompt/completion, messages, preference rows with an explicit prompt),
// tokenised as the chat template or plain text would put it, with the reference completion where the data
// has one (the exact-match reward needs it). Shared by the playground's worker and the CLI.
import { type TextTokenizer as DataTokenizer, tokenizePrompt } from '../../data/tokenize';
import type { Example } from '../../data/types';
import type { PromptSet } from './common';

/** The prompts of every example that has one (online algorithms), with reference answers where given. */
export function promptSet(
  tok: DataTokenizer,
  examples: readonly Example[],
  decode: (ids: readonly number[]) => string,
  maxPromptLength = 64,
): PromptSet {
  const set: PromptSet = { ids: [], texts: [], references: [] };
  for (const e of examples) {
    if (e.kind === 'text') continue;
    const p = tokenizePrompt(tok, e, { maxPromptLength });
    // A prompt of only BOS (a preference row without an explicit prompt) gives nothing to continue from.
    if (p.promptIds.length === 0 || (p.promptIds.length === 1 && p.promptIds[0] === tok.bosId)) continue;
    set.ids.push(p.promptIds);
    set.texts.push(decode(p.promptIds));
    set.references?.push(
      e.kind === 'prompt_completion' && typeof e.completion === 'string' ? e.completion : undefined,
    );
  }
  return set;
}
