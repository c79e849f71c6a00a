// Parsers on good and malformed files: the messages must name file, line (or row) and column exactly.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { DataError } from './errors';
import { detectFormat, parseDataset } from './parse';

const enc = (s: string) => new TextEncoder().encode(s);
const fixture = (f: string) =>
  new Uint8Array(readFileSync(new URL(`../../test/fixtures/data/${f}`, import.meta.url)));

async function failure(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(DataError);
    return (e as Error).message;
  }
  throw new Error('expected a DataError');
}

describe('JSONL', () => {
  it('reads objects with their line numbers, skipping blank lines and CRLF', async () => {
    const d = await parseDataset('train.jsonl', enc('{"text":"a"}\r\n\n{"text":"b","x":1}\n'));
    expect(d.format).toBe('jsonl');
    expect(d.rows).toEqual([{ text: 'a' }, { text: 'b', x: 1 }]);
    expect(d.columns).toEqual(['text', 'x']);
    expect(d.locations.map((l) => l.line)).toEqual([1, 3]);
  });

  it('names line and column of a syntax error', async () => {
    const msg = await failure(parseDataset('train.jsonl', enc('{"text":"a"}\n{"text": "b" "c"}\n')));
    expect(msg).toBe(
      "train.jsonl line 2, column 14: unexpected '\"', expected ',' or '}' after a property value",
    );
  });

  it('names an unterminated string at its opening quote', async () => {
    const msg = await failure(parseDataset('t.jsonl', enc('{"a": "xyz\n')));
    expect(msg).toBe('t.jsonl line 1, column 7: unterminated string');
  });

  it('rejects a line that is not an object', async () => {
    const msg = await failure(parseDataset('t.jsonl', enc('{"a":1}\n[1,2]\n')));
    expect(msg).toBe('t.jsonl line 2: expected a JSON object, found a list');
  });

  it('skips bad lines when asked, counting and listing them', async () => {
    const text = '{"a":1}\n{bad\n"str"\n{"a":2}\n{"a":}\n';
    const d = await parseDataset('t.jsonl', enc(text), { onError: 'skip', maxIssues: 2 });
    expect(d.rows).toEqual([{ a: 1 }, { a: 2 }]);
    expect(d.skipped).toBe(3);
    expect(d.issues.map((i) => i.message)).toEqual([
      "t.jsonl line 2, column 2: unexpected 'b', expected a quoted property name",
      't.jsonl line 3: expected a JSON object, found text',
    ]);
    expect(d.issues[0]).toMatchObject({ file: 't.jsonl', line: 2, column: 2 });
  });
});

describe('JSON', () => {
  it('reads an array with each element’s line', async () => {
    const d = await parseDataset('a.json', enc('[\n  {"text": "x"},\n  {"text": "y,]"}\n]'));
    expect(d.rows).toEqual([{ text: 'x' }, { text: 'y,]' }]);
    expect(d.locations.map((l) => l.line)).toEqual([2, 3]);
  });

  it('reads the single list field of an object', async () => {
    const d = await parseDataset(
      'a.json',
      enc('{"version": 2, "data": [\n{"prompt": "p", "completion": "c"}]}'),
    );
    expect(d.rows).toEqual([{ prompt: 'p', completion: 'c' }]);
    expect(d.locations[0].line).toBe(2);
  });

  it('asks which list when there are several', async () => {
    const msg = await failure(parseDataset('a.json', enc('{"train": [], "test": []}')));
    expect(msg).toBe('a.json: the object has several list fields ("train", "test"); choose one');
    const d = await parseDataset('a.json', enc('{"train": [{"text":"t"}], "test": []}'), {
      jsonField: 'train',
    });
    expect(d.rows).toEqual([{ text: 't' }]);
  });

  it('names line and column of a syntax error across lines', async () => {
    const msg = await failure(parseDataset('a.json', enc('[\n  {"text": "x"},\n  {"text": "y",}\n]')));
    expect(msg).toBe("a.json line 3, column 16: trailing comma before '}'");
    const eof = await failure(parseDataset('b.json', enc('[{"a": 1},\n')));
    expect(eof).toBe('b.json line 2, column 1: unexpected end of input, expected a value');
  });

  it('reports a non-object element with its line', async () => {
    const msg = await failure(parseDataset('a.json', enc('[{"a":1},\n 5]')));
    expect(msg).toBe('a.json line 2: item 2 is a number, expected an object');
  });
});

