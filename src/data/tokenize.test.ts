// Tokenisation with a character-level toy tokenizer (id = UTF-16 code unit), so every id and label
// below can be worked out by hand.
import { describe, expect, it } from 'vitest';
import {
  IGNORE_INDEX,
  type TextTokenizer,
  tokenizeExample,
  tokenizeForSft,
  tokenizePair,
  tokenizePrompt,
  tokenLengthHistogram,
} from './tokenize';
import type { ChatMessage, Example } from './types';

const X = IGNORE_INDEX;
const src = { file: 'train.jsonl', line: 1 };
const codes = (s: string) => [...s].map((c) => c.charCodeAt(0));

function charTokenizer(bosId: number | null = null, eosId: number | null = 0): TextTokenizer {
  return {
    encode: codes,
    decode: (ids) => String.fromCharCode(...ids),
    eosId,
    bosId,
  };
}

/** ChatML, as Qwen's template renders it. */
function chatmlTokenizer(): TextTokenizer {
  return {
    ...charTokenizer(null, 0),
    applyChatTemplate(messages: ChatMessage[], { addGenerationPrompt }) {
      const body = messages.map((m) => `<|im_start|>${m.role}\n${m.content}<|im_end|>\n`).join('');
      return addGenerationPrompt ? `${body}<|im_start|>assistant\n` : body;
    },
  };
}

const kept = (ids: number[], labels: number[]) =>
  String.fromCharCode(...ids.filter((_, i) => labels[i] !== X));

describe('tokenizeExample (TRL SFT semantics)', () => {
  it('text: BOS when the tokenizer wants it, EOS appended, every token trained', () => {
    const t = tokenizeExample(
      charTokenizer(1, 0),
      { kind: 'text', text: 'ab', source: src },
      { maxLength: 16 },
    );
    expect(t).toEqual({
      inputIds: [1, 97, 98, 0],
      labels: [1, 97, 98, 0],
      source: src,
      fullLength: 4,
      truncated: false,
    });
    const noEos = tokenizeExample(
      charTokenizer(),
      { kind: 'text', text: 'ab', source: src },
      { maxLength: 16, addEos: false },
    );
    expect(noEos.inputIds).toEqual([97, 98]);
  });

  it('prompt/completion: loss on the completion and EOS only, unless lossOn is all', () => {
    const ex: Example = { kind: 'prompt_completion', prompt: 'Hi', completion: '!', source: src };
    const t = tokenizeExample(charTokenizer(), ex, { maxLength: 16 });
    expect(t.inputIds).toEqual([72, 105, 33, 0]);
    expect(t.labels).toEqual([X, X, 33, 0]);
    expect(tokenizeExample(charTokenizer(), ex, { maxLength: 16, lossOn: 'all' }).labels).toEqual([
      72, 105, 33, 0,
    ]);
    const bos = tokenizeExample(charTokenizer(2, 0), ex, { maxLength: 16 });
    expect(bos.inputIds).toEqual([2, 72, 105, 33, 0]);
    expect(bos.labels).toEqual([X, X, X, 33, 0]);
  });

  it('truncates keeping the start, and refuses an example left with nothing to learn', () => {
    const ex: Example = { kind: 'prompt_completion', prompt: 'Hi', completion: '!', source: src };
    const t = tokenizeExample(charTokenizer(), ex, { maxLength: 3 });
    expect(t).toMatchObject({ inputIds: [72, 105, 33], labels: [X, X, 33], fullLength: 4, truncated: true });
    expect(() => tokenizeExample(charTokenizer(), ex, { maxLength: 2 })).toThrow(
      'the example has no token left to train on after truncation to 2 tokens',
    );
  });

  it('messages without a chat template: plain turns, loss on assistant text, EOS after the last turn', () => {
    const ex: Example = {
      kind: 'messages',
      messages: [
        { role: 'user', content: 'hi' },
        { role: 'assistant', content: 'yo' },
      ],
      source: src,
    };
    const t = tokenizeExample(charTokenizer(), ex, { maxLength: 64 });
    // "User: hi\n" (9) + "Assistant:" (10) are the prompt; " yo\n" and EOS are trained.
    expect(t.inputIds).toEqual([...codes('User: hi\nAssistant: yo\n'), 0]);
    expect(t.labels).toEqual([...Array(19).fill(X), ...codes(' yo\n'), 0]);
  });

  it('messages with a chat template: only assistant turns (with their end markers) are trained', () => {
    const messages = [
      { role: 'system', content: 's' },
      { role: 'user', content: 'u' },
      { role: 'assistant', content: 'a' },
      { role: 'user', content: 'v' },
      { role: 'assistant', content: 'b' },
    ];
    const tok = chatmlTokenizer();
    const t = tokenizeExample(tok, { kind: 'messages', messages, source: src }, { maxLength: 512 });
    const whole = tok.applyChatTemplate!(messages, { addGenerationPrompt: false });
    expect(t.inputIds).toEqual(codes(whole)); // templated: no EOS of ours
    expect(kept(t.inputIds, t.labels)).toBe('a<|im_end|>\nb<|im_end|>\n');
    const firstA = whole.indexOf('a<|im_end|>');
    expect(t.labels[firstA - 1]).toBe(X);
    expect(t.labels[firstA]).toBe(97);
    const all = tokenizeExample(
      tok,
      { kind: 'messages', messages, source: src },
      { maxLength: 512, lossOn: 'all' },
    );
    expect(all.labels).toEqual(all.inputIds);
  });

  it('conversational prompt/completion: the prompt is rendered with the generation prompt', () => {
    const tok = chatmlTokenizer();
    const ex: Example = {
      kind: 'prompt_completion',
      prompt: [{ role: 'user', content: 'q' }],
      completion: [{ role: 'assistant', content: 'ans' }],
      source: src,
    };
    const t = tokenizeExample(tok, ex, { maxLength: 512 });
    expect(t.inputIds).toEqual(
      codes('<|im_start|>user\nq<|im_end|>\n<|im_start|>assistant\nans<|im_end|>\n'),
    );
    expect(kept(t.inputIds, t.labels)).toBe('ans<|im_end|>\n');
  });

  it('SFT over a list skips what cannot train, naming the row', () => {
    const exs: Example[] = [
      { kind: 'text', text: 'ok', source: src },
      { kind: 'prompt_only', prompt: 'p', source: { file: 'train.jsonl', line: 2 } },
      {
        kind: 'messages',
        messages: [{ role: 'user', content: 'no answer' }],
        source: { file: 'train.jsonl', line: 3 },
      },
    ];
    const r = tokenizeForSft(charTokenizer(), exs, { maxLength: 32 });
    expect(r.examples.length).toBe(1);
    expect(r.skipped).toBe(2);
    expect(r.issues.map((i) => i.message)).toEqual([
      'train.jsonl line 2: the example has a prompt and no completion: prompt-only data is for online RL, not SFT',
      'train.jsonl line 3: the example has no token to train on (no completion or assistant turn)',
    ]);
    expect(() => tokenizeForSft(charTokenizer(), exs, { maxLength: 32, onError: 'stop' })).toThrow(
      'train.jsonl line 2',
    );
  });
});

