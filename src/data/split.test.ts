// The seeded split: deterministic, disjoint, covering, with at least one eval example when asked.
import { describe, expect, it } from 'vitest';
import { permutation, splitTrainEval } from './split';

const items = Array.from({ length: 50 }, (_, i) => i);

describe('splitTrainEval', () => {
  it('is the same for the same seed and differs for another', () => {
    const a = splitTrainEval(items, { evalFraction: 0.2, seed: 7 });
    const b = splitTrainEval(items, { evalFraction: 0.2, seed: 7 });
    const c = splitTrainEval(items, { evalFraction: 0.2, seed: 8 });
    expect(a).toEqual(b);
    expect(a.eval).not.toEqual(c.eval);
    expect(a.eval.length).toBe(10);
    expect([...a.train, ...a.eval].sort((x, y) => x - y)).toEqual(items);
    // Both parts keep input order.
    expect(a.train).toEqual([...a.train].sort((x, y) => x - y));
  });

  it('takes a count, keeps one for eval when possible and one for training always', () => {
    expect(splitTrainEval(items, { evalCount: 3, seed: 1 }).eval.length).toBe(3);
    expect(splitTrainEval([1, 2, 3], { evalFraction: 0.01, seed: 1 }).eval.length).toBe(1);
    expect(splitTrainEval([1, 2], { evalCount: 5, seed: 1 })).toMatchObject({ train: [expect.any(Number)] });
    expect(splitTrainEval([1], { evalFraction: 0.5, seed: 1 })).toEqual({ train: [1], eval: [] });
    expect(splitTrainEval(items, { evalFraction: 0, seed: 1 }).eval).toEqual([]);
    expect(() => splitTrainEval(items, { evalFraction: 1, seed: 1 })).toThrow(RangeError);
  });

  it('permutation is a seeded permutation', () => {
    const p = permutation(20, 3);
    expect([...p].sort((a, b) => a - b)).toEqual(Array.from({ length: 20 }, (_, i) => i));
    expect(permutation(20, 3)).toEqual(p);
    expect(permutation(0, 3)).toEqual([]);
  });
});
