// Kronecker product: GPU against the float64 twin (plain, transposed, accumulate, factors and gradients as
// views of flat buffers), and the twin's gradients against central differences.
import { describe, expect, it } from 'vitest';
import { testGpu, up } from '../../../test/helpers/gpu';
import { dot, expectClose, expectGradMatches, randn } from '../../../test/helpers/numeric';
import { viewOf } from '../arena';
import { type KronDims, kron, kronBackward } from './kron';
import { kronBackwardRef, kronRef } from './kron.ref';

describe('kron kernels', () => {
  const CASES: KronDims[] = [
    { a0: 1, a1: 1, b0: 1, b1: 1, alpha: 1 },
    { a0: 2, a1: 3, b0: 4, b1: 5, alpha: 0.5 },
    { a0: 4, a1: 4, b0: 8, b1: 12, alpha: -2 },
    { a0: 1, a1: 7, b0: 16, b1: 3, alpha: 1.25 },
  ];
  for (const d of CASES) {
    it(`kron and its backward match the twin at [${d.a0},${d.a1}]⊗[${d.b0},${d.b1}]`, async () => {
      const ctx = await testGpu();
      const na = d.a0 * d.a1;
      const nb = d.b0 * d.b1;
      const n = na * nb;
      const a = randn(na, 1);
      const b = randn(nb, 2);
      const g = randn(n, 3);
      // Factors in one flat buffer, gradients in another (as the ParamSet lays them out).
      const offB = Math.ceil(na / 64) * 64;
      const params = ctx.arena.alloc((offB + nb) * 4, 'workspace', 'p');
      const grads = ctx.arena.alloc((offB + nb) * 4, 'workspace', 'g');
      const ga = viewOf(params, 0, na * 4);
      const gb = viewOf(params, offB * 4, nb * 4);
      const da = viewOf(grads, 0, na * 4);
      const db = viewOf(grads, offB * 4, nb * 4);
      ctx.write(ga, Float32Array.from(a));
      ctx.write(gb, Float32Array.from(b));
      const out = up(ctx, randn(n, 4));
      kron(ctx, { ...d, out, a: ga, b: gb });
      const want = kronRef(a, b, d);
      expectClose(await ctx.readF32(out, n), want, 1e-6, 1e-7, 'kron');
      kron(ctx, { ...d, out, a: ga, b: gb, accumulate: true });
      expectClose(
        await ctx.readF32(out, n),
        want.map((v) => 2 * v),
        1e-6,
        1e-7,
        'kron accumulate',
      );
      kron(ctx, { ...d, out, a: ga, b: gb, transOut: true });
      expectClose(await ctx.readF32(out, n), kronRef(a, b, d, true), 1e-6, 1e-7, 'kron transposed');
      const gg = up(ctx, g);
      const r = kronBackwardRef(g, a, b, d);
      kronBackward(ctx, { ...d, da, db, dOut: gg, a: ga, b: gb });
      expectClose(await ctx.readF32(da, na), r.da, 1e-5, 1e-5, 'da');
      expectClose(await ctx.readF32(db, nb), r.db, 1e-5, 1e-5, 'db');
      kronBackward(ctx, { ...d, da, db: null, dOut: gg, a: ga, b: gb, accumulateDa: true });
      expectClose(
        await ctx.readF32(da, na),
        r.da.map((v) => 2 * v),
        1e-5,
        1e-5,
        'da accumulate',
      );
      expectClose(await ctx.readF32(db, nb), r.db, 1e-5, 1e-5, 'db untouched');
      for (const x of [params, grads, out, gg]) ctx.arena.free(x);
      expect(ctx.arena.stats().liveBuffers).toBe(0);
    });
  }

  it('twin gradients match central differences', () => {
    const d: KronDims = { a0: 2, a1: 3, b0: 3, b1: 2, alpha: 0.7 };
    const a = randn(6, 5);
    const b = randn(6, 6);
    const w = randn(36, 7);
    const r = kronBackwardRef(w, a, b, d);
    expectGradMatches((x) => dot(w, kronRef(x, b, d)), a, r.da, 'da');
    expectGradMatches((x) => dot(w, kronRef(a, x, d)), b, r.db, 'db');
    // torch.kron on a known pair: [[1,2]] ⊗ [[0,1],[1,0]] = [[0,1,0,2],[1,0,2,0]].
    expect(Array.from(kronRef([1, 2], [0, 1, 1, 0], { a0: 1, a1: 2, b0: 2, b1: 2, alpha: 1 }))).toEqual([
      0, 1, 0, 2, 1, 0, 2, 0,
    ]);
  });
});