describe('preference and prompt tokenisation', () => {
  it('chosen and rejected share the prompt; answers end with EOS; prompt labels -100', () => {
    const ex: Example = { kind: 'preference', prompt: 'Q:', chosen: ' A', rejected: ' BB', source: src };
    const p = tokenizePair(charTokenizer(), ex, { maxLength: 16 });
    expect(p.promptIds).toEqual([81, 58]);
    expect(p.chosen).toEqual({ inputIds: [81, 58, 32, 65, 0], labels: [X, X, 32, 65, 0] });
    expect(p.rejected).toEqual({ inputIds: [81, 58, 32, 66, 66, 0], labels: [X, X, 32, 66, 66, 0] });
    const short = tokenizePair(charTokenizer(), ex, { maxLength: 4, maxPromptLength: 1 });
    expect(short.promptIds).toEqual([58]);
    expect(short.rejected.inputIds).toEqual([58, 32, 66, 66]);
  });

  it('conversational pairs take the answer text after the rendered prompt', () => {
    const ex: Example = {
      kind: 'preference',
      prompt: [{ role: 'user', content: 'q' }],
      chosen: [{ role: 'assistant', content: 'y' }],
      rejected: [{ role: 'assistant', content: 'n' }],
      source: src,
    };
    const p = tokenizePair(chatmlTokenizer(), ex, { maxLength: 512 });
    expect(String.fromCharCode(...p.promptIds)).toBe(
      '<|im_start|>user\nq<|im_end|>\n<|im_start|>assistant\n',
    );
    expect(kept(p.chosen.inputIds, p.chosen.labels)).toBe('y<|im_end|>\n\u0000');
  });

  it('prompt ids for online RL, from prompt-only rows and from conversations', () => {
    expect(
      tokenizePrompt(charTokenizer(3), { kind: 'prompt_only', prompt: 'go', source: src }).promptIds,
    ).toEqual([3, 103, 111]);
    const conv = tokenizePrompt(charTokenizer(), {
      kind: 'messages',
      messages: [
        { role: 'user', content: 'hi' },
        { role: 'assistant', content: 'yo' },
      ],
      source: src,
    });
    expect(String.fromCharCode(...conv.promptIds)).toBe('User: hi\nAssistant:');
  });
});

describe('tokenLengthHistogram', () => {
  it('bins and summary figures', () => {
    const h = tokenLengthHistogram([10, 1, 3, 2], { binCount: 2, maxLength: 3 });
    expect(h.bins).toEqual([
      { from: 0, to: 6, count: 3 },
      { from: 6, to: 12, count: 1 },
    ]);
    expect(h).toMatchObject({ count: 4, min: 1, max: 10, mean: 4, median: 2.5, p95: 10, overMax: 1 });
    expect(tokenLengthHistogram([]).count).toBe(0);
  });
});
