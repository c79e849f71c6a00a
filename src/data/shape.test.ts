// TRL shape detection, alias suggestions and user mappings; then the row checks that follow a shape.
import { describe, expect, it } from 'vitest';
import { DataError } from './errors';
import { detectShape, mappingForShape, SHAPE_ROLES, shapeOfMapping, suggestMapping } from './shape';
import type { Row } from './types';
import { validateRows } from './validate';

const ds = (rows: Row[], name = 'train.jsonl') => ({
  name,
  rows,
  columns: [...new Set(rows.flatMap((r) => Object.keys(r)))],
  locations: rows.map((_, i) => ({ file: name, line: i + 1 })),
});
const conv = (u: string, a: string) => [
  { role: 'user', content: u },
  { role: 'assistant', content: a },
];

describe('detectShape on TRL’s own column names', () => {
  it('text', () => {
    expect(detectShape(ds([{ text: 'hello' }]))).toEqual({
      kind: 'text',
      mapping: { text: 'text' },
      conversational: false,
      implicitPrompt: false,
      exact: true,
    });
  });

  it('prompt + completion, plain and conversational', () => {
    expect(detectShape(ds([{ prompt: 'a', completion: 'b' }]))).toMatchObject({
      kind: 'prompt_completion',
      conversational: false,
    });
    const c = detectShape(
      ds([{ prompt: [{ role: 'user', content: 'a' }], completion: [{ role: 'assistant', content: 'b' }] }]),
    );
    expect(c).toMatchObject({ kind: 'prompt_completion', conversational: true, exact: true });
  });

  it('messages', () => {
    expect(detectShape(ds([{ messages: conv('hi', 'yo'), id: 3 }]))).toMatchObject({
      kind: 'messages',
      mapping: { messages: 'messages' },
      conversational: true,
    });
  });

  it('preference, with and without an explicit prompt, text or messages', () => {
    expect(detectShape(ds([{ prompt: 'p', chosen: 'a', rejected: 'b' }]))).toMatchObject({
      kind: 'preference',
      mapping: { prompt: 'prompt', chosen: 'chosen', rejected: 'rejected' },
      implicitPrompt: false,
      conversational: false,
    });
    expect(detectShape(ds([{ chosen: conv('q', 'a'), rejected: conv('q', 'b') }]))).toMatchObject({
      kind: 'preference',
      mapping: { chosen: 'chosen', rejected: 'rejected' },
      implicitPrompt: true,
      conversational: true,
    });
  });

  it('prompt only', () => {
    expect(detectShape(ds([{ prompt: 'Write a poem' }]))).toMatchObject({
      kind: 'prompt_only',
      conversational: false,
    });
    expect(detectShape(ds([{ prompt: [{ role: 'user', content: 'hi' }] }]))).toMatchObject({
      kind: 'prompt_only',
      conversational: true,
    });
  });
});

describe('aliases and mappings', () => {
  it('suggests mappings from common names', () => {
    expect(suggestMapping(['instruction', 'input', 'output'])).toEqual({
      prompt: ['instruction', 'input'],
      completion: 'output',
    });
    expect(suggestMapping(['Question', 'Answer'])).toEqual({ prompt: 'Question', completion: 'Answer' });
    expect(suggestMapping(['query', 'response', 'id'])).toEqual({ prompt: 'query', completion: 'response' });
    expect(suggestMapping(['instruction', 'response'])).toEqual({
      prompt: 'instruction',
      completion: 'response',
    });
    expect(suggestMapping(['conversations'])).toEqual({ messages: 'conversations' });
    expect(suggestMapping(['question', 'chosen_response', 'rejected_response'])).toEqual({
      prompt: 'question',
      chosen: 'chosen_response',
      rejected: 'rejected_response',
    });
    expect(suggestMapping(['id', 'content'])).toEqual({ text: 'content' });
    expect(suggestMapping(['id', 'question'])).toEqual({ prompt: 'question' });
    expect(suggestMapping(['poem'])).toEqual({ text: 'poem' });
    expect(suggestMapping(['a', 'b'])).toEqual({});
  });

  it('uses a user mapping and drops roles its shape does not use', () => {
    const d = ds([{ q: 'x', a: 'y', other: 'z' }]);
    const s = detectShape(d, { prompt: 'q', completion: 'a', text: 'other' });
    expect(s).toMatchObject({
      kind: 'prompt_completion',
      mapping: { prompt: 'q', completion: 'a' },
      exact: false,
    });
  });

  it('names the columns when nothing fits, and a mapped column that is absent', () => {
    expect(() => detectShape(ds([{ a: 1, b: 2 }]))).toThrow(
      'train.jsonl: no known dataset shape in the columns "a", "b"; expected text, prompt and completion, messages, ' +
        'prompt with chosen and rejected, or prompt alone: map the columns by hand',
    );
    expect(() => detectShape(ds([{ a: 1 }]), { prompt: 'a', completion: 'zz' })).toThrow(
      'train.jsonl: the completion column "zz" is not in the file',
    );
  });
});

