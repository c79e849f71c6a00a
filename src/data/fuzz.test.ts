// A seeded fuzzer over the parsers a user's files go through: JSONL, CSV and JSON datasets (both error
// policies), a safetensors header, tokenizer.json and adapter_config.json. Each case mutates a valid seed
// file (byte flips, inserted delimiters and bad UTF-8, cuts, repeats) and must end in a result or an
// Error whose message starts with the file's name: no crash of another kind (a TypeError from inside a
// parser), no hang (the whole run is bounded by the test's time limit). The seed and count are fixed, so
// a failure reproduces.

import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseSafetensors, writeSafetensors } from '../formats/safetensors';
import { loadTokenizer } from '../formats/tokenizer';
import { CsvStreamReader } from './csv-stream';
import { dec, enc, fuzz } from './fuzzing';
import { JsonStreamReader } from './json-stream';
import { JsonlStreamReader } from './jsonl-stream';
import { parseDataset } from './parse';

/** A parse's answer or its error's message, to compare two paths case by case. */
async function answer(f: () => unknown): Promise<unknown> {
  try {
    const r = (await f()) as { rows: unknown; locations: unknown; skipped: unknown; issues: unknown };
    return { rows: r.rows, locations: r.locations, skipped: r.skipped, issues: r.issues };
  } catch (e) {
    return e instanceof Error ? e.message : e;
  }
}

const JSONL = enc(
  [
    '{"prompt":"What is 2+2?","completion":" 4"}',
    '{"text":"plain ünïcode text 😀"}',
    '{"messages":[{"role":"user","content":"hi"},{"role":"assistant","content":"hello"}]}',
    '{"prompt":"p","chosen":"a","rejected":"b"}',
  ].join('\n'),
);
const CSV = enc('prompt,completion\n"a, quoted",b\nc,"multi\nline"\n"say ""hi""",d\n');
const JSON_DOC = enc('{"data":[{"prompt":"a","completion":"b"},{"prompt":"c","completion":"d"}]}');

describe('seeded fuzzing of the parsers', () => {
  for (const [file, seed, salt] of [
    ['f.jsonl', JSONL, 1],
    ['f.csv', CSV, 2],
    ['f.json', JSON_DOC, 3],
  ] as const) {
    it(`${file}: a result or a sentence naming the file, both policies`, async () => {
      for (const onError of ['skip', 'stop'] as const)
        await fuzz(
          file,
          seed,
          (b) => parseDataset(file, b, { onError }),
          salt + (onError === 'skip' ? 0 : 10),
        );
    });
  }

  it('JSONL streamed in small chunks: the same contract', async () => {
    await fuzz(
      's.jsonl',
      JSONL,
      (b) => {
        const r = new JsonlStreamReader('s.jsonl', { onError: 'skip' });
        for (let i = 0; i < b.length; i += 7) r.push(b.subarray(i, i + 7));
        return r.end();
      },
      4,
    );
  });

  for (const [file, seed, salt] of [
    ['g.csv', CSV, 7],
    ['g.json', JSON_DOC, 8],
  ] as const) {
    it(`${file} streamed in 5-byte chunks: the whole-file answer, or its error`, async () => {
      await fuzz(
        file,
        seed,
        async (b) => {
          const streamed = await answer(() => {
            const r = file.endsWith('.csv')
              ? new CsvStreamReader(file, { onError: 'skip', newlineSample: 8 })
              : new JsonStreamReader(file, { onError: 'skip' });
            for (let i = 0; i < b.length; i += 5) r.push(b.subarray(i, i + 5));
            return r.endStream();
          });
          const whole = await answer(() => parseDataset(file, b, { onError: 'skip' }));
          // Bad UTF-8 ends the whole-file path before any parsing; the stream may meet a bad row first.
          const badText = typeof whole === 'string' && /not UTF-8 text/.test(whole);
          if (badText && typeof streamed === 'string') throw new Error(streamed);
          // A CR in CSV: the line ending is guessed from 8 characters here, from a MiB in parseCsv.
          if (file.endsWith('.csv') && b.includes(0x0d)) {
            if (typeof streamed === 'string') throw new Error(streamed);
            return;
          }
          if (JSON.stringify(streamed) !== JSON.stringify(whole))
            throw new Error(`streamed ${JSON.stringify(streamed)} but whole ${JSON.stringify(whole)}`);
          if (typeof whole === 'string') throw new Error(whole);
        },
        salt,
      );
    });
  }

  it('a safetensors header', async () => {
    const seed = writeSafetensors(
      {
        'a.weight': { dtype: 'F32', shape: [2, 3], data: Float32Array.of(1, 2, 3, 4, 5, 6) },
        b: { dtype: 'F32', shape: [1], data: Float32Array.of(7) },
      },
      { format: 'pt' },
    );
    // Mutations aimed at the header (the first bytes), where the parsing happens.
    const failed = await fuzz('m.safetensors', seed, (b) => parseSafetensors(b, 'm.safetensors'), 5);
    expect(failed).toBeGreaterThan(0);
  });

  it('tokenizer.json', async () => {
    const seed = new Uint8Array(readFileSync('test/fixtures/models/llama-tiny/tokenizer.json'));
    await fuzz(
      'tokenizer.json',
      seed,
      (b) => loadTokenizer({ tokenizerJson: dec(b), tokenizerFile: 'tokenizer.json' }),
      6,
    );
  });
});
