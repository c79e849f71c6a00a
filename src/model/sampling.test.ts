// Tests for sampling.ts and generate.ts's TextStream, on the CPU only: each filter's distribution against one
// computed by hand (HF semantics: penalty, then temperature, top-k, top-p), draws against their distribution,
// seeded reproducibility, nextTokenFast against nextToken (same token, same draws), and streamed text that never splits a UTF-8 character or shows part of a stop string.
import { describe, expect, it } from 'vitest';
import { expectClose } from '../../test/helpers/numeric';
import { rng } from '../util/rng';
import { TextStream } from './generate';
import {
  applyRepetitionPenalty,
  argmax,
  checkSamplingParams,
  drawFrom,
  fastCandidates,
  nextToken,
  nextTokenFast,
  type SamplingParams,
  samplingDistribution,
} from './sampling';

const norm = (xs: number[]) => {
  const s = xs.reduce((a, b) => a + b, 0);
  return xs.map((x) => x / s);
};

describe('sampling filters against hand-computed distributions', () => {
  const logits = [1, 2, 3, 4];

  it('temperature divides the logits', () => {
    const got = samplingDistribution(logits, [], { temperature: 2 });
    expectClose(got, norm(logits.map((z) => Math.exp(z / 2))), 1e-12, 1e-15, 'T=2');
    const one = samplingDistribution(logits, [], { temperature: 1 });
    expectClose(one, norm(logits.map(Math.exp)), 1e-12, 1e-15, 'T=1');
  });

  it('top-k keeps the k largest, and every tie with the k-th', () => {
    const got = samplingDistribution(logits, [], { temperature: 1, topK: 2 });
    expectClose(got, [0, 0, ...norm([Math.exp(3), Math.exp(4)])], 1e-12, 1e-15, 'k=2');
    const tied = samplingDistribution([1, 3, 3, 4], [], { temperature: 1, topK: 2 });
    expectClose(tied, [0, ...norm([Math.exp(3), Math.exp(3), Math.exp(4)])], 1e-12, 1e-15, 'ties');
    // k ≥ V and k = 0 are no-ops.
    expectClose(samplingDistribution(logits, [], { temperature: 1, topK: 9 }), one(), 1e-12, 0, 'k=9');
    expectClose(samplingDistribution(logits, [], { temperature: 1, topK: 0 }), one(), 1e-12, 0, 'k=0');
    function one() {
      return norm(logits.map(Math.exp));
    }
  });

  it('top-p removes tokens whose ascending running sum is ≤ 1 − p', () => {
    const lp = [0.1, 0.2, 0.3, 0.4].map(Math.log);
    // Running sums .1, .3, .6, 1: p = .5 removes the first two, p = .75 the first only.
    expectClose(
      samplingDistribution(lp, [], { temperature: 1, topP: 0.5 }),
      [0, 0, 3 / 7, 4 / 7],
      1e-12,
      1e-15,
    );
    expectClose(
      samplingDistribution(lp, [], { temperature: 1, topP: 0.75 }),
      [0, 2 / 9, 3 / 9, 4 / 9],
      1e-12,
      1e-15,
    );
    // A tiny p still keeps the most likely token.
    expectClose(samplingDistribution(lp, [], { temperature: 1, topP: 0.01 }), [0, 0, 0, 1], 1e-12, 0);
  });

  it('top-k then top-p compose in that order', () => {
    const lp = [0.1, 0.2, 0.3, 0.4].map(Math.log);
    // top-k 3 leaves .2, .3, .4 → renormalised 2/9, 3/9, 4/9; running sums 2/9, 5/9, 1; p = .6 drops 2/9 only.
    const got = samplingDistribution(lp, [], { temperature: 1, topK: 3, topP: 0.6 });
    expectClose(got, [0, 0, 3 / 7, 4 / 7], 1e-12, 1e-15);
  });

  it('repetition penalty divides positive and multiplies negative scores of seen tokens (HF)', () => {
    const s = Float64Array.from([-1, 0.5, 3, 1]);
    applyRepetitionPenalty(s, [0, 2, 2], 2);
    expect(Array.from(s)).toEqual([-2, 0.5, 1.5, 1]);
    // Greedy sees the penalised scores: token 2 wins at θ = 2, token 3 at θ = 4.
    expect(nextToken([-1, 0.5, 3, 1], [0, 2], { repetitionPenalty: 2 }, () => 0)).toBe(2);
    expect(nextToken([-1, 0.5, 3, 1], [0, 2], { repetitionPenalty: 4 }, () => 0)).toBe(3);
    // Applied before temperature: softmax(penalised / T).
    const got = samplingDistribution([-1, 0.5, 3, 1], [0, 2], { repetitionPenalty: 2, temperature: 0.5 });
    expectClose(got, norm([-4, 1, 3, 2].map(Math.exp)), 1e-12, 1e-15);
  });

  it('greedy is the first argmax; bad parameters are refused by name', () => {
    expect(argmax([1, 5, 5, 2])).toBe(1);
    expect(nextToken([1, 5, 5, 2], [], { temperature: 0, topK: 1 }, () => 0.99)).toBe(1);
    expect(() => checkSamplingParams({ temperature: -1 })).toThrow(/temperature -1/);
    expect(() => checkSamplingParams({ topK: 1.5 })).toThrow(/top-k 1.5/);
    expect(() => checkSamplingParams({ topP: 0 })).toThrow(/top-p 0/);
    expect(() => checkSamplingParams({ repetitionPenalty: 0 })).toThrow(/repetition penalty 0/);
  });
});

