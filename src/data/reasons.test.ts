// Reasons kept: when every row fails the first reasons are said (file and line), invalid UTF-8 names its
// line and column, and an unterminated CSV quote costs its own row only: the rows after it are read and
// counted, not swallowed into one endless field.
import { describe, expect, it } from 'vitest';
import { firstInvalidUtf8, parseDataset } from './parse';

const enc = (s: string) => new TextEncoder().encode(s);
const failure = (p: Promise<unknown>) =>
  p.then(
    () => 'no error',
    (e: Error) => e.message,
  );

describe('reasons are not thrown away', () => {
  it('every row failing: the first reasons, with their lines', async () => {
    expect(await failure(parseDataset('z.jsonl', enc('{"a":1\n[1]\n{"b":\n'), { onError: 'skip' }))).toBe(
      "z.jsonl: no usable rows (3 skipped); the first: z.jsonl line 1, column 7: unexpected end of input, expected ',' or '}'; " +
        'z.jsonl line 2: expected a JSON object, found a list; z.jsonl line 3, column 6: unexpected end of input, expected a value',
    );
  });

  it('invalid UTF-8 names its line and column', async () => {
    const bytes = new Uint8Array([...enc('{"text":"ok"}\n{"text":"b'), 0xff, ...enc('"}\n')]);
    expect(await failure(parseDataset('u.jsonl', bytes))).toBe(
      'u.jsonl line 2, column 11: the file is not UTF-8 text (byte 0xff at offset 24; save it as UTF-8)',
    );
    // Valid multi-byte text passes the scanner; overlongs, surrogates and cut sequences do not.
    expect(firstInvalidUtf8(enc('aé€😀'))).toBe(10);
    expect(firstInvalidUtf8(new Uint8Array([0x61, 0xc0, 0x80]))).toBe(1);
    expect(firstInvalidUtf8(new Uint8Array([0xed, 0xa0, 0x80]))).toBe(0);
    expect(firstInvalidUtf8(new Uint8Array([0x61, 0x62, 0xe2, 0x82]))).toBe(2);
  });

  it('an unterminated CSV quote costs its own row; the rows after it are kept', async () => {
    const text = 'prompt,completion\nhello,world\n"bad,x\nfoo,bar\nsun,sky\n';
    const d = await parseDataset('q.csv', enc(text), { onError: 'skip' });
    expect(d.rows).toEqual([
      { prompt: 'hello', completion: 'world' },
      { prompt: 'foo', completion: 'bar' },
      { prompt: 'sun', completion: 'sky' },
    ]);
    expect(d.skipped).toBe(1);
    expect(d.issues.map((i) => i.message)).toEqual(['q.csv row 2 (line 3): a quoted field is not closed']);
    expect(d.locations.map((l) => [l.row, l.line])).toEqual([
      [1, 2],
      [3, 4],
      [4, 5],
    ]);
    // Quoted fields spanning lines still parse as one field.
    const m = await parseDataset('m.csv', enc('prompt,completion\n"a\nb",c\nd,e\n'));
    expect(m.rows).toEqual([
      { prompt: 'a\nb', completion: 'c' },
      { prompt: 'd', completion: 'e' },
    ]);
  });

  it('a giant JSONL line is skipped and counted with its line, the others kept', async () => {
    const big = JSON.stringify({ text: 'x'.repeat(10 * 2 ** 20) });
    const text = [JSON.stringify({ text: 'a' }), big, JSON.stringify({ text: 'b' })].join('\n');
    const d = await parseDataset('big.jsonl', enc(text), { onError: 'skip' });
    expect(d.rows).toEqual([{ text: 'a' }, { text: 'b' }]);
    expect(d.skipped).toBe(1);
    expect(d.issues.map((i) => i.message)).toEqual([
      'big.jsonl line 2: a row of 10.0 M characters, over the 4.0 M limit for one row',
    ]);
    expect(await failure(parseDataset('big.jsonl', enc(text)))).toBe(
      'big.jsonl line 2: a row of 10.0 M characters, over the 4.0 M limit for one row',
    );
  });
});