describe('validateRows', () => {
  it('names file, line and field of a wrong type, missing or empty value', () => {
    const rows = [
      { prompt: 'p', completion: 'c' },
      { prompt: 'p', completion: 4 },
      { prompt: 'p' },
      { prompt: 'p', completion: ' ' },
    ];
    const d = ds(rows);
    const shape = detectShape(d);
    expect(() => validateRows(d, shape)).toThrow(
      'train.jsonl line 2: field "completion" is a number, expected text',
    );
    const v = validateRows(d, shape, { onError: 'skip' });
    expect(v.examples).toEqual([
      { kind: 'prompt_completion', prompt: 'p', completion: 'c', source: { file: 'train.jsonl', line: 1 } },
    ]);
    expect(v.skipped).toBe(3);
    expect(v.issues.map((i) => i.message)).toEqual([
      'train.jsonl line 2: field "completion" is a number, expected text',
      'train.jsonl line 3: field "completion" is missing',
      'train.jsonl line 4: field "completion" is empty',
    ]);
    expect(v.issues[0]).toMatchObject({ file: 'train.jsonl', line: 2, field: 'completion' });
  });

  it('uses CSV row numbers', () => {
    const d = { ...ds([{ text: '' }], 'd.csv'), locations: [{ file: 'd.csv', row: 1, line: 2 }] };
    expect(() => validateRows(d, detectShape(d))).toThrow('d.csv row 1 (line 2): field "text" is empty');
  });

  it('checks messages and normalises ShareGPT and text parts', () => {
    const rows: Row[] = [
      {
        conversations: [
          { from: 'human', value: 'hi' },
          { from: 'gpt', value: [{ type: 'text', text: 'yo' }] },
        ],
      },
      { conversations: [{ from: 'narrator', value: 'x' }] },
      { conversations: [{ role: 'user' }] },
      { conversations: 'hello' },
      { conversations: [] },
    ];
    const d = ds(rows);
    const v = validateRows(d, detectShape(d), { onError: 'skip' });
    expect(v.examples[0]).toMatchObject({ kind: 'messages', messages: conv('hi', 'yo') });
    expect(v.issues.map((i) => i.message)).toEqual([
      'train.jsonl line 2: field "conversations" item 1: role "narrator" is not one of system, developer, user, assistant, tool',
      'train.jsonl line 3: field "conversations" item 1: "content" is missing, expected text',
      'train.jsonl line 4: field "conversations" is text, expected a list of messages (the dataset is conversational)',
      'train.jsonl line 5: field "conversations" is an empty list',
    ]);
  });

  it('joins Alpaca’s instruction and input with a blank line, leaving out an empty input', () => {
    const d = ds([
      { instruction: 'Translate', input: 'chat', output: 'cat' },
      { instruction: 'Say hi', input: '', output: 'hi' },
    ]);
    const v = validateRows(d, detectShape(d));
    expect(v.examples.map((e) => (e.kind === 'prompt_completion' ? e.prompt : null))).toEqual([
      'Translate\n\nchat',
      'Say hi',
    ]);
  });

  it('extracts TRL’s implicit prompt from chosen and rejected', () => {
    const d = ds([
      { chosen: 'The sky is blue.', rejected: 'The sky is green.' },
      { chosen: [...conv('q', 'a')], rejected: [...conv('q', 'b')] },
    ]);
    // One dataset is either text or conversational; check each row's extraction with its own shape.
    const text = validateRows(
      { rows: [d.rows[0]], locations: [d.locations[0]] },
      detectShape(ds([d.rows[0]])),
    );
    expect(text.examples[0]).toMatchObject({ prompt: 'The sky is', chosen: ' blue.', rejected: ' green.' });
    const chat = validateRows(
      { rows: [d.rows[1]], locations: [d.locations[1]] },
      detectShape(ds([d.rows[1]])),
    );
    expect(chat.examples[0]).toMatchObject({
      prompt: [{ role: 'user', content: 'q' }],
      chosen: [{ role: 'assistant', content: 'a' }],
      rejected: [{ role: 'assistant', content: 'b' }],
    });
    const same = ds([{ chosen: 'x', rejected: 'x' }]);
    expect(() => validateRows(same, detectShape(same))).toThrow(
      'train.jsonl line 1: field "chosen" and "rejected" leave nothing apart from their shared start',
    );
  });

  it('rejects text in a conversational column', () => {
    const d = ds([
      { prompt: [{ role: 'user', content: 'a' }], completion: [{ role: 'assistant', content: 'b' }] },
      { prompt: 'a', completion: 'b' },
    ]);
    expect(() => validateRows(d, detectShape(d))).toThrow(
      'train.jsonl line 2: field "prompt" is text, expected a list of messages (the dataset is conversational)',
    );
  });

  it('throws DataError carrying the issue', () => {
    expect.assertions(2);
    const d = ds([{ text: 5 }]);
    try {
      validateRows(d, detectShape(d));
    } catch (e) {
      expect(e).toBeInstanceOf(DataError);
      expect((e as DataError).issue).toMatchObject({ file: 'train.jsonl', line: 1, field: 'text' });
    }
  });
});

