// Chunked ingest against the whole-file path (prepareDataset + tokenizeForSft) on small files in every
// format: the same rows, skips, reasons, shape and, per sequence length, the same token ids and labels,
// however the bytes are cut; progress only goes up and ends at the file's size and row count; a cancel
// ends it with IngestCancelled; an oversize JSONL row is counted with its line; a column first seen after
// the shape was decided makes a second reading that still gives the whole-file answer.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { IngestCancelled, type IngestProgress, ingestDataset, UnmappedColumns } from './ingest';
import { prepareDataset } from './prepare';
import { sftExamples, sftView } from './token-arena';
import { type TextTokenizer, tokenizeForSft, tokenizePrompt } from './tokenize';

/** One token per character (offset, so ids can pass 65535), BOS and EOS set: small and exact. */
function charTokenizer(offset = 3): TextTokenizer {
  return {
    encode: (t) => Array.from(t, (c) => (c.codePointAt(0) ?? 0) + offset),
    decode: (ids) => ids.map((i) => String.fromCodePoint(Math.max(0, i - offset))).join(''),
    eosId: 1,
    bosId: 2,
  };
}

const enc = (s: string) => new TextEncoder().encode(s);
const fixture = (f: string) =>
  new Uint8Array(readFileSync(join(import.meta.dirname, '..', '..', 'test', 'fixtures', 'data', f)));
const blob = (s: string) => new Blob([enc(s)]);
const noPause = () => Promise.resolve();

const JSONL = [
  '{"prompt": "The plural of cat is", "completion": " cats."}',
  '{"prompt": "bad json", "completion": ',
  '',
  `{"prompt": "${'x'.repeat(300)}", "completion": " long."}`,
  '{"prompt": 3, "completion": " a number prompt"}',
  '[1, 2]',
  '{"prompt": "The plural of dog is", "completion": ""}',
  ...Array.from({ length: 70 }, (_, i) => JSON.stringify({ prompt: `Say ${i}:`, completion: ` ${i}!` })),
].join('\n');

async function compare(name: string, text: string | Uint8Array, chunkBytes: number, o = {}) {
  const tok = charTokenizer();
  const bytes = typeof text === 'string' ? enc(text) : text;
  const whole = await prepareDataset(name, bytes, { onError: 'skip', ...o });
  const got = await ingestDataset(name, new Blob([new Uint8Array(bytes)]), {
    onError: 'skip',
    tokenizer: tok,
    chunkBytes,
    batchRows: 7,
    pause: noPause,
    ...o,
  });
  expect(got.rows).toBe(whole.parsed.rows.length);
  expect(got.columns).toEqual(whole.parsed.columns);
  expect(got.format).toBe(whole.parsed.format);
  expect(got.shape).toEqual(whole.shape);
  expect(got.template).toBe(whole.template);
  expect(got.skipped).toBe(whole.skipped);
  expect(got.issues).toEqual(whole.issues);
  expect(got.preview).toEqual(whole.parsed.rows.slice(0, 5));
  expect(got.firstExamples).toEqual(whole.examples.slice(0, 20));
  for (const L of [1, 2, 3, 12, 40, 100_000]) {
    if (whole.shape.kind === 'prompt_only') {
      const view = sftView(got.tokens, L, { promptsOnly: true });
      expect(view.lengths).toEqual(whole.examples.map((e) => tokenizePrompt(tok, e).promptIds.length));
      continue;
    }
    const want = tokenizeForSft(tok, whole.examples, { maxLength: L });
    expect(sftExamples(got.tokens, L)).toEqual(want);
    const view = sftView(got.tokens, L);
    expect(view.lengths).toEqual(want.examples.map((e) => e.fullLength));
    expect([view.skipped, view.issues]).toEqual([want.skipped, want.issues]);
  }
  return got;
}