describe('drawing', () => {
  it('inverse CDF never returns a zero-probability token', () => {
    const p = [0, 0.25, 0, 0.75, 0];
    expect(drawFrom(p, 0)).toBe(1);
    expect(drawFrom(p, 0.2499)).toBe(1);
    expect(drawFrom(p, 0.25)).toBe(3);
    expect(drawFrom(p, 0.999999)).toBe(3);
    expect(drawFrom([0.5, 0.4999999, 0], 0.9999999999)).toBe(1);
  });

  it('draws follow the filtered distribution and repeat under the same seed', () => {
    const logits = [0.3, 1.2, -0.5, 2.0, 0.9, 1.1];
    const params = { temperature: 0.8, topK: 4, topP: 0.9 };
    const want = samplingDistribution(logits, [], params);
    const draw = (seed: number, n: number) => {
      const r = rng(seed);
      return Array.from({ length: n }, () => nextToken(logits, [], params, r));
    };
    const n = 20000;
    const counts = new Array(logits.length).fill(0);
    for (const t of draw(5, n)) counts[t]++;
    for (let i = 0; i < logits.length; i++) {
      // 4 standard deviations of a binomial proportion.
      const sd = Math.sqrt((want[i] * (1 - want[i])) / n);
      expect(Math.abs(counts[i] / n - want[i]), `token ${i}`).toBeLessThanOrEqual(4 * sd + 1e-12);
    }
    expect(draw(42, 50)).toEqual(draw(42, 50));
    expect(draw(42, 50)).not.toEqual(draw(43, 50));
  });
});

