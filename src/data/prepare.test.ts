// The whole data path on a small chat JSONL: parse, detect, check (skipping), split, tokenise, pack
// and batch, each stage's output feeding the next.
import { describe, expect, it } from 'vitest';
import { Batcher } from './batch';
import { packSequences } from './pack';
import { prepareDataset } from './prepare';
import { splitTrainEval } from './split';
import { IGNORE_INDEX, type TextTokenizer, tokenizeForSft } from './tokenize';

const tok: TextTokenizer = {
  encode: (s) => [...s].map((c) => c.charCodeAt(0)),
  decode: (ids) => String.fromCharCode(...ids),
  eosId: 0,
  bosId: null,
};

describe('prepareDataset and the rest of the path', () => {
  it('goes from bytes to [B, T] batches, counting skipped rows of both stages', async () => {
    const lines = [
      ...Array.from({ length: 9 }, (_, i) =>
        JSON.stringify({
          messages: [
            { role: 'user', content: `q${i}` },
            { role: 'assistant', content: `a${i}` },
          ],
        }),
      ),
      '{"messages": [oops]}',
      JSON.stringify({ messages: [{ role: 'user', content: 5 }] }),
    ];
    const bytes = new TextEncoder().encode(lines.join('\n'));
    const p = await prepareDataset('chat.jsonl', bytes, { onError: 'skip' });
    expect(p.shape.kind).toBe('messages');
    expect(p.examples.length).toBe(9);
    expect(p.skipped).toBe(2);
    expect(p.issues.map((i) => i.message)).toEqual([
      "chat.jsonl line 10, column 15: unexpected 'o', expected a value",
      'chat.jsonl line 11: field "messages" item 1: "content" is a number, expected text',
    ]);
    const { train, eval: held } = splitTrainEval(p.examples, { evalFraction: 0.2, seed: 1 });
    expect([train.length, held.length]).toEqual([7, 2]);
    const t = tokenizeForSft(tok, train, { maxLength: 64 });
    expect(t.skipped).toBe(0);
    // "User: qN\nAssistant: aN\n" + EOS = 24 tokens; two fit in a row of 48.
    const rows = packSequences(t.examples, { seqLen: 48, padId: 0 });
    expect(rows.length).toBe(4);
    const b = new Batcher(rows, { batchSize: 2, seqLen: 48, padId: 0, seed: 3 }).batchAt(0);
    expect(b.inputIds.length).toBe(96);
    expect(b.targets).toBe(b.labels.filter((l, i) => i % 48 !== 0 && l !== IGNORE_INDEX).length);
  });
});
