// Examples to token ids and labels with TRL's SFT semantics, against a tokenizer interface that the
// formats/ tokenizer implements: loss on the completion only for prompt/completion data (prompt labels
// -100), on assistant turns only for messages (or on everything, by option), EOS appended to text and
// completions, truncation keeping the start. Preference rows give chosen and rejected sequences that
// share the prompt (DPO, reward models); prompt-only rows give prompt ids (online RL). Also the
// token-length histogram the UI shows. Packing and batching are pack.ts's and batch.ts's.
import { describeType, IssueLog, issue } from './errors';
import type { ChatMessage, DataIssue, Example, OnError, SourceLocation, Turns } from './types';

/** The label that the loss ignores (PyTorch's and Hugging Face's convention). */
export const IGNORE_INDEX = -100;

/**
 * What the data layer needs from a tokenizer. `encode` adds no special tokens; `bosId` is set exactly
 * when the model's sequences start with BOS (what Hugging Face's add_special_tokens would add: Llama
 * yes, GPT-2 and Qwen no), and the data layer prepends it to plain text. A chat template, when there is
 * one, writes its own BOS and turn ends, so templated text gets neither BOS nor EOS from us.
 */
export interface TextTokenizer {
  encode(text: string): number[];
  decode(ids: number[]): string;
  eosId: number | null;
  bosId: number | null;
  applyChatTemplate?(messages: ChatMessage[], opts: { addGenerationPrompt: boolean }): string;
}

/** One training sequence: labels aligned with inputIds (the model shifts them), -100 where no loss. */
export interface TokenizedExample {
  inputIds: number[];
  labels: number[];
  source: SourceLocation;
  /** Length before truncation (for the histogram and the "N truncated" note). */
  fullLength: number;
  truncated: boolean;
}

export interface TokenizeOptions {
  /** Longest sequence kept; longer ones are cut at the end (TRL's keep_start). */
  maxLength: number;
  /** 'completion' (default): completions and assistant turns only; 'all': every token. */
  lossOn?: 'completion' | 'all';
  /** Append EOS to text and completions (default true), as TRL does, unless they already end with it. */
  addEos?: boolean;
}

/** Plain turns for tokenizers without a chat template: `User: ...\nAssistant: ...\n`. */
export function plainChatTemplate(
  messages: readonly ChatMessage[],
  opts: { addGenerationPrompt: boolean },
): string {
  let s = '';
  for (const m of messages) s += `${m.role.charAt(0).toUpperCase()}${m.role.slice(1)}: ${m.content}\n`;
  return opts.addGenerationPrompt ? `${s}Assistant:` : s;
}

/** The tokenizer's chat template, or the plain one. */
export function renderChat(
  tok: TextTokenizer,
  messages: ChatMessage[],
  addGenerationPrompt: boolean,
): string {
  return tok.applyChatTemplate
    ? tok.applyChatTemplate(messages, { addGenerationPrompt })
    : plainChatTemplate(messages, { addGenerationPrompt });
}

/** A problem with one example, turned into a DataIssue by the callers that take an onError policy. */
export class TokenizeProblem extends Error {}

/** Ids and a 0/1 loss mask before truncation. */
interface Masked {
  ids: number[];
  mask: number[];
}

/** BOS where the tokenizer wants it and the text was not templated. */
function withBos(tok: TextTokenizer, ids: number[], templated: boolean): number[] {
  return !templated && tok.bosId !== null ? [tok.bosId, ...ids] : ids;
}

function withEos(tok: TextTokenizer, m: Masked, addEos: boolean, trained: number): void {
  if (!addEos || tok.eosId === null || m.ids[m.ids.length - 1] === tok.eosId) return;
  m.ids.push(tok.eosId);
  m.mask.push(trained);
}

/** TRL's prompt/completion masking: tokenise prompt and prompt+completion, mask the prompt's length. */
function maskByPrefix(prefixIds: number[], fullIds: number[]): Masked {
  const p = Math.min(prefixIds.length, fullIds.length);
  return { ids: fullIds, mask: fullIds.map((_, i) => (i < p ? 0 : 1)) };
}

function promptCompletion(tok: TextTokenizer, prompt: Turns, completion: Turns, addEos: boolean): Masked {
  if (typeof prompt === 'string' && typeof completion === 'string') {
    const m = maskByPrefix(
      withBos(tok, tok.encode(prompt), false),
      withBos(tok, tok.encode(prompt + completion), false),
    );
    withEos(tok, m, addEos, 1);
    return m;
  }
  if (Array.isArray(prompt) && Array.isArray(completion)) {
    const templated = tok.applyChatTemplate !== undefined;
    const p = withBos(tok, tok.encode(renderChat(tok, prompt, true)), templated);
    const f = withBos(tok, tok.encode(renderChat(tok, [...prompt, ...completion], false)), templated);
    const m = maskByPrefix(p, f);
    if (!templated) withEos(tok, m, addEos, 1);
    return m;
  }
  throw new TokenizeProblem(
    `the prompt is ${describeType(prompt)} but the completion is ${describeType(completion)}`,
  );
}