describe('TextStream', () => {
  // Token id = one byte; decoding replaces an incomplete UTF-8 sequence with U+FFFD, as real tokenizers do.
  const bytes = (ids: readonly number[]) => new TextDecoder().decode(Uint8Array.from(ids));

  it('never splits a multi-byte character', () => {
    const enc = [...new TextEncoder().encode('aé€😀b')];
    const s = new TextStream(bytes);
    const deltas = enc.map((t) => s.push(t));
    expect(deltas.every((d) => !d.includes('\uFFFD'))).toBe(true);
    expect(deltas.join('')).toBe('aé€😀b');
    // é is two bytes: nothing after the first, the character after the second.
    expect(deltas.slice(1, 3)).toEqual(['', 'é']);
  });

  it('holds back a possible start of a stop string and cuts at a stop string', () => {
    const words = ['Hel', 'lo', ' wo', 'rld', '. ', 'END', ' more'];
    const dec = (ids: readonly number[]) => ids.map((i) => words[i]).join('');
    const s = new TextStream(dec, ['o wx', '. END']);
    const out = [0, 1, 2, 3, 4, 5].map((t) => s.push(t));
    // "Hello" ends with "o", a start of "o wx": held; " wo" rules that out but "o" again could start it.
    expect(out).toEqual(['Hel', 'l', 'o w', 'orld', '', '']);
    expect(s.stopped).toBe('Hello world');
    expect(s.text).toBe('Hello world');
    expect(out.join('') + s.flush()).toBe('Hello world');
  });

  it('flushes held-back text at the end of a row', () => {
    const s = new TextStream(bytes, ['!!']);
    expect(s.push(104)).toBe('h');
    expect(s.push(33)).toBe('');
    expect(s.flush()).toBe('!');
    expect(() => new TextStream(bytes, [''])).toThrow(/empty/);
  });
});

describe("nextTokenFast gives nextToken's token from the top candidates", () => {
  // Logits rounded to a coarse grid so ties (at the top, at the k-th, at the candidate cut) are common.
  const logitsOf = (V: number, seed: number, grid: number) => {
    const u = rng(seed);
    return Float64Array.from({ length: V }, () => Math.round((u() * 8 - 4) / grid) * grid);
  };
  const cases: SamplingParams[] = [
    {},
    { repetitionPenalty: 1.3 },
    { repetitionPenalty: 0.7 }, // raises seen tokens: the full path
    { temperature: 1, topK: 1 },
    { temperature: 0.7, topK: 5 },
    { temperature: 1.5, topK: 40, topP: 0.9 },
    { temperature: 0.8, topK: 10, topP: 0.5, repetitionPenalty: 1.2 },
    { temperature: 1.2, topP: 0.9 }, // no top-k: the full path
    { temperature: 1 },
    { temperature: 1, topK: 5, repetitionPenalty: 3 }, // with most tokens seen below: the k-th falls under τ
    { repetitionPenalty: 3 },
  ];

  it('same token and the same number of draws, over grids with ties, penalties and every option', () => {
    let shortcuts = 0;
    for (const [ci, p] of cases.entries())
      for (const grid of [1e-9, 0.05, 0.5])
        for (let trial = 0; trial < 20; trial++) {
          const V = 300 + trial;
          const logits = logitsOf(V, 1000 * ci + trial, grid);
          // In half the trials the 24 best tokens are seen: the penalty pushes most candidates under the cut.
          const best = Array.from(logits.keys()).sort((x, y) => logits[y] - logits[x]);
          const seen = new Set(
            trial % 2 ? Array.from({ length: 30 }, (_, i) => (i * 37 + trial) % V) : best.slice(0, 24),
          );
          // Seen tokens among the best, so the penalty reorders the top.
          for (let i = 0; i < 3; i++) seen.add(argmax(logits.map((x, j) => (seen.has(j) ? -99 : x))));
          const a = rng(trial + 1);
          const b = rng(trial + 1);
          const want = nextToken(logits, seen, p, a);
          const got = nextTokenFast(logits, seen, p, b);
          expect(got, `case ${ci} grid ${grid} trial ${trial}`).toBe(want);
          expect(b(), 'draws consumed').toBe(a());
          if (fastCandidates(p) < V && grid > 1e-9) shortcuts++;
        }
    expect(shortcuts).toBeGreaterThan(0);
  });

  it('a top-k draw that the candidates decide differs from the unfiltered draw (the check can fail)', () => {
    const logits = logitsOf(400, 3, 1e-9);
    let differs = 0;
    for (let s = 0; s < 20; s++) {
      const fast = nextTokenFast(logits, new Set(), { temperature: 1, topK: 3 }, rng(s));
      const plain = nextToken(logits, new Set(), { temperature: 1 }, rng(s));
      if (fast !== plain) differs++;
    }
    expect(differs).toBeGreaterThan(0);
  });
});