describe('a mapping made by hand', () => {
  const rows: Row[] = [{ q: 'What is 2+2?', a: '4', good: 'yes', bad: 'no', body: 'some text' }];
  const data = { ...ds(rows, 'odd.csv'), columns: ['q', 'a', 'good', 'bad', 'body'] };

  it('every shape round-trips: the mapping made for it is detected as that shape', () => {
    const picks = {
      text: 'body',
      prompt: 'q',
      completion: 'a',
      messages: 'body',
      chosen: 'good',
      rejected: 'bad',
    };
    for (const kind of Object.keys(SHAPE_ROLES) as (keyof typeof SHAPE_ROLES)[]) {
      const made = mappingForShape(kind, picks);
      if (!('mapping' in made)) throw new Error(`${kind}: ${made.missing} missing`);
      expect(shapeOfMapping(made.mapping)).toBe(kind);
    }
  });

  it('names the first required role left unpicked, and lets an optional one go', () => {
    expect(mappingForShape('prompt_completion', { prompt: 'q' })).toEqual({ missing: 'completion' });
    expect(mappingForShape('preference', { chosen: 'good', rejected: 'bad' })).toEqual({
      mapping: { chosen: 'good', rejected: 'bad' },
    });
  });

  it('columns no alias matches load once mapped, with the rows read from those columns', () => {
    expect(() => detectShape({ ...data, columns: ['q', 'a'] })).toThrow(/map the columns by hand/);
    const made = mappingForShape('prompt_completion', { prompt: 'q', completion: 'a' });
    if (!('mapping' in made)) throw new Error('unexpected');
    const shape = detectShape(data, made.mapping);
    expect(shape.kind).toBe('prompt_completion');
    const checked = validateRows(data, shape);
    expect(checked.examples).toHaveLength(1);
    expect(checked.examples[0]).toMatchObject({ kind: 'prompt_completion' });
  });
});