/**
 * Messages with the assistant turns marked: turn i covers the tokens between the rendering of the
 * turns before it with a generation prompt and the rendering up to and including it. This needs a
 * template that renders a conversation's start as a prefix of the whole, which chat templates do.
 */
function conversation(tok: TextTokenizer, messages: ChatMessage[], addEos: boolean): Masked {
  const templated = tok.applyChatTemplate !== undefined;
  const whole = renderChat(tok, messages, false);
  const ids = withBos(tok, tok.encode(whole), templated);
  const mask = ids.map(() => 0);
  const len = (s: string) => withBos(tok, tok.encode(s), templated).length;
  messages.forEach((msg, i) => {
    if (msg.role !== 'assistant') return;
    const before = renderChat(tok, messages.slice(0, i), true);
    const through = renderChat(tok, messages.slice(0, i + 1), false);
    if (!through.startsWith(before) || !whole.startsWith(through)) {
      throw new TokenizeProblem(
        'the chat template does not render the conversation turn by turn, so assistant turns cannot be found: train on all tokens',
      );
    }
    for (let t = len(before); t < len(through) && t < ids.length; t++) mask[t] = 1;
  });
  const m = { ids, mask };
  if (!templated) withEos(tok, m, addEos, messages[messages.length - 1]?.role === 'assistant' ? 1 : 0);
  return m;
}

/** One SFT example to inputIds and labels. Throws TokenizeProblem when nothing would be learned. */
export function tokenizeExample(tok: TextTokenizer, ex: Example, options: TokenizeOptions): TokenizedExample {
  const addEos = options.addEos ?? true;
  let m: Masked;
  switch (ex.kind) {
    case 'text': {
      m = { ids: withBos(tok, tok.encode(ex.text), false), mask: [] };
      m.mask = m.ids.map(() => 1);
      withEos(tok, m, addEos, 1);
      break;
    }
    case 'prompt_completion':
      m = promptCompletion(tok, ex.prompt, ex.completion, addEos);
      break;
    case 'preference':
      // Supervised training on preference data learns the chosen answer.
      m = promptCompletion(tok, ex.prompt, ex.chosen, addEos);
      break;
    case 'messages':
      m = conversation(tok, ex.messages, addEos);
      break;
    case 'prompt_only':
      throw new TokenizeProblem(
        'the example has a prompt and no completion: prompt-only data is for online RL, not SFT',
      );
  }
  return finish(m, ex.source, options);
}

function finish(m: Masked, source: SourceLocation, options: TokenizeOptions): TokenizedExample {
  const all = options.lossOn === 'all';
  const fullLength = m.ids.length;
  const n = Math.min(fullLength, options.maxLength);
  const inputIds = m.ids.slice(0, n);
  const labels = inputIds.map((id, i) => (all || m.mask[i] === 1 ? id : IGNORE_INDEX));
  // Position 0 is never a target once the model shifts labels, so it does not count.
  if (!labels.some((l, i) => i > 0 && l !== IGNORE_INDEX)) {
    throw new TokenizeProblem(
      m.mask.some((x, i) => i > 0 && x === 1)
        ? `the example has no token left to train on after truncation to ${options.maxLength} tokens`
        : 'the example has no token to train on (no completion or assistant turn)',
    );
  }
  return { inputIds, labels, source, fullLength, truncated: fullLength > n };
}

export interface TokenizedDataset<T> {
  examples: T[];
  skipped: number;
  issues: DataIssue[];
}

function each<T>(
  examples: readonly Example[],
  onError: OnError,
  maxIssues: number,
  f: (ex: Example) => T,
): TokenizedDataset<T> {
  const log = new IssueLog(onError, maxIssues);
  const out: T[] = [];
  for (const ex of examples) {
    try {
      out.push(f(ex));
    } catch (e) {
      if (!(e instanceof TokenizeProblem)) throw e;
      log.add(issue(ex.source, e.message));
    }
  }
  return { examples: out, skipped: log.skipped, issues: log.issues };
}

/** Every example for SFT; examples with nothing to learn follow `onError` (default 'skip'). */
export function tokenizeForSft(
  tok: TextTokenizer,
  examples: readonly Example[],
  options: TokenizeOptions & { onError?: OnError; maxIssues?: number },
): TokenizedDataset<TokenizedExample> {
  return each(examples, options.onError ?? 'skip', options.maxIssues ?? 20, (ex) =>
    tokenizeExample(tok, ex, options),
  );
}

