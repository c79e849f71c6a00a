// gemvMulti (several GEMVs over one input in one dispatch) against its float64 twin and against separate
// dot products written out here: 2 and 3 parts, 1 and several rows, dense and strided output rows (KV cache
// rows) that leave the rows between untouched, with and without biases on some parts (Qwen2's q/k/v); one
// dispatch per call; calls it does not take record nothing.
import { describe, expect, it } from 'vitest';
import { testGpu, up } from '../../../test/helpers/gpu';
import { expectClose, randn } from '../../../test/helpers/numeric';
import { gemvMulti, gemvMultiRef } from './gemv-multi';

describe('gemvMulti', () => {
  for (const [M, Ns, strided, biased] of [
    [1, [24, 8, 8], false, [false, false, false]],
    [3, [16, 8, 8], true, [false, false, false]],
    [1, [40, 40], false, [false, false]],
    [5, [12, 20], true, [false, false]],
    [1, [24, 8, 8], true, [true, true, true]],
    [3, [16, 8, 8], false, [true, false, true]],
  ] as const)
    it(`M${M} parts [${Ns}]${strided ? ', strided rows' : ''}${biased.some(Boolean) ? `, biases [${biased.map(Number)}]` : ''}: matches the twin and plain dot products`, async () => {
      const ctx = await testGpu();
      const K = 18 + M; // K mod 4 ≠ 0: the tail after the 4-wide steps too
      const a = randn(M * K, 1);
      const ws = Ns.map((N, j) => randn(N * K, 2 + j));
      const strides = Ns.map((N) => (strided ? N + 7 : N));
      const sizes = Ns.map((N, j) => (M - 1) * strides[j] + N);
      const fill = sizes.map((n, j) => randn(n, 10 + j));
      const ga = up(ctx, a);
      const gw = ws.map((w) => up(ctx, w));
      const go = fill.map((f) => up(ctx, f));
      const bs = Ns.map((N, j) => (biased[j] ? randn(N, 20 + j) : null));
      const gb = bs.map((b) => (b ? up(ctx, b) : null));
      const d0 = ctx.dispatches;
      const took = gemvMulti(ctx, {
        a: ga,
        M,
        K,
        parts: Ns.map((N, j) => ({ w: gw[j], N, out: go[j], rowStride: strides[j], bias: gb[j] })),
      });
      expect(took).toBe(true);
      expect(ctx.dispatches - d0).toBe(1);
      const twin = fill.map((f) => Float64Array.from(f));
      gemvMultiRef({
        a: Float64Array.from(a),
        M,
        K,
        parts: Ns.map((N, j) => ({
          w: Float64Array.from(ws[j]),
          N,
          out: twin[j],
          rowStride: strides[j],
          bias: bs[j] ? Float64Array.from(bs[j]) : null,
        })),
      });
      for (const [j, N] of Ns.entries()) {
        // The twin against dot products written out, and the untouched gaps between strided rows.
        for (let m = 0; m < M; m++) {
          for (let n = 0; n < N; n++) {
            let s = 0;
            for (let k = 0; k < K; k++) s += a[m * K + k] * ws[j][n * K + k];
            expect(twin[j][m * strides[j] + n]).toBeCloseTo(s + (bs[j]?.[n] ?? 0), 12);
          }
          for (let g = N; g < strides[j] && m < M - 1; g++)
            expect(twin[j][m * strides[j] + g]).toBe(fill[j][m * strides[j] + g]);
        }
        expectClose(await ctx.readF32(go[j], sizes[j]), twin[j], 1e-5, 1e-5, `part ${j}`);
      }
      for (const b of [ga, ...gw, ...go, ...gb]) if (b) ctx.arena.free(b);
    });

  it('declines (records nothing) past GEMV rows, with one part, or writing its input', async () => {
    const ctx = await testGpu();
    const K = 8;
    const a = up(ctx, randn(9 * K, 1));
    const w = up(ctx, randn(4 * K, 2));
    const o1 = up(ctx, new Array(9 * 4).fill(0));
    const o2 = up(ctx, new Array(9 * 4).fill(0));
    const d0 = ctx.dispatches;
    const two = (M: number, out2 = o2) => ({
      a,
      M,
      K,
      parts: [
        { w, N: 4, out: o1 },
        { w, N: 4, out: out2 },
      ],
    });
    expect(gemvMulti(ctx, two(9))).toBe(false);
    expect(gemvMulti(ctx, { a, M: 1, K, parts: [{ w, N: 4, out: o1 }] })).toBe(false);
    expect(gemvMulti(ctx, two(1, a))).toBe(false);
    expect(gemvMulti(ctx, two(1, o1))).toBe(false);
    expect(ctx.dispatches).toBe(d0);
    for (const b of [a, w, o1, o2]) ctx.arena.free(b);
  });
});