describe('chunked ingest', () => {
  it('JSONL: equals the whole-file path for every chunk size', async () => {
    for (const cut of [7, 64, 1000, 1 << 20]) await compare('a.jsonl', JSONL, cut, { maxRowChars: 200 });
  });

  it('text, CSV, JSON and extension-less JSONL equal the whole-file path', async () => {
    const text = `first line\r\n\n  \nsecond line\n${Array.from({ length: 60 }, (_, i) => `line ${i}`).join('\n')}`;
    await compare('t.txt', text, 5);
    const csv = `prompt,completion\n"a, b", c\nno end,"x\n${Array.from({ length: 60 }, (_, i) => `q${i},a${i}`).join('\n')}\n`;
    await compare('c.csv', csv, 9);
    const json = JSON.stringify(
      Array.from({ length: 80 }, (_, i) =>
        i % 9 === 4
          ? 7
          : {
              messages: [
                { role: 'user', content: `hi ${i}` },
                { role: 'assistant', content: `yo ${i}` },
              ],
            },
      ),
    );
    await compare('m.json', json, 11);
    await compare('noext', JSONL, 33, { maxRowChars: 200 });
  });

  it('Parquet read a row group at a time equals the whole-file path', async () => {
    // Three row groups (4, 4, 3 rows; one completion missing), and files of one group.
    const got = await compare('rg.parquet', fixture('row_groups.parquet'), 64, { batchRows: 3 });
    expect([got.rows, got.skipped]).toEqual([11, 1]);
    await compare('pc.parquet', fixture('prompt_completion.snappy.parquet'), 64);
    await compare('m.parquet', fixture('messages.snappy.parquet'), 64);
  });

  it('JSON objects with a list field, CSV with CRLF and TSV equal the whole-file path', async () => {
    const rows = Array.from({ length: 70 }, (_, i) => ({ prompt: `p${i} é😀`, completion: ` c${i}` }));
    await compare('o.json', JSON.stringify({ version: 1, data: rows }, null, 2), 13);
    await compare('big.json', JSON.stringify(rows), 7, { maxRowChars: 40 });
    const crlf = `prompt,completion\r\n${rows.map((r) => `"${r.prompt}",${r.completion}`).join('\r\n')}\r\n`;
    await compare('c.csv', crlf, 3);
    await compare(
      't.tsv',
      `prompt\tcompletion\n${rows.map((r) => `${r.prompt}\t${r.completion}`).join('\n')}`,
      5,
    );
  });

  it('conversational data whose first rows have no answer: the shape looks past them, as the whole path does', async () => {
    const turn = (role: string, content: string) => [{ role, content }];
    const text = [
      ...Array.from({ length: 10 }, (_, i) =>
        JSON.stringify({ prompt: turn('user', `q${i}`), completion: null }),
      ),
      ...Array.from({ length: 60 }, (_, i) =>
        JSON.stringify({ prompt: turn('user', `q${i}`), completion: turn('assistant', `a${i}`) }),
      ),
    ].join('\n');
    const got = await compare('conv.jsonl', text, 100);
    expect(got.shape.conversational).toBe(true);
    expect(got.skipped).toBe(10);
  });

  it('prompt-only data keeps every prompt, ids past 16 bits included', async () => {
    const text = Array.from({ length: 60 }, (_, i) => JSON.stringify({ prompt: `p ${i} \u{1F600}` })).join(
      '\n',
    );
    const tok = charTokenizer(70_000);
    const got = await ingestDataset('p.jsonl', blob(text), {
      onError: 'skip',
      tokenizer: tok,
      chunkBytes: 50,
      pause: noPause,
    });
    const whole = await prepareDataset('p.jsonl', enc(text), { onError: 'skip' });
    expect(got.shape.kind).toBe('prompt_only');
    for (let i = 0; i < whole.examples.length; i++)
      expect(got.tokens.sequence(i).inputIds).toEqual(tokenizePrompt(tok, whole.examples[i]).promptIds);
  });

  it('a column first seen after the shape was decided: read again, same answer as the whole file', async () => {
    const text = [
      ...Array.from({ length: 60 }, (_, i) => JSON.stringify({ text: `t${i}` })),
      ...Array.from({ length: 5 }, (_, i) => JSON.stringify({ prompt: `p${i}`, completion: `c${i}` })),
    ].join('\n');
    const got = await compare('late.jsonl', text, 40);
    expect(got.shape.kind).toBe('prompt_completion');
    expect(got.skipped).toBe(60);
  });

  it('a file whose columns match no shape names its columns', async () => {
    const text = Array.from({ length: 3 }, (_, i) => JSON.stringify({ foo: i, bar: 'x' })).join('\n');
    const e = await ingestDataset('u.jsonl', blob(text), {
      tokenizer: charTokenizer(),
      pause: noPause,
    }).catch((x) => x);
    expect(e).toBeInstanceOf(UnmappedColumns);
    expect((e as UnmappedColumns).columns).toEqual(['foo', 'bar']);
    expect((e as Error).message).toMatch(/^u\.jsonl: no known dataset shape/);
  });

  it('an oversize row is skipped and counted with its line', async () => {
    const text = `{"text": "a"}\n{"text": "${'y'.repeat(5000)}"}\n{"text": "b"}\n`;
    const got = await ingestDataset('big.jsonl', blob(text), {
      onError: 'skip',
      tokenizer: charTokenizer(),
      chunkBytes: 100,
      maxRowChars: 1000,
      pause: noPause,
    });
    expect(got.rows).toBe(2);
    expect(got.skipped).toBe(1);
    expect(got.issues.map((i) => i.message)).toEqual([
      'big.jsonl line 2: a row of 5012 characters, over the 1000 limit for one row',
    ]);
  });

  it('progress only goes up and ends at the size and the row count', async () => {
    for (const [name, text] of [
      ['a.jsonl', JSONL],
      ['c.csv', `prompt,completion\n${Array.from({ length: 100 }, (_, i) => `${i},${i}`).join('\n')}`],
      ['j.json', JSON.stringify(Array.from({ length: 100 }, (_, i) => (i % 7 ? { text: `t${i}` } : i)))],
      ['rg.parquet', fixture('row_groups.parquet')],
    ] as const) {
      const seen: IngestProgress[] = [];
      const bytes = typeof text === 'string' ? enc(text) : text;
      const got = await ingestDataset(name, new Blob([new Uint8Array(bytes)]), {
        onError: 'skip',
        tokenizer: charTokenizer(),
        chunkBytes: 50,
        batchRows: name.endsWith('.parquet') ? 1 : 10,
        maxRowChars: 200,
        onProgress: (p) => seen.push(p),
        pause: noPause,
      });
      expect(seen.length).toBeGreaterThan(5);
      for (let i = 1; i < seen.length; i++) {
        expect(seen[i].bytesDone).toBeGreaterThanOrEqual(seen[i - 1].bytesDone);
        expect(seen[i].rows).toBeGreaterThanOrEqual(seen[i - 1].rows);
        expect(seen[i].skipped).toBeGreaterThanOrEqual(seen[i - 1].skipped);
      }
      const last = seen[seen.length - 1];
      expect(last.bytesTotal).toBe(bytes.length);
      expect(last.bytesDone).toBe(last.bytesTotal);
      expect(last.rows).toBe(got.rows);
      expect(last.skipped).toBe(got.skipped);
    }
  });

  it('a cancel ends it between chunks, in every format', async () => {
    const rows = Array.from({ length: 40 }, (_, i) => ({ prompt: `p${i}`, completion: ` c${i}` }));
    const files: [string, Uint8Array][] = [
      ['a.jsonl', enc(JSONL)],
      ['c.csv', enc(`prompt,completion\n${rows.map((r) => `${r.prompt},${r.completion}`).join('\n')}`)],
      ['j.json', enc(JSON.stringify(rows))],
      ['rg.parquet', fixture('row_groups.parquet')],
    ];
    for (const [name, bytes] of files) {
      const ctl = new AbortController();
      let told = 0;
      const run = ingestDataset(name, new Blob([new Uint8Array(bytes)]), {
        onError: 'skip',
        tokenizer: charTokenizer(),
        chunkBytes: 64,
        batchRows: 2,
        maxRowChars: 200,
        signal: ctl.signal,
        onProgress: () => {
          if (++told === 3) ctl.abort();
        },
        pause: noPause,
      });
      await expect(run, name).rejects.toThrow(IngestCancelled);
      expect(told, name).toBe(3);
    }
  });
});