/** A preference pair: chosen and rejected each as prompt + answer, the prompt's labels -100. */
export interface TokenizedPair {
  promptIds: number[];
  chosen: { inputIds: number[]; labels: number[] };
  rejected: { inputIds: number[]; labels: number[] };
  source: SourceLocation;
}

export interface PairOptions {
  maxLength: number;
  /** Prompts longer than this keep their last tokens (TRL's keep_end for prompts). */
  maxPromptLength?: number;
}

/** Prompt ids as a generation would start from them: templated with a generation prompt if chat. */
function promptIds(tok: TextTokenizer, prompt: Turns): number[] {
  if (typeof prompt === 'string') return withBos(tok, tok.encode(prompt), false);
  const templated = tok.applyChatTemplate !== undefined;
  return withBos(tok, tok.encode(renderChat(tok, prompt, true)), templated);
}

/** Answer ids after the prompt: for chat, the rendering of prompt + answer minus the prompt's text. */
function answerIds(tok: TextTokenizer, prompt: Turns, answer: Turns): number[] {
  let ids: number[];
  if (typeof prompt === 'string' && typeof answer === 'string') {
    ids = tok.encode(answer);
  } else if (Array.isArray(prompt) && Array.isArray(answer)) {
    const p = renderChat(tok, prompt, true);
    const full = renderChat(tok, [...prompt, ...answer], false);
    if (!full.startsWith(p))
      throw new TokenizeProblem('the chat template does not render the prompt as a prefix');
    ids = tok.encode(full.slice(p.length));
  } else {
    throw new TokenizeProblem(
      `the prompt is ${describeType(prompt)} but the answers are ${describeType(answer)}`,
    );
  }
  // TRL's DPO appends EOS to both answers.
  return tok.eosId !== null ? [...ids, tok.eosId] : ids;
}

/** One preference example (TRL's DPO tokenisation): shared prompt, chosen and rejected answers. */
export function tokenizePair(tok: TextTokenizer, ex: Example, options: PairOptions): TokenizedPair {
  if (ex.kind !== 'preference')
    throw new TokenizeProblem(`the example is ${ex.kind} data, expected chosen and rejected`);
  let p = promptIds(tok, ex.prompt);
  if (options.maxPromptLength !== undefined && p.length > options.maxPromptLength) {
    p = p.slice(p.length - options.maxPromptLength);
  }
  if (p.length >= options.maxLength) {
    throw new TokenizeProblem(
      `the prompt fills all ${options.maxLength} tokens, leaving none for the answers`,
    );
  }
  const room = options.maxLength - p.length;
  const seq = (answer: Turns) => {
    const a = answerIds(tok, ex.prompt, answer).slice(0, room);
    return { inputIds: [...p, ...a], labels: [...p.map(() => IGNORE_INDEX), ...a] };
  };
  return { promptIds: p, chosen: seq(ex.chosen), rejected: seq(ex.rejected), source: ex.source };
}

/** Every preference example; bad ones follow `onError` (default 'skip'). */
export function tokenizePairs(
  tok: TextTokenizer,
  examples: readonly Example[],
  options: PairOptions & { onError?: OnError; maxIssues?: number },
): TokenizedDataset<TokenizedPair> {
  return each(examples, options.onError ?? 'skip', options.maxIssues ?? 20, (ex) =>
    tokenizePair(tok, ex, options),
  );
}

/** The prompt of any example that has one, as generation starts from it (online RL, eval prompts). */
export function tokenizePrompt(
  tok: TextTokenizer,
  ex: Example,
  options: { maxPromptLength?: number } = {},
): { promptIds: number[]; source: SourceLocation } {
  if (ex.kind === 'text') throw new TokenizeProblem('the example is plain text, with no prompt');
  const prompt = ex.kind === 'messages' ? leadingPrompt(ex.messages) : ex.prompt;
  let p = promptIds(tok, prompt);
  if (options.maxPromptLength !== undefined && p.length > options.maxPromptLength) {
    p = p.slice(p.length - options.maxPromptLength);
  }
  return { promptIds: p, source: ex.source };
}

/** The messages before the last assistant turn (the prompt of a conversation). */
function leadingPrompt(messages: ChatMessage[]): ChatMessage[] {
  let end = messages.length;
  while (end > 0 && messages[end - 1].role === 'assistant') end--;
  return messages.slice(0, end);
}

export interface LengthHistogram {
  bins: { from: number; to: number; count: number }[];
  count: number;
  min: number;
  max: number;
  mean: number;
  median: number;
  p95: number;
  /** How many are longer than maxLength (when given): those get truncated. */
  overMax: number;
}

