// Packing invariants (every example exactly once, positions restart, segments separate, boundary
// labels ignored) and the batcher's shapes, padding and seeded epochs.
import { describe, expect, it } from 'vitest';
import { Batcher, makeBatch } from './batch';
import { packSequences, type Sequence } from './pack';
import { seededRandom } from './split';
import { IGNORE_INDEX } from './tokenize';

const X = IGNORE_INDEX;

/** Example i: ids 1000·(i+1) + t, labels equal to ids except a masked first half. */
function examples(lengths: number[]): Sequence[] {
  return lengths.map((n, i) => {
    const inputIds = Array.from({ length: n }, (_, t) => 1000 * (i + 1) + t);
    return { inputIds, labels: inputIds.map((id, t) => (t < n / 2 ? X : id)) };
  });
}

describe('packSequences', () => {
  it('packs [5,3,4,2,1] into rows of 8 by best fit, decreasing', () => {
    const rows = packSequences(examples([5, 3, 4, 2, 1]), { seqLen: 8, padId: 0 });
    // Longest first: 5 → row0 (3 left), 4 → row1 (4 left), 3 → row0 (0 left), 2 → row1 (2 left), 1 → row1.
    expect(rows.map((r) => r.examples)).toEqual([
      [0, 1],
      [2, 3, 4],
    ]);
    expect(rows[1].positionIds).toEqual([0, 1, 2, 3, 0, 1, 0, 0]);
    expect(rows[1].segmentIds).toEqual([1, 1, 1, 1, 2, 2, 3, 0]);
    expect(rows[1].used).toBe(7);
    expect(rows[1].inputIds[7]).toBe(0);
  });

  it('packs in input order with the sequential strategy', () => {
    const rows = packSequences(examples([5, 3, 4, 2, 1]), { seqLen: 8, padId: 0, strategy: 'sequential' });
    expect(rows.map((r) => r.examples)).toEqual([
      [0, 1],
      [2, 3, 4],
    ]);
    const rows2 = packSequences(examples([5, 4, 3]), { seqLen: 8, padId: 0, strategy: 'sequential' });
    expect(rows2.map((r) => r.examples)).toEqual([[0], [1, 2]]);
  });

  it('keeps invariants on random lengths, including ones longer than the row', () => {
    const r = seededRandom(11);
    for (const T of [1, 7, 16]) {
      const lengths = Array.from({ length: 40 }, () => 1 + Math.floor(r() * 20));
      const seqs = examples(lengths);
      for (const strategy of ['bfd', 'sequential'] as const) {
        const rows = packSequences(seqs, { seqLen: T, padId: -1, strategy });
        const seen = rows.flatMap((row) => row.examples).sort((a, b) => a - b);
        expect(seen).toEqual(lengths.map((_, i) => i));
        for (const row of rows) {
          expect(row.inputIds.length).toBe(T);
          expect(row.labels.length).toBe(T);
          let t = 0;
          row.examples.forEach((i, k) => {
            const n = Math.min(lengths[i], T);
            for (let j = 0; j < n; j++, t++) {
              expect(row.inputIds[t]).toBe(seqs[i].inputIds[j]);
              expect(row.positionIds[t]).toBe(j);
              expect(row.segmentIds[t]).toBe(k + 1);
              // No label is predicted across an example boundary.
              expect(row.labels[t]).toBe(j === 0 ? X : seqs[i].labels[j]);
            }
          });
          expect(t).toBe(row.used);
          for (; t < T; t++) expect([row.inputIds[t], row.labels[t], row.segmentIds[t]]).toEqual([-1, X, 0]);
        }
      }
    }
  });
});

describe('batches', () => {
  it('lays rows into [B, T] with padding, masks and target counts', () => {
    const b = makeBatch(
      [
        { inputIds: [5, 6, 7], labels: [X, 6, 7] },
        { inputIds: [8, 9, 10, 11, 12], labels: [8, 9, 10, 11, 12] },
        null,
      ],
      3,
      4,
      0,
    );
    expect([...b.inputIds]).toEqual([5, 6, 7, 0, 8, 9, 10, 11, 0, 0, 0, 0]);
    expect([...b.labels]).toEqual([X, 6, 7, X, 8, 9, 10, 11, X, X, X, X]);
    expect([...b.positionIds]).toEqual([0, 1, 2, 0, 0, 1, 2, 3, 0, 0, 0, 0]);
    expect([...b.segmentIds]).toEqual([1, 1, 1, 0, 1, 1, 1, 1, 0, 0, 0, 0]);
    expect([...b.attentionMask]).toEqual([1, 1, 1, 0, 1, 1, 1, 1, 0, 0, 0, 0]);
    expect(b.tokens).toBe(7);
    expect(b.targets).toBe(5); // 6, 7 and 9, 10, 11 (position 0 is never a target)
    expect(b.rows).toEqual([0, 1, -1]);
  });

  it('passes packed rows through with their positions and segments', () => {
    const rows = packSequences(examples([3, 2]), { seqLen: 6, padId: 0 });
    const b = makeBatch(rows, 1, 6, 0);
    expect([...b.positionIds]).toEqual([0, 1, 2, 0, 1, 0]);
    expect([...b.segmentIds]).toEqual([1, 1, 1, 2, 2, 0]);
    expect([...b.labels]).toEqual([X, X, 1002, X, 2001, X]);
  });

  it('serves seeded epochs: each a permutation, reproducible by step, different across epochs', () => {
    const rows = examples([2, 2, 2, 2, 2, 2, 2]);
    const mk = () => new Batcher(rows, { batchSize: 3, seqLen: 2, padId: 0, seed: 5 });
    const a = mk();
    expect(a.batchesPerEpoch).toBe(3);
    const epoch0 = [0, 1, 2].flatMap((s) => a.batchAt(s).rows);
    expect(epoch0.filter((i) => i >= 0).sort()).toEqual([0, 1, 2, 3, 4, 5, 6]);
    expect(epoch0.slice(7)).toEqual([-1, -1]);
    const epoch1 = [3, 4, 5].flatMap((s) => a.batchAt(s).rows);
    expect(epoch1).not.toEqual(epoch0);
    // A fresh batcher (a resumed run) gives the same batch for the same step.
    expect(mk().batchAt(4)).toEqual(a.batchAt(4));
    const drop = new Batcher(rows, { batchSize: 3, seqLen: 2, padId: 0, seed: 5, dropLast: true });
    expect(drop.batchesPerEpoch).toBe(2);
    const ordered = new Batcher(rows, { batchSize: 3, seqLen: 2, padId: 0, seed: 5, shuffle: false });
    expect([...ordered.epoch(0)].map((b) => b.rows)).toEqual([
      [0, 1, 2],
      [3, 4, 5],
      [6, -1, -1],
    ]);
  });
});
