// Large files in the CLI: read in chunks with progress every tenth, a 10 MB line skipped and counted with
// its line (the others kept), a large CSV's unterminated quote and oversize record named by line without
// losing the rows after them, the same examples as the whole-file path gives for a small file of every
// format, and ingestDataFile's tokens equal to tokenising those examples.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { prepareDataset } from '../data/prepare';
import { alpacaPrompt } from '../data/template';
import { sftExamples } from '../data/token-arena';
import { type TextTokenizer, tokenizeForSft } from '../data/tokenize';
import { ingestDataFile, PROGRESS_FROM_BYTES, prepareDataFile } from './data-file';

const FIXTURES = join(import.meta.dirname, '..', '..', 'test', 'fixtures', 'data');
/** One token per character, BOS and EOS set. */
const charTok: TextTokenizer = {
  encode: (t) => Array.from(t, (c) => (c.codePointAt(0) ?? 0) + 3),
  decode: (ids) => ids.map((i) => String.fromCodePoint(Math.max(0, i - 3))).join(''),
  eosId: 1,
  bosId: 2,
};

const tmp = mkdtempSync(join(tmpdir(), 'cli-data-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('prepareDataFile', () => {
  it('streams a large JSONL with progress; a 10 MB line is skipped with its line', async () => {
    const row = (i: number) =>
      JSON.stringify({ prompt: `Question ${i} ${'pad '.repeat(60)}`, completion: ` answer ${i}` });
    const rows: string[] = [];
    const n = Math.ceil((PROGRESS_FROM_BYTES + 2 ** 20) / (row(0).length + 1));
    for (let i = 0; i < n; i++) rows.push(row(i));
    rows.splice(5, 0, JSON.stringify({ prompt: 'x'.repeat(10 * 2 ** 20), completion: 'y' }));
    const path = join(tmp, 'big.jsonl');
    writeFileSync(path, rows.join('\n'));
    const said: string[] = [];
    const p = await prepareDataFile(path, '--data', (l) => said.push(l));
    expect(p.examples.length).toBe(n);
    expect(p.skipped).toBe(1);
    expect(p.issues.map((i) => i.message)).toEqual([
      'big.jsonl line 6: a row of 10.0 M characters, over the 4.0 M limit for one row',
    ]);
    expect(p.examples[5].source).toEqual({ file: 'big.jsonl', line: 7 });
    expect(said.length).toBeGreaterThanOrEqual(9);
    expect(said.at(-1)).toMatch(new RegExp(`^reading ${path}: 100% \\(\\d+ MB\\), ${n} rows, 1 skipped$`));
  }, 60_000);

  it('a small JSONL gives what the whole-file path gives, and says nothing', async () => {
    const path = join(tmp, 's.jsonl');
    writeFileSync(path, '{"text":"a"}\n{"oops"\n{"text":"b"}\n');
    const said: string[] = [];
    const streamed = await prepareDataFile(path, '--data', (l) => said.push(l));
    const whole = await prepareDataset('s.jsonl', new Uint8Array(readFileSync(path)), { onError: 'skip' });
    expect(streamed).toEqual(whole);
    expect(said).toEqual([]);
  });

  it('applies the prompt template as the page does: Alpaca by default for instruction + input columns', async () => {
    const rows = [{ instruction: 'Give the opposite of the word.', input: 'hot', output: 'cold' }];
    for (const name of ['alpaca.jsonl', 'alpaca.json']) {
      const path = join(tmp, name);
      const text = name.endsWith('.json')
        ? JSON.stringify(rows)
        : rows.map((r) => JSON.stringify(r)).join('\n');
      writeFileSync(path, text);
      const p = await prepareDataFile(path, '--data', () => undefined);
      expect(p.template, name).toBe('alpaca');
      expect(p.examples[0], name).toMatchObject({
        prompt: alpacaPrompt('Give the opposite of the word.', 'hot'),
      });
      const plain = await prepareDataFile(path, '--data', () => undefined, 'none');
      expect(plain.examples[0], name).toMatchObject({ prompt: 'Give the opposite of the word.\n\nhot' });
    }
  });

  it('streams a large CSV: an unterminated quote and an oversize record named by line, the rows after kept', async () => {
    const row = (i: number) => `"Question ${i}, ${'pad '.repeat(60)}",answer ${i}`;
    const n = Math.ceil((PROGRESS_FROM_BYTES + 2 ** 20) / (row(0).length + 1));
    const lines = ['prompt,completion'];
    for (let i = 0; i < n; i++) lines.push(row(i));
    lines.splice(4, 0, `${'x'.repeat(5 * 2 ** 20)},too long`);
    lines.splice(8, 0, '"never closed,1');
    const path = join(tmp, 'big.csv');
    writeFileSync(path, `${lines.join('\r\n')}\r\n`);
    const said: string[] = [];
    const p = await prepareDataFile(path, '--data', (l) => said.push(l));
    expect(p.examples.length).toBe(n);
    expect(p.issues.map((i) => i.message)).toEqual([
      'big.csv row 4 (line 5): a row of more than 4.0 M characters, over the limit for one row',
      'big.csv row 8 (line 9): a quoted field is not closed',
    ]);
    expect(p.examples[2].source).toEqual({ file: 'big.csv', row: 3, line: 4 });
    expect(p.examples[6].source).toEqual({ file: 'big.csv', row: 9, line: 10 });
    expect(said.length).toBeGreaterThanOrEqual(9);
    expect(said.at(-1)).toMatch(new RegExp(`^reading ${path}: 100% \\(\\d+ MB\\), ${n} rows, 2 skipped$`));
  }, 120_000);

  it('small files of every format give the whole-file examples; ingestDataFile their tokens', async () => {
    const rows = Array.from({ length: 12 }, (_, i) => ({ prompt: `p${i} é`, completion: ` c${i}` }));
    const files: [string, string | Buffer][] = [
      ['s.csv', `prompt,completion\n${rows.map((r) => `"${r.prompt}",${r.completion}`).join('\n')}\nbad\n`],
      ['s.json', JSON.stringify({ data: [...rows, 4] })],
      ['s.tsv', `prompt\tcompletion\r\n${rows.map((r) => `${r.prompt}\t${r.completion}`).join('\r\n')}`],
      ['s.txt', rows.map((r) => r.prompt).join('\n')],
      ['rg.parquet', readFileSync(join(FIXTURES, 'row_groups.parquet'))],
    ];
    for (const [name, body] of files) {
      const path = join(tmp, name);
      writeFileSync(path, body);
      const said: string[] = [];
      const streamed = await prepareDataFile(path, '--data', (l) => said.push(l));
      const whole = await prepareDataset(name, new Uint8Array(readFileSync(path)), { onError: 'skip' });
      expect(streamed, name).toEqual(whole);
      expect(said).toEqual([]);
      const ing = await ingestDataFile(path, charTok, { progress: (l) => said.push(l) });
      expect([ing.rows, ing.skipped], name).toEqual([whole.parsed.rows.length, whole.skipped]);
      if (whole.shape.kind !== 'prompt_only')
        for (const L of [4, 64])
          expect(sftExamples(ing.tokens, L), name).toEqual(
            tokenizeForSft(charTok, whole.examples, { maxLength: L }),
          );
    }
  });
});