describe('CSV', () => {
  it('reads quoted fields with commas, quotes and line breaks, naming rows and lines', async () => {
    const csv = 'prompt,completion\n"Hi, you","say ""yo""\nand go"\nq2,a2\r\n\nq3,a3\n';
    const d = await parseDataset('d.csv', enc(csv));
    expect(d.rows).toEqual([
      { prompt: 'Hi, you', completion: 'say "yo"\nand go' },
      { prompt: 'q2', completion: 'a2' },
      { prompt: 'q3', completion: 'a3' },
    ]);
    expect(d.locations.map((l) => [l.row, l.line])).toEqual([
      [1, 2],
      [2, 4],
      [3, 6],
    ]);
  });

  it('reads TSV and single-column files', async () => {
    const t = await parseDataset('d.tsv', enc('a\tb\n1,2\t3\n'));
    expect(t.rows).toEqual([{ a: '1,2', b: '3' }]);
    const one = await parseDataset('d.csv', enc('text\nhello, world\nbye\n'));
    expect(one.rows).toEqual([{ text: 'hello, world' }, { text: 'bye' }]);
    const semi = await parseDataset('d.csv', enc('a;b\n1;2,5\n'));
    expect(semi.rows).toEqual([{ a: '1', b: '2,5' }]);
  });

  it('names the row and line of a row with the wrong field count', async () => {
    const msg = await failure(parseDataset('d.csv', enc('a,b\n1,2\n"x\ny",2,3\n')));
    expect(msg).toBe('d.csv row 2 (line 3): 3 fields, but the header has 2');
  });

  it('skips an unclosed quote when asked', async () => {
    const d = await parseDataset('d.csv', enc('a,b\n1,2\n3,"4\n'), { onError: 'skip' });
    expect(d.rows).toEqual([{ a: '1', b: '2' }]);
    expect(d.issues.map((i) => i.message)).toEqual(['d.csv row 2 (line 3): a quoted field is not closed']);
  });

  it('makes header names unique', async () => {
    const d = await parseDataset('d.csv', enc('x,x,\n1,2,3\n'));
    expect(d.columns).toEqual(['x', 'x_2', 'col3']);
  });
});

describe('plain text', () => {
  it('one example per non-empty line, or per paragraph', async () => {
    const text = 'first line\nsecond\n\n\nthird\r\nfourth\n';
    const lines = await parseDataset('t.txt', enc(text));
    expect(lines.rows.map((r) => r.text)).toEqual(['first line', 'second', 'third', 'fourth']);
    expect(lines.locations.map((l) => l.line)).toEqual([1, 2, 5, 6]);
    const paras = await parseDataset('t.txt', enc(text), { textMode: 'paragraph' });
    expect(paras.rows.map((r) => r.text)).toEqual(['first line\nsecond', 'third\nfourth']);
    expect(paras.locations.map((l) => l.line)).toEqual([1, 5]);
  });

  it('says so for an empty file and for bytes that are not UTF-8', async () => {
    expect(await failure(parseDataset('e.txt', enc('\n\n')))).toBe('e.txt: no rows found');
    expect(await failure(parseDataset('b.txt', new Uint8Array([0xff, 0xfe, 0x41])))).toBe(
      'b.txt: the file is UTF-16 text (it starts with a UTF-16 byte-order mark); save it as UTF-8',
    );
    expect(await failure(parseDataset('c.txt', new Uint8Array([0x41, 0x0a, 0x42, 0x43, 0xc3, 0x28])))).toBe(
      'c.txt line 2, column 3: the file is not UTF-8 text (byte 0xc3 at offset 4; save it as UTF-8)',
    );
  });
});

describe('format detection', () => {
  it('goes by extension, else by content', () => {
    expect(detectFormat('x.ndjson', enc('{}'))).toBe('jsonl');
    expect(detectFormat('data', enc('{"a":1}\n{"a":2}\n'))).toBe('jsonl');
    expect(detectFormat('data', enc('{\n  "data": []\n}'))).toBe('json');
    expect(detectFormat('data', enc('  [{"a":1}]'))).toBe('json');
    expect(detectFormat('data', enc('prompt,completion\na,b\n'))).toBe('csv');
    expect(detectFormat('data', enc('Once upon a time, there was a fox.\n'))).toBe('text');
    expect(detectFormat('data', fixture('messages.snappy.parquet'))).toBe('parquet');
  });
});

describe('Parquet', () => {
  it('reads a snappy-compressed file written by pyarrow, with row numbers', async () => {
    const d = await parseDataset('pc.parquet', fixture('prompt_completion.snappy.parquet'));
    expect(d.format).toBe('parquet');
    expect(d.columns).toEqual(['id', 'prompt', 'completion', 'note']);
    expect(d.rows[1]).toEqual({
      id: 2,
      prompt: 'Capital of France?',
      completion: ' Paris',
      note: 'xyz'.repeat(150),
    });
    expect(d.rows[0].note).toBe('abc'.repeat(200));
    expect(d.locations.map((l) => l.row)).toEqual([1, 2, 3]);
  });

  it('turns a list-of-struct column into message lists', async () => {
    const d = await parseDataset('m', fixture('messages.snappy.parquet'));
    expect(d.rows[0].messages).toEqual([
      { role: 'user', content: 'Hello' },
      { role: 'assistant', content: 'Hi there' },
    ]);
    expect(d.rows[1]).toMatchObject({ score: null });
    expect((d.rows[1].messages as unknown[]).length).toBe(3);
  });

  it('says which codec it cannot read, and when a file is not Parquet', async () => {
    expect(await failure(parseDataset('z.parquet', fixture('prompt_completion.zstd.parquet')))).toBe(
      'z.parquet: the file is compressed with ZSTD, which this reader does not support (write it with snappy or no compression)',
    );
    expect(await failure(parseDataset('y.parquet', enc('not parquet at all')))).toMatch(
      /^y\.parquet: not a readable Parquet file/,
    );
  });
});
