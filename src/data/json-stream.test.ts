// The streaming JSON reader against parseJson on the same bytes, cut at every chunk size from 1 byte:
// the same rows, lines, columns and skips for arrays and for an object's list field, multi-byte characters
// cut between chunks, CRLF; the same sentence at the same line and column for each syntax error and for
// each root the whole path refuses; an oversize row skipped and counted with its line.
import { describe, expect, it } from 'vitest';
import { DataError } from './errors';
import { JsonStreamReader } from './json-stream';
import { parseDataset } from './parse';

const enc = (s: string) => new TextEncoder().encode(s);

function stream(text: string, cut: number, o: { field?: string; maxRowChars?: number } = {}) {
  const r = new JsonStreamReader('d.json', { onError: 'skip', ...o });
  const b = enc(text);
  const rows: unknown[] = [];
  const locations: unknown[] = [];
  for (let at = 0; at < b.length; at += cut) {
    r.push(b.subarray(at, at + cut));
    const t = r.takeRows();
    rows.push(...t.rows);
    locations.push(...t.locations);
  }
  const end = r.endStream();
  rows.push(...end.rows);
  locations.push(...end.locations);
  return { rows, locations, columns: end.columns, skipped: end.skipped, issues: end.issues };
}

async function whole(text: string, field?: string) {
  const p = await parseDataset('d.json', enc(text), { format: 'json', onError: 'skip', jsonField: field });
  return { rows: p.rows, locations: p.locations, columns: p.columns, skipped: p.skipped, issues: p.issues };
}

const messageOf = async (f: () => unknown) => {
  try {
    await f();
  } catch (e) {
    if (e instanceof DataError) return e.message;
    throw e;
  }
  return 'no error';
};

const GOOD = [
  '[\r\n  {"prompt": "é ünïcødé 😀", "completion": " ok"},\r\n',
  '  {"prompt": "a \\"quoted\\" [bracket] {brace}", "completion": "x", "extra": [1, {"n": null}]},\n',
  '  3, "text", null, [1, 2],\n',
  ...Array.from({ length: 20 }, (_, i) => `  {"prompt": "p${i}", "completion": " c${i}"},\n`),
  '  {"prompt": "last", "completion": " one"}\n]\n',
].join('');

describe('streaming JSON', () => {
  it('gives parseJson rows, lines and skips at every chunk size', async () => {
    const want = await whole(GOOD);
    expect(want.skipped).toBe(4);
    for (const cut of [1, 2, 3, 5, 7, 16, 100, 1 << 20]) expect(stream(GOOD, cut)).toEqual(want);
    const obj = `{"version": 2, "meta": {"a": [1]}, "data": ${GOOD}, "note": "x"}`;
    for (const cut of [1, 4, 64]) expect(stream(obj, cut)).toEqual(await whole(obj));
    const two = `{"train": [{"a": "1"}], "test": [{"a": "2"}]}`;
    for (const cut of [1, 9]) expect(stream(two, cut, { field: 'test' })).toEqual(await whole(two, 'test'));
  });

  it('names each syntax error and refused root as parseJson does', async () => {
    const bad = [
      '',
      '   ',
      '[{"a": 1}',
      '[{"a": 1},',
      '[{"a": 1},]',
      '[{"a": 1} {"b": 2}]',
      '[{"a": 1]',
      '[{"a": tru}]',
      '[{"a": "x\ny"}]',
      '[{"a": "x',
      '[1x]',
      '[{"a": 1}] x',
      '{"a": [{"b": 1}] "c": 2}',
      '{"a": [{"b": 1}],}',
      '{"a" [1]}',
      '{"a": [{"b": 1}]',
      '{a: 1}',
      '{}',
      '{"a": 1}',
      '{"a": [{"x": 1}], "b": []}',
      '42',
      '"text"',
      '[]',
      '[1, 2]',
      '\n\n  [\n {"a": 1},\n {"a": 2,,}]',
    ];
    for (const text of bad)
      for (const cut of [1, 3, 1000]) {
        const want = await messageOf(() => whole(text));
        expect(want).not.toBe('no error');
        expect([text, cut, await messageOf(() => stream(text, cut))]).toEqual([text, cut, want]);
      }
    const field = '{"rows": 3, "x": [{"a": 1}]}';
    expect(await messageOf(() => stream(field, 2, { field: 'rows' }))).toBe(
      await messageOf(() => whole(field, 'rows')),
    );
    expect(await messageOf(() => stream(field, 2, { field: 'nope' }))).toBe(
      await messageOf(() => whole(field, 'nope')),
    );
  });

  it('skips and counts an oversize row with its line, never holding it', () => {
    const text = `[\n{"a": "short"},\n{"a": "${'y'.repeat(500)}"},\n{"a": "end"}\n]`;
    for (const cut of [1, 7, 1000]) {
      const got = stream(text, cut, { maxRowChars: 100 });
      expect(got.rows).toEqual([{ a: 'short' }, { a: 'end' }]);
      expect(got.skipped).toBe(1);
      expect(got.issues[0].line).toBe(3);
      expect(got.issues[0].message).toMatch(/a row of 509 characters, over the 100 limit/);
    }
  });
});
