// tanh: GPU against the float64 twin (saturated inputs, tiny inputs where relative accuracy matters), in
// place, accumulate, and the twin's derivative against central differences.
import { describe, expect, it } from 'vitest';
import { testGpu, up } from '../../../test/helpers/gpu';
import { dot, expectClose, expectGradMatches, randn } from '../../../test/helpers/numeric';
import { tanh, tanhBackward } from './tanh';
import { tanhBackwardRef, tanhRef } from './tanh.ref';

const EXTREMES = [
  -1000, -100, -20, -1, -0.26, -0.24, -1e-3, -1e-6, 0, 1e-6, 1e-3, 0.24, 0.26, 1, 20, 100, 1000,
];

function input(n: number, seed: number): Float64Array {
  const x = randn(n, seed, 2);
  for (let i = 0; i < Math.min(n, EXTREMES.length); i++) x[i] = EXTREMES[i];
  return x;
}

describe('tanh kernels', () => {
  for (const n of [1, 257, 4099]) {
    it(`forward and backward match the twin at n=${n}`, async () => {
      const ctx = await testGpu();
      const x = input(n, 1);
      const dOut = randn(n, 2);
      const gx = up(ctx, x);
      const gd = up(ctx, dOut);
      const out = ctx.arena.alloc(n * 4, 'activations', 'out');
      tanh(ctx, { out, x: gx, n });
      const got = await ctx.readF32(out, n);
      const want = tanhRef(x);
      // Relative accuracy everywhere, tiny inputs included (tolerance relative 2e-6, absolute 1e-12).
      expectClose(got, want, 2e-6, 1e-12, 'tanh');
      expect(got.every(Number.isFinite)).toBe(true);
      const y = Float64Array.from(got);
      const dx = ctx.arena.alloc(n * 4, 'gradients', 'dx');
      tanh(ctx, { out: dx, x: gx, n }); // garbage to overwrite
      tanhBackward(ctx, { dx, dOut: gd, y: out, n });
      const wantDx = tanhBackwardRef(dOut, y);
      expectClose(await ctx.readF32(dx, n), wantDx, 1e-5, 1e-7, 'dx');
      tanhBackward(ctx, { dx, dOut: gd, y: out, n, accumulate: true });
      expectClose(
        await ctx.readF32(dx, n),
        wantDx.map((v) => 2 * v),
        1e-5,
        2e-7,
        'dx accumulate',
      );
      // in place: dx over dOut, then out over x
      tanhBackward(ctx, { dx: gd, dOut: gd, y: out, n });
      expectClose(await ctx.readF32(gd, n), wantDx, 1e-5, 1e-7, 'dx in place');
      tanh(ctx, { out: gx, x: gx, n });
      expectClose(await ctx.readF32(gx, n), want, 2e-6, 1e-12, 'tanh in place');
      for (const b of [gx, gd, out, dx]) ctx.arena.free(b);
      expect(ctx.arena.stats().liveBuffers).toBe(0);
    });
  }

  it('twin derivative matches central differences', () => {
    const x = randn(40, 3, 1.5);
    const w = randn(40, 4);
    expectGradMatches((v) => dot(w, tanhRef(v)), x, tanhBackwardRef(w, tanhRef(x)), 'tanh dx');
  });
});
