// GELU (gelu_new): GPU against the float64 twin (including saturated inputs), in place, accumulate, and the
// twin's derivative against central differences.
import { describe, expect, it } from 'vitest';
import { testGpu, up } from '../../../test/helpers/gpu';
import { dot, expectClose, expectGradMatches, randn } from '../../../test/helpers/numeric';
import { gelu, geluBackward } from './gelu';
import { geluBackwardRef, geluRef } from './gelu.ref';

const EXTREMES = [-100, -20, -10, -5, -1e-3, 0, 1e-3, 5, 10, 20, 100];

function input(n: number, seed: number): Float64Array {
  const x = randn(n, seed, 3);
  for (let i = 0; i < Math.min(n, EXTREMES.length); i++) x[i] = EXTREMES[i];
  return x;
}

describe('gelu kernels', () => {
  for (const n of [1, 255, 257, 4099]) {
    it(`forward and backward match the twin at n=${n}`, async () => {
      const ctx = await testGpu();
      const x = input(n, 1);
      const dOut = randn(n, 2);
      const gx = up(ctx, x);
      const gd = up(ctx, dOut);
      const out = ctx.arena.alloc(n * 4, 'activations', 'out');
      gelu(ctx, { out, x: gx, n });
      const got = await ctx.readF32(out, n);
      expectClose(got, geluRef(x), 1e-4, 1e-6, 'gelu');
      expect(got.every(Number.isFinite)).toBe(true);
      const dx = ctx.arena.alloc(n * 4, 'gradients', 'dx');
      gelu(ctx, { out: dx, x: gx, n }); // garbage to overwrite
      geluBackward(ctx, { dx, dOut: gd, x: gx, n });
      const want = geluBackwardRef(dOut, x);
      expectClose(await ctx.readF32(dx, n), want, 1e-4, 1e-6, 'dx');
      geluBackward(ctx, { dx, dOut: gd, x: gx, n, accumulate: true });
      expectClose(
        await ctx.readF32(dx, n),
        want.map((v) => 2 * v),
        1e-4,
        2e-6,
        'dx accumulate',
      );
      // in place: dx over dOut, then out over x
      geluBackward(ctx, { dx: gd, dOut: gd, x: gx, n });
      expectClose(await ctx.readF32(gd, n), want, 1e-4, 1e-6, 'dx in place');
      gelu(ctx, { out: gx, x: gx, n });
      expectClose(await ctx.readF32(gx, n), geluRef(x), 1e-4, 1e-6, 'gelu in place');
      for (const b of [gx, gd, out, dx]) ctx.arena.free(b);
      expect(ctx.arena.stats().liveBuffers).toBe(0);
    });
  }

  it('twin derivative matches central differences', () => {
    const x = randn(40, 3, 2);
    const w = randn(40, 4);
    expectGradMatches((v) => dot(w, geluRef(v)), x, geluBackwardRef(w, x), 'gelu dx');
  });
});