/** Token lengths in `binCount` equal bins [from, to) from 0 to past the longest, plus summary figures. */
export function tokenLengthHistogram(
  lengths: readonly number[],
  options: { binCount?: number; maxLength?: number } = {},
): LengthHistogram {
  const binCount = Math.max(1, options.binCount ?? 20);
  const sorted = [...lengths].sort((a, b) => a - b);
  const n = sorted.length;
  const max = n > 0 ? sorted[n - 1] : 0;
  const width = Math.max(1, Math.ceil((max + 1) / binCount));
  const bins = Array.from({ length: binCount }, (_, k) => ({
    from: k * width,
    to: (k + 1) * width,
    count: 0,
  }));
  for (const l of sorted) bins[Math.min(binCount - 1, Math.floor(l / width))].count++;
  const q = (p: number) => (n === 0 ? 0 : sorted[Math.min(n - 1, Math.max(0, Math.ceil(p * n) - 1))]);
  const median = n === 0 ? 0 : n % 2 === 1 ? sorted[(n - 1) / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2;
  return {
    bins,
    count: n,
    min: n > 0 ? sorted[0] : 0,
    max,
    mean: n > 0 ? sorted.reduce((a, b) => a + b, 0) / n : 0,
    median,
    p95: q(0.95),
    overMax: options.maxLength === undefined ? 0 : sorted.filter((l) => l > options.maxLength!).length,
  };
}

/** One token of a preview: its text and whether the loss trains on it (its label is not -100). */
export interface PreviewPiece {
  text: string;
  trained: boolean;
}

/** One rendered sequence as training sees it (a preference row has two: chosen and rejected). */
export interface PreviewSequence {
  /** "chosen", "rejected" or "prompt" for the sequences of a row that has several kinds. */
  label?: string;
  pieces: PreviewPiece[];
  /** Tokens before truncation; more than pieces.length when the end was cut. */
  fullLength: number;
  truncated: boolean;
  /** Why training leaves this example out (e.g. nothing left to train on after truncation). */
  problem?: string;
}

/** Token pieces of a tokenised sequence: each id decoded alone, trained where its label is kept. */
export function previewPieces(
  tok: Pick<TextTokenizer, 'decode'>,
  inputIds: readonly number[],
  labels: readonly number[],
): PreviewPiece[] {
  return inputIds.map((id, i) => ({ text: tok.decode([id]), trained: labels[i] !== IGNORE_INDEX }));
}

/**
 * An example as training tokenises it, through the same functions (tokenizeExample for SFT shapes,
 * tokenizePair for preference rows, tokenizePrompt for prompts), rendered as token pieces.
 */
export function previewExample(
  tok: TextTokenizer,
  ex: Example,
  options: { maxLength: number },
): PreviewSequence[] {
  if (ex.kind === 'preference') {
    const cut = tokenizePair(tok, ex, { maxLength: options.maxLength });
    const whole = tokenizePair(tok, ex, { maxLength: Number.MAX_SAFE_INTEGER });
    return (['chosen', 'rejected'] as const).map((k) => ({
      label: k,
      pieces: previewPieces(tok, cut[k].inputIds, cut[k].labels),
      fullLength: whole[k].inputIds.length,
      truncated: whole[k].inputIds.length > cut[k].inputIds.length,
    }));
  }
  if (ex.kind === 'prompt_only') {
    const ids = tokenizePrompt(tok, ex).promptIds;
    const n = Math.min(ids.length, options.maxLength);
    return [
      {
        label: 'prompt',
        pieces: previewPieces(
          tok,
          ids.slice(0, n),
          ids.slice(0, n).map(() => IGNORE_INDEX),
        ),
        fullLength: ids.length,
        truncated: ids.length > n,
      },
    ];
  }
  try {
    const t = tokenizeExample(tok, ex, { maxLength: options.maxLength });
    return [
      { pieces: previewPieces(tok, t.inputIds, t.labels), fullLength: t.fullLength, truncated: t.truncated },
    ];
  } catch (e) {
    // Training skips this example: show what it would have been, cut where training cuts, and why.
    if (!(e instanceof TokenizeProblem)) throw e;
    const t = tokenizeExample(tok, ex, { maxLength: Number.MAX_SAFE_INTEGER });
    const n = Math.min(t.inputIds.length, options.maxLength);
    return [
      {
        pieces: previewPieces(tok, t.inputIds.slice(0, n), t.labels.slice(0, n)),
        fullLength: t.fullLength,
        truncated: t.fullLength > n,
        problem: `left out of training: ${e.message}`,
      },
    ];
  }
}
