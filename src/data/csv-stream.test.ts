// The streaming CSV reader against parseCsv (through parseDataset) on the same bytes, cut at every chunk
// size from 1 byte: the same rows, columns, row and line numbers, skips and reasons, with chunk ends inside
// quoted fields, inside quoted line breaks, between CR and LF and inside multi-byte characters; an
// unterminated quote named by its line without swallowing the next row; oversize records skipped and
// counted with their line; the header's errors and an empty file named as parseCsv names them.
import { describe, expect, it } from 'vitest';
import { CsvStreamReader } from './csv-stream';
import { DataError } from './errors';
import { parseDataset } from './parse';

const enc = (s: string) => new TextEncoder().encode(s);

function stream(name: string, text: string, cut: number, maxRowChars?: number, newlineSample = 40) {
  const r = new CsvStreamReader(name, {
    onError: 'skip',
    maxRowChars,
    newlineSample,
    delimiter: name.endsWith('.tsv') ? '\t' : undefined,
  });
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

async function whole(name: string, text: string, maxRowChars?: number) {
  const p = await parseDataset(name, enc(text), { format: 'csv', onError: 'skip', maxRowChars });
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

const rowsOf = (n: number, sep = ',', nl = '\n') =>
  Array.from({ length: n }, (_, i) => `q${i}${sep}a ${i}`).join(nl);

describe('streaming CSV', () => {
  it('gives parseCsv rows, lines and skips at every chunk size', async () => {
    const files: [string, string][] = [
      ['a.csv', `prompt,completion\n"a, b","multi\nline ""quoted"" é😀"\n\n${rowsOf(30)}\nx,y,z\nonly\n`],
      ['crlf.csv', `\uFEFFprompt,completion\r\n"a\r\nb",c\r\n${rowsOf(20, ',', '\r\n')}\r\n`],
      ['b.csv', `prompt,completion\n"bad "x" quote",c\nok,fine\n${rowsOf(10)}`],
      ['t.tsv', `prompt\tcompletion\n${rowsOf(12, '\t')}\n"tab\tinside"\tz\n`],
      ['one.csv', `text\nhello, world\n"quoted, text"\n${rowsOf(5)}\n`],
      // A quote not closed on its line, closed by the next row's opening quote: read again from its next line.
      ['q.csv', `prompt,completion\n"never closed,1\n"next",2\n"after",3\n${rowsOf(8)}\n`],
      ['dup.csv', `a,a,,b\n1,2,3,4\n5,6,7,8\n`],
    ];
    for (const [name, text] of files) {
      const want = await whole(name, text);
      for (const cut of [1, 2, 3, 5, 8, 13, 64, 1 << 20])
        expect([name, cut, stream(name, text, cut)]).toEqual([name, cut, want]);
    }
    // Mixed line endings: the guess is papaparse's on the same first MiB as the whole file's.
    const mixed = `p,c\r\nx,y\ny,z\r\nq,w\n"a\r\nb",c\n`;
    for (const cut of [1, 2, 5])
      expect(stream('m.csv', mixed, cut, undefined, 1 << 20)).toEqual(await whole('m.csv', mixed));
  });

  it('names an unterminated quote by its line and counts the rows after it', async () => {
    const closedLater = `prompt,completion\n"never closed,1\n"next",2\n"after",3\n`;
    const w = await whole('q.csv', closedLater);
    expect(w.issues.map((i) => [i.line, i.message])).toEqual([
      [2, 'q.csv row 1 (line 2): a quoted field is not closed'],
    ]);
    expect(w.rows).toEqual([
      { prompt: 'next', completion: '2' },
      { prompt: 'after', completion: '3' },
    ]);
    const text = `prompt,completion\nok,1\n"never closed,2\nnext,3\n${rowsOf(5)}\n`;
    const want = await whole('u.csv', text);
    expect(want.issues[0]).toMatchObject({
      line: 3,
      message: expect.stringMatching(/quoted field is not closed/),
    });
    expect(want.rows).toContainEqual({ prompt: 'next', completion: '3' });
    for (const cut of [1, 4, 9, 1000]) expect(stream('u.csv', text, cut)).toEqual(want);
    // Open past the row limit: named and read again from its next line, as the whole-file parse does.
    const limited = await whole('u.csv', text, 20);
    for (const cut of [1, 7, 1000]) {
      const got = stream('u.csv', text, cut, 20);
      expect([got.rows, got.locations, got.skipped]).toEqual([
        limited.rows,
        limited.locations,
        limited.skipped,
      ]);
      expect(got.issues[0]).toMatchObject({
        line: 3,
        message: expect.stringMatching(/quoted field is not closed/),
      });
    }
  });

  it('skips and counts oversize records with their line', async () => {
    const text = `prompt,completion\nshort,1\n${'x'.repeat(200)},2\n"long\nfield",3\nend,4\n`;
    const want = await whole('o.csv', text, 100);
    expect(want.skipped).toBe(1);
    expect(want.issues[0]).toMatchObject({
      line: 3,
      row: 2,
      message: expect.stringMatching(/more than 100 char/),
    });
    expect(want.rows).toHaveLength(3);
    for (const cut of [1, 3, 17, 1000]) expect(stream('o.csv', text, cut, 100)).toEqual(want);
    // A quoted field open past the limit is named there (the whole-file parse, which finds its end 200
    // characters on, calls that record oversize); the reading goes on from its next line.
    // (Read in chunks that pass the limit before its end; read in one, its end is found as parseCsv finds it.)
    const open = `prompt,completion\nshort,1\n"long\n${'y'.repeat(200)}",3\nend,4\n`;
    for (const cut of [1, 3, 17]) {
      const got = stream('o.csv', open, cut, 100);
      expect(got.issues.map((i) => [i.line, i.message.replace(/^.*: /, '')])).toEqual([
        [3, 'a quoted field is not closed within 100 characters (the limit for one row)'],
        [4, 'a row of more than 100 characters, over the limit for one row'],
      ]);
      expect(got.rows).toEqual([
        { prompt: 'short', completion: '1' },
        { prompt: 'end', completion: '4' },
      ]);
    }
  });

  it('names header errors, empty files and files of bad rows as parseCsv does', async () => {
    for (const text of ['', '\n\n', 'a,"b\n1,2\n', 'a,b\n', 'a,b\n1\n2\n', 'a,b\n"1,2\n'])
      for (const cut of [1, 5, 100])
        expect([text, cut, await messageOf(() => stream('e.csv', text, cut))]).toEqual([
          text,
          cut,
          await messageOf(() => whole('e.csv', text)),
        ]);
  });
});
