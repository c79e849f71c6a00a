// scale and mulVec: GPU against the float64 twins (in place, accumulate, null outputs, two-stage dv), and
// the twins' gradients against central differences.
import { describe, expect, it } from 'vitest';
import { testGpu, up } from '../../../test/helpers/gpu';
import { dot, expectClose, expectGradMatches, randn } from '../../../test/helpers/numeric';
import { mulVec, mulVecBackward, scale } from './scale';
import { mulVecBackwardRef, mulVecRef, scaleRef } from './scale.ref';

describe('scale kernels', () => {
  for (const n of [1, 255, 257, 4099]) {
    it(`scale matches the twin at n=${n} (overwrite, accumulate, in place)`, async () => {
      const ctx = await testGpu();
      const x = randn(n, 1);
      const o = randn(n, 2);
      const gx = up(ctx, x);
      const out = up(ctx, o);
      scale(ctx, { out, x: gx, n, alpha: -0.37 });
      expectClose(await ctx.readF32(out, n), scaleRef(x, -0.37), 1e-6, 1e-7, 'scale');
      scale(ctx, { out, x: gx, n, alpha: 2, accumulate: true });
      const acc = scaleRef(x, -0.37).map((v, i) => v + 2 * x[i]);
      expectClose(await ctx.readF32(out, n), acc, 1e-6, 1e-6, 'scale accumulate');
      scale(ctx, { out: gx, x: gx, n, alpha: 0.5 });
      expectClose(await ctx.readF32(gx, n), scaleRef(x, 0.5), 1e-6, 1e-7, 'scale in place');
      ctx.arena.free(gx);
      ctx.arena.free(out);
      expect(ctx.arena.stats().liveBuffers).toBe(0);
    });
  }

  const SHAPES: Array<[number, number]> = [
    [1, 1],
    [1, 37],
    [5, 64],
    [7, 65],
    [300, 13],
  ];
  for (const [rows, cols] of SHAPES) {
    it(`mulVec and its backward match the twins at ${rows}×${cols}`, async () => {
      const ctx = await testGpu();
      const n = rows * cols;
      const x = randn(n, 3);
      const v = randn(cols, 4);
      const dOut = randn(n, 5);
      const [gx, gv, gd] = [x, v, dOut].map((a) => up(ctx, a));
      const out = up(ctx, randn(n, 6));
      mulVec(ctx, { out, x: gx, v: gv, rows, cols });
      const want = mulVecRef(x, v, rows, cols);
      expectClose(await ctx.readF32(out, n), want, 1e-6, 1e-7, 'mulVec');
      mulVec(ctx, { out, x: gx, v: gv, rows, cols, accumulate: true });
      expectClose(
        await ctx.readF32(out, n),
        want.map((a) => 2 * a),
        1e-6,
        1e-7,
        'mulVec accumulate',
      );
      const g = mulVecBackwardRef(dOut, x, v, rows, cols);
      const dx = up(ctx, randn(n, 7));
      const dv = up(ctx, randn(cols, 8));
      mulVecBackward(ctx, { dx, dv, dOut: gd, x: gx, v: gv, rows, cols });
      expectClose(await ctx.readF32(dx, n), g.dx, 1e-6, 1e-7, 'dx');
      expectClose(await ctx.readF32(dv, cols), g.dv, 1e-4, 1e-5, 'dv');
      mulVecBackward(ctx, {
        dx,
        dv,
        dOut: gd,
        x: gx,
        v: gv,
        rows,
        cols,
        accumulateDx: true,
        accumulateDv: true,
      });
      expectClose(
        await ctx.readF32(dx, n),
        g.dx.map((a) => 2 * a),
        1e-6,
        1e-7,
        'dx accumulate',
      );
      expectClose(
        await ctx.readF32(dv, cols),
        g.dv.map((a) => 2 * a),
        1e-4,
        2e-5,
        'dv accumulate',
      );
      // null outputs skipped; an in-place dx over dOut still gets dv from the original dOut
      const seven = new Float32Array(cols).fill(7);
      ctx.write(dv, seven);
      mulVecBackward(ctx, { dx, dv: null, dOut: gd, x: gx, v: gv, rows, cols });
      expectClose(await ctx.readF32(dv, cols), seven, 0, 0, 'dv untouched');
      mulVecBackward(ctx, { dx: gd, dv, dOut: gd, x: gx, v: gv, rows, cols });
      expectClose(await ctx.readF32(dv, cols), g.dv, 1e-4, 1e-5, 'dv before in-place dx');
      expectClose(await ctx.readF32(gd, n), g.dx, 1e-6, 1e-7, 'dx in place');
      // IA3 in place: y ← l ⊙ y
      mulVec(ctx, { out: gx, x: gx, v: gv, rows, cols });
      expectClose(await ctx.readF32(gx, n), want, 1e-6, 1e-7, 'mulVec in place');
      for (const b of [gx, gv, gd, out, dx, dv]) ctx.arena.free(b);
      expect(ctx.arena.stats().liveBuffers).toBe(0);
    });
  }

  it('twin gradients match central differences', () => {
    const rows = 4;
    const cols = 6;
    const x = randn(rows * cols, 9);
    const v = randn(cols, 10);
    const w = randn(rows * cols, 11);
    const g = mulVecBackwardRef(w, x, v, rows, cols);
    expectGradMatches((a) => dot(w, mulVecRef(a, v, rows, cols)), x, g.dx, 'mulVec dx');
    expectGradMatches((a) => dot(w, mulVecRef(x, a, rows, cols)), v, g.dv, 'mulVec dv');
    expectGradMatches((a) => dot(w, scaleRef(a, 1.7)), x, scaleRef(w, 1.7), 'scale dx');
  });
});
