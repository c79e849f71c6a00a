// Prompt templates: how a string prompt and completion are rendered before tokenisation. 'none' keeps
// them as they are (a prompt that already ends where the answer starts, as the samples do); 'alpaca' is
// the Stanford Alpaca prompt ("Below is an instruction..." with "### Instruction:", an optional
// "### Input:" and "### Response:"), where instruction and input come from their own columns when the
// mapping names two prompt columns (Alpaca's instruction + input), so they are never glued; 'chat' makes
// the prompt a user turn and the completion an assistant turn, rendered by the tokenizer's chat template
// (tokenize.ts). Applied to checked examples, so training and the page's preview tokenise the same text.
import type { DetectedShape } from './shape';
import type { ChatMessage, Example, ParsedDataset, SourceLocation, Turns } from './types';

export type PromptTemplate = 'none' | 'alpaca' | 'chat';

export const PROMPT_TEMPLATES: readonly { name: PromptTemplate; label: string }[] = [
  { name: 'none', label: 'none (prompt + completion as they are)' },
  { name: 'alpaca', label: 'Alpaca (### Instruction / Input / Response)' },
  { name: 'chat', label: "chat (user / assistant turns, the tokenizer's template)" },
];

/** The Stanford Alpaca prompt, with or without an input section; the response follows it directly. */
export function alpacaPrompt(instruction: string, input = ''): string {
  return input.trim() === ''
    ? 'Below is an instruction that describes a task. Write a response that appropriately completes the request.\n\n' +
        `### Instruction:\n${instruction}\n\n### Response:\n`
    : 'Below is an instruction that describes a task, paired with an input that provides further context. ' +
        'Write a response that appropriately completes the request.\n\n' +
        `### Instruction:\n${instruction}\n\n### Input:\n${input}\n\n### Response:\n`;
}

/** The template a dataset starts with: Alpaca's for instruction + input columns, none otherwise. */
export function defaultTemplate(shape: Pick<DetectedShape, 'mapping'>): PromptTemplate {
  return Array.isArray(shape.mapping.prompt) && shape.mapping.prompt.length > 1 ? 'alpaca' : 'none';
}

const locKey = (s: SourceLocation) => `${s.line ?? ''}:${s.row ?? ''}`;

/**
 * The examples with `template` applied to their string prompts (and completions, for 'chat'). Text and
 * messages examples, and conversational ones, are left as they are. `parsed` and `shape` find an
 * example's row again (by its line or row), to read instruction and input from their own columns.
 */
export function applyTemplate(
  examples: readonly Example[],
  template: PromptTemplate,
  data?: { parsed: Pick<ParsedDataset, 'rows' | 'locations'>; shape: Pick<DetectedShape, 'mapping'> },
): Example[] {
  if (template === 'none') return examples.slice();
  const cols = data?.shape.mapping.prompt;
  const rowAt = new Map<string, Record<string, unknown>>();
  if (data && Array.isArray(cols) && cols.length > 1)
    for (let i = 0; i < data.parsed.locations.length; i++)
      rowAt.set(locKey(data.parsed.locations[i]), data.parsed.rows[i]);
  const str = (v: unknown) => (typeof v === 'string' ? v : '');
  const prompt = (p: Turns, source: SourceLocation): Turns => {
    if (typeof p !== 'string') return p;
    if (template === 'chat') return [{ role: 'user', content: p }];
    const row = rowAt.get(locKey(source));
    if (row && Array.isArray(cols))
      return alpacaPrompt(
        str(row[cols[0]]),
        cols
          .slice(1)
          .map((c) => str(row[c]))
          .filter((t) => t.trim() !== '')
          .join('\n\n'),
      );
    return alpacaPrompt(p);
  };
  const answer = (a: Turns): Turns =>
    template === 'chat' && typeof a === 'string' ? ([{ role: 'assistant', content: a }] as ChatMessage[]) : a;
  return examples.map((ex): Example => {
    switch (ex.kind) {
      case 'prompt_completion':
        if (typeof ex.prompt !== 'string' || typeof ex.completion !== 'string') return ex;
        return { ...ex, prompt: prompt(ex.prompt, ex.source), completion: answer(ex.completion) };
      case 'preference':
        if (typeof ex.prompt !== 'string' || typeof ex.chosen !== 'string') return ex;
        return {
          ...ex,
          prompt: prompt(ex.prompt, ex.source),
          chosen: answer(ex.chosen),
          rejected: answer(ex.rejected),
        };
      case 'prompt_only':
        return { ...ex, prompt: prompt(ex.prompt, ex.source) };
      default:
        return ex;
    }
  });
}
