// data/: the run's train and eval examples as JSONL in TRL's dataset shapes, which `datasets` loads with
// load_dataset("json", ...): text, prompt/completion, messages for SFT; prompt/chosen/rejected for reward
// models and DPO; prompt (+ the reference answer, for exact match) for the online algorithms.
import type { ChatMessage, Example } from '../../data/types';
import type { DataShape } from './trainer';
import type { RecipeAlgo, RecipeSplit } from './types';

type Row = Record<string, unknown>;

/** The messages before the last assistant turn (train/rl/prompts.ts's prompt of a conversation). */
function leadingPrompt(messages: readonly ChatMessage[]): ChatMessage[] {
  let end = messages.length;
  while (end > 0 && messages[end - 1].role === 'assistant') end--;
  return messages.slice(0, end);
}

/** One example as the algorithm's trainer reads it. */
export function recipeRow(algo: RecipeAlgo, e: Example): Row {
  if (algo === 'ppo' || algo === 'rs' || algo === 'grpo') {
    if (e.kind === 'text') throw new Error('recipe: an online run has no prompt in a text example');
    const prompt = e.kind === 'messages' ? leadingPrompt(e.messages) : e.prompt;
    const reference =
      e.kind === 'prompt_completion' && typeof e.completion === 'string' ? e.completion : null;
    return { prompt, reference };
  }
  switch (e.kind) {
    case 'text':
      return { text: e.text };
    case 'prompt_completion':
      return { prompt: e.prompt, completion: e.completion };
    case 'messages':
      return { messages: e.messages };
    case 'preference':
      return { prompt: e.prompt, chosen: e.chosen, rejected: e.rejected };
    case 'prompt_only':
      return { prompt: e.prompt };
  }
}

const jsonl = (rows: readonly Row[]) => rows.map((r) => `${JSON.stringify(r)}\n`).join('');

/** data/train.jsonl and data/eval.jsonl (only when the run holds examples out), and the shape they have. */
export function dataFiles(
  algo: RecipeAlgo,
  split: RecipeSplit,
): { files: { path: string; text: string }[]; shape: DataShape } {
  if (split.train.length === 0) throw new Error('recipe: the run has no training example');
  const online = algo === 'ppo' || algo === 'rs' || algo === 'grpo';
  const kind = split.train[0].kind;
  const shape: DataShape['shape'] = online ? 'prompt_only' : kind;
  const files = [{ path: 'data/train.jsonl', text: jsonl(split.train.map((e) => recipeRow(algo, e))) }];
  if (split.eval.length > 0)
    files.push({ path: 'data/eval.jsonl', text: jsonl(split.eval.map((e) => recipeRow(algo, e))) });
  return { files, shape: { shape, hasEval: split.eval.length > 0 } };
}
