// A run's rows from the dataset's token arena (sftDataFromArena, what the page's worker trains on) against
// the whole path (prepareDataset → sftData) with the built-in model's tokenizer: the same train and eval
// rows (ids, labels, source, lengths), skips and reasons, and the same batches, at several sequence
// lengths and seeds, including rows cut by the length and rows left with nothing to train on.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Batcher } from '../data/batch';
import { ingestDataset } from '../data/ingest';
import { prepareDataset } from '../data/prepare';
import { parseModelConfig } from '../formats/model-config';
import { loadTokenizer } from '../formats/tokenizer';
import { sftData, sftDataFromArena } from './sft-data';
import { dataTokenizer } from './tokenizer-adapter';

const DIR = join(import.meta.dirname, '..', '..', 'public', 'models', 'tiny-llama-brown');
const config = parseModelConfig(JSON.parse(readFileSync(join(DIR, 'config.json'), 'utf8')));
const tokenizer = loadTokenizer({
  tokenizerJson: readFileSync(join(DIR, 'tokenizer.json'), 'utf8'),
  tokenizerConfig: readFileSync(join(DIR, 'tokenizer_config.json'), 'utf8'),
});

const JSONL = [
  ...Array.from({ length: 30 }, (_, i) =>
    JSON.stringify({ prompt: `The word ${i} is`, completion: ` w${i}.` }),
  ),
  JSON.stringify({ prompt: 'the '.repeat(40), completion: ' after a long prompt.' }),
  JSON.stringify({ prompt: 'Short.', completion: ' and a long answer'.repeat(12) }),
  '{"prompt": "broken",',
  JSON.stringify({ prompt: 'No answer', completion: '' }),
].join('\n');

type Row = { inputIds: readonly number[]; labels: readonly number[] };
const plain = (rows: readonly Row[]) =>
  rows.map((r) => {
    const e = r as Row & { source?: unknown; fullLength?: number; truncated?: boolean };
    return {
      inputIds: [...e.inputIds],
      labels: [...e.labels],
      source: e.source,
      fullLength: e.fullLength,
      truncated: e.truncated,
    };
  });

describe('sftDataFromArena', () => {
  it("gives the whole path's rows, skips and batches", async () => {
    const bytes = new TextEncoder().encode(JSONL);
    const prepared = await prepareDataset('d.jsonl', bytes, { onError: 'skip' });
    const ing = await ingestDataset('d.jsonl', new Blob([bytes]), {
      onError: 'skip',
      tokenizer: dataTokenizer(tokenizer, config),
      chunkBytes: 100,
      pause: () => Promise.resolve(),
    });
    for (const seqLen of [4, 16, 64]) {
      for (const seed of [0, 7]) {
        const o = { seqLen, evalFraction: 0.2, seed };
        const want = sftData(tokenizer, config, prepared.examples, o);
        const got = sftDataFromArena(tokenizer, config, ing.tokens, o);
        if (seqLen >= 16) expect(want.train.length).toBeGreaterThan(0);
        expect(plain(got.train)).toEqual(plain(want.train));
        expect(plain(got.eval)).toEqual(plain(want.eval));
        expect([got.skipped, got.issues, got.padId]).toEqual([want.skipped, want.issues, want.padId]);
        const batches = (rows: readonly Row[]) => {
          const b = new Batcher(rows, { batchSize: 4, seqLen, padId: want.padId, seed });
          return Array.from({ length: 12 }, (_, k) => b.batchAt(k));
        };
        if (want.train.length > 0) expect(batches(got.train)).toEqual(batches(want.train));
      }
    }
    // Rows cut by the length and rows left with no target are among them.
    const short = sftData(tokenizer, config, prepared.examples, { seqLen: 16, evalFraction: 0, seed: 0 });
    expect(short.train.some((r) => (r as { truncated?: boolean }).truncated)).toBe(true);
    expect(short.issues.some((i) => /after truncation/.test(i.message))).toBe(true);
  });
});
