// The token arena's blocks: examples stored across block boundaries (blocks of a few tokens here) read back
// exactly, ids past 16 bits widening every block already written, failures and sources kept, and the
// rows built from it (sftRows) equal to the materialised examples (sftExamples) at several lengths.
import { describe, expect, it } from 'vitest';
import { sftExamples, sftRows, TokenArena } from './token-arena';
import { IGNORE_INDEX } from './tokenize';

describe('TokenArena', () => {
  it('reads back what was pushed across blocks, widened past 16 bits', () => {
    const pushed: { ids: number[]; labels: number[] }[] = [];
    for (const block of [1, 3, 7, 64]) {
      const a = new TokenArena('f.jsonl', block);
      pushed.length = 0;
      let seed = block;
      const r = () => {
        seed = (seed * 1103515245 + 12345) >>> 0;
        return seed / 2 ** 32;
      };
      for (let i = 0; i < 40; i++) {
        const n = 1 + Math.floor(r() * 12);
        // Ids past 65535 only from the 25th example on: blocks written before are widened.
        const ids = Array.from({ length: n }, () => Math.floor(r() * (i >= 25 ? 100_000 : 60_000)));
        const labels = ids.map((id, k) => (k > 0 && r() < 0.6 ? id : IGNORE_INDEX));
        if (i === 10) a.pushFailure('too long', { file: 'f.jsonl', line: i + 1 });
        a.push(ids, labels, { file: 'f.jsonl', line: i + 1 });
        pushed.push({ ids, labels });
      }
      let j = 0;
      for (let i = 0; i < a.count; i++) {
        if (a.isFailure(i)) {
          expect(a.source(i)).toEqual({ file: 'f.jsonl', line: 11 });
          continue;
        }
        expect(a.sequence(i)).toEqual({ inputIds: pushed[j].ids, labels: pushed[j].labels });
        expect(a.sequence(i, 3).inputIds).toEqual(pushed[j].ids.slice(0, 3));
        j++;
      }
      expect(j).toBe(40);
      for (const L of [2, 5, 100]) {
        const rows = sftRows(a, L);
        const want = sftExamples(a, L);
        expect([rows.skipped, rows.issues]).toEqual([want.skipped, want.issues]);
        expect(
          rows.examples.map((e) => ({
            inputIds: e.inputIds,
            labels: e.labels,
            source: e.source,
            fullLength: e.fullLength,
            truncated: e.truncated,
          })),
        ).toEqual(want.examples);
      }
    }
  });
});
