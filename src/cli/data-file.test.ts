// Large JSONL in the CLI: read in chunks with progress every tenth, a 10 MB line skipped and counted with
// its line (the others kept), and the same examples as the whole-file path gives for a small file.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { prepareDataset } from '../data/prepare';
import { alpacaPrompt } from '../data/template';
import { PROGRESS_FROM_BYTES, prepareDataFile } from './data-file';

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
});
