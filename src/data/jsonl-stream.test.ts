// The chunked JSONL reader gives what parseDataset gives for the same bytes, however the bytes are cut
// (mid-line, mid-character, CRLF split), skips an oversize line with its line number without holding it
// whole, names invalid UTF-8 by line and column across chunks, and fails an all-bad file with its reasons.
import { describe, expect, it } from 'vitest';
import { JsonlStreamReader } from './jsonl-stream';
import { parseDataset } from './parse';

const enc = (s: string) => new TextEncoder().encode(s);

function streamed(name: string, bytes: Uint8Array, cut: number, o = {}) {
  const r = new JsonlStreamReader(name, { onError: 'skip', ...o });
  for (let i = 0; i < bytes.length; i += cut) r.push(bytes.subarray(i, i + cut));
  return r.end();
}

describe('JsonlStreamReader', () => {
  const text = [
    '\uFEFF{"text":"héllo wörld 😀"}',
    '{"text": "two"}\r',
    '',
    '{"bad": }',
    '[1, 2]',
    '{"prompt":"p","completion":"c"}',
  ].join('\n');

  it('equals parseDataset for every chunk size', async () => {
    const bytes = enc(text);
    const whole = await parseDataset('s.jsonl', bytes, { onError: 'skip' });
    for (const cut of [1, 2, 3, 5, 7, 64, 1 << 16]) {
      const s = streamed('s.jsonl', bytes, cut);
      expect(s.rows).toEqual(whole.rows);
      expect(s.locations).toEqual(whole.locations);
      expect(s.issues).toEqual(whole.issues);
      expect(s.skipped).toBe(2);
      expect(s.columns).toEqual(whole.columns);
    }
  });

  it('an oversize line is skipped with its line, never held whole', () => {
    const bytes = enc(`{"text":"a"}\n{"text":"${'x'.repeat(5000)}"}\n{"text":"b"}`);
    const s = streamed('big.jsonl', bytes, 100, { maxRowChars: 1000 });
    expect(s.rows).toEqual([{ text: 'a' }, { text: 'b' }]);
    expect(s.issues.map((i) => i.message)).toEqual([
      'big.jsonl line 2: a row of 5011 characters, over the 1000 limit for one row',
    ]);
  });

  it('invalid UTF-8 is named by line and column across chunks', () => {
    const bytes = new Uint8Array([...enc('{"text":"ok"}\n{"text":"b'), 0xff, ...enc('"}\n')]);
    for (const cut of [1, 4, 100])
      expect(() => streamed('u.jsonl', bytes, cut)).toThrow(
        'u.jsonl line 2, column 11: the file is not UTF-8 text (byte 0xff at offset 24; save it as UTF-8)',
      );
  });

  it('a file with no usable row says the first reasons', () => {
    expect(() => streamed('z.jsonl', enc('{"a":\n[1]\n'), 3)).toThrow(
      'z.jsonl: no usable rows (2 skipped); the first: z.jsonl line 1, column 6: unexpected end of input, expected a value; z.jsonl line 2: expected a JSON object, found a list',
    );
  });
});
