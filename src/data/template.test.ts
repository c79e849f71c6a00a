// Prompt templates and the training preview, with a character-level toy tokenizer (id = UTF-16 code
// unit), so the trained flags can be checked against the prompt's exact length; and an Alpaca table
// (instruction, input, output) read through parse → shape → validate → template → tokenize.
import { describe, expect, it } from 'vitest';
import { prepareDataset } from './prepare';
import { alpacaPrompt, applyTemplate, defaultTemplate } from './template';
import { IGNORE_INDEX, previewExample, type TextTokenizer, tokenizeExample } from './tokenize';
import type { Example } from './types';

const chars: TextTokenizer = {
  encode: (s) => [...s].map((c) => c.charCodeAt(0)),
  decode: (ids) => String.fromCharCode(...ids),
  eosId: 0,
  bosId: null,
};
const src = { file: 'a.jsonl', line: 1 };
const text = (pieces: { text: string }[]) => pieces.map((p) => p.text).join('');

const ALPACA = [
  { instruction: 'Give the opposite of the word.', input: 'hot', output: 'cold' },
  { instruction: 'Say hello.', input: '', output: 'Hello!' },
]
  .map((r) => JSON.stringify(r))
  .join('\n');

describe('the Alpaca template', () => {
  it('renders instruction, input and the response header; no input section for an empty input', () => {
    expect(alpacaPrompt('Give the opposite of the word.', 'hot')).toBe(
      'Below is an instruction that describes a task, paired with an input that provides further context. ' +
        'Write a response that appropriately completes the request.\n\n' +
        '### Instruction:\nGive the opposite of the word.\n\n### Input:\nhot\n\n### Response:\n',
    );
    expect(alpacaPrompt('Say hello.')).toBe(
      'Below is an instruction that describes a task. Write a response that appropriately completes the request.\n\n' +
        '### Instruction:\nSay hello.\n\n### Response:\n',
    );
  });

  it('maps an instruction/input/output table through it, from the columns (never glued)', async () => {
    const prepared = await prepareDataset('alpaca.jsonl', new TextEncoder().encode(ALPACA));
    expect(prepared.shape.mapping).toEqual({ prompt: ['instruction', 'input'], completion: 'output' });
    expect(defaultTemplate(prepared.shape)).toBe('alpaca');
    // prepareDataset (the path of both the page and the CLI) applies the shape's default template.
    expect(prepared.template).toBe('alpaca');
    const ex = prepared.examples;
    expect(applyTemplate(ex, 'alpaca', prepared)).toEqual(ex); // from the columns again: the same text
    expect(ex[0]).toMatchObject({
      kind: 'prompt_completion',
      prompt: alpacaPrompt('Give the opposite of the word.', 'hot'),
      completion: 'cold',
    });
    expect(ex[1]).toMatchObject({ prompt: alpacaPrompt('Say hello.'), completion: 'Hello!' });
    // Tokenised as training tokenises it: the loss is on the output (and EOS) only.
    const t = tokenizeExample(chars, ex[0], { maxLength: 1000 });
    const prompt = alpacaPrompt('Give the opposite of the word.', 'hot');
    expect(t.labels.slice(0, prompt.length).every((l) => l === IGNORE_INDEX)).toBe(true);
    expect(t.labels.slice(prompt.length)).toEqual([...'cold'].map((c) => c.charCodeAt(0)).concat(0));
    // "none" leaves the prompt as validate joined it; a one-column prompt defaults to no template.
    const plain = await prepareDataset('alpaca.jsonl', new TextEncoder().encode(ALPACA), {
      template: 'none',
    });
    expect(plain.template).toBe('none');
    expect(plain.examples[0]).toMatchObject({ prompt: 'Give the opposite of the word.\n\nhot' });
    expect(defaultTemplate({ mapping: { prompt: 'q', completion: 'a' } })).toBe('none');
  });

  it('chat turns a string pair into a user and an assistant message', () => {
    const ex: Example = { kind: 'prompt_completion', prompt: 'Hi', completion: ' there', source: src };
    expect(applyTemplate([ex], 'chat')[0]).toMatchObject({
      prompt: [{ role: 'user', content: 'Hi' }],
      completion: [{ role: 'assistant', content: ' there' }],
    });
  });
});

describe('the training preview', () => {
  it('flags exactly the prompt tokens as not trained (labels -100), the completion and EOS as trained', () => {
    const ex: Example = {
      kind: 'prompt_completion',
      prompt: 'The plural of cat is',
      completion: ' cats.',
      source: src,
    };
    const [seq] = previewExample(chars, ex, { maxLength: 64 });
    const flags = seq.pieces.map((p) => p.trained);
    expect(flags).toEqual([...Array(20).fill(false), ...Array(7).fill(true)]);
    expect(text(seq.pieces)).toBe(`The plural of cat is cats.${String.fromCharCode(0)}`);
    expect(seq).toMatchObject({ fullLength: 27, truncated: false });
  });

  it('shows truncation: the kept tokens and the length before the cut', () => {
    const ex: Example = { kind: 'text', text: 'abcdefghij', source: src };
    const [seq] = previewExample(chars, ex, { maxLength: 4 });
    expect(text(seq.pieces)).toBe('abcd');
    expect(seq.pieces.every((p) => p.trained)).toBe(true);
    expect(seq).toMatchObject({ fullLength: 11, truncated: true });
  });

  it('renders messages with only the assistant turn trained', () => {
    const ex: Example = {
      kind: 'messages',
      messages: [
        { role: 'user', content: 'Hi' },
        { role: 'assistant', content: 'Yo' },
      ],
      source: src,
    };
    const [seq] = previewExample(chars, ex, { maxLength: 64 });
    const trained = seq.pieces
      .filter((p) => p.trained)
      .map((p) => p.text)
      .join('');
    // The plain template: "User: Hi\nAssistant: Yo\n" (+ EOS), the loss on the assistant's rendered turn.
    expect(text(seq.pieces).startsWith('User: Hi\nAssistant: Yo\n')).toBe(true);
    expect(trained).toContain('Yo');
    expect(trained).not.toContain('Hi');
  });

  it('gives a preference row its chosen and rejected sequences, the shared prompt untrained', () => {
    const ex: Example = {
      kind: 'preference',
      prompt: 'It was',
      chosen: ' good',
      rejected: ' bad',
      source: src,
    };
    const seqs = previewExample(chars, ex, { maxLength: 64 });
    expect(seqs.map((s) => s.label)).toEqual(['chosen', 'rejected']);
    for (const s of seqs) expect(s.pieces.slice(0, 6).every((p) => !p.trained)).toBe(true);
    expect(
      seqs[0].pieces
        .slice(6)
        .map((p) => p.text)
        .join(''),
    ).toBe(` good${String.fromCharCode(0)}`);
    expect(seqs[1].pieces.slice(6).every((p) => p.trained)).toBe(true);
  });

  it('shows a prompt-only row as the prompt generation starts from, nothing trained', () => {
    const ex: Example = { kind: 'prompt_only', prompt: 'She felt', source: src };
    const [seq] = previewExample(chars, ex, { maxLength: 64 });
    expect(seq.label).toBe('prompt');
    expect(text(seq.pieces)).toBe('She felt');
    expect(seq.pieces.some((p) => p.trained)).toBe(false);
  });
});
