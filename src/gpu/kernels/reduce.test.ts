// Tests for reduce.ts: the two-stage sum against its float64 twin at sizes around the workgroup size and
// past the stage-one grid (stride loop), scale and outIndex, and bit-identical repeat runs.
import { describe, expect, it } from 'vitest';
import { testGpu, up } from '../../../test/helpers/gpu';
import { expectClose, randn } from '../../../test/helpers/numeric';
import { viewOf } from '../arena';
import { sum } from './reduce';
import { sumRef } from './reduce.ref';

const absSum = (x: ArrayLike<number>): number => {
  let s = 0;
  for (let i = 0; i < x.length; i++) s += Math.abs(x[i]);
  return s;
};

describe('sum', () => {
  for (const n of [1, 7, 255, 256, 257, 4099, 65536, 70001]) {
    it(`matches the twin at n=${n}`, async () => {
      const ctx = await testGpu();
      const x = randn(n, n + 3);
      const gx = up(ctx, x);
      const out = ctx.arena.alloc(3 * 4, 'workspace', 'out');
      ctx.clear(out);
      sum(ctx, { out, x: gx, n });
      sum(ctx, { out, x: gx, n, scale: 1 / n, outIndex: 2 });
      const got = await ctx.readF32(out, 3);
      // f32 accumulation error grows with Σ|x|, not with the (possibly cancelling) sum itself.
      const atol = 1e-6 * absSum(x) + 1e-7;
      expectClose([got[0]], [sumRef(x)], 1e-5, atol, 'sum');
      expect(got[1]).toBe(0);
      expectClose([got[2]], [sumRef(x, 1 / n)], 1e-5, atol / n, 'mean at outIndex 2');
      // Deterministic: the same input gives the same bits.
      sum(ctx, { out, x: gx, n, outIndex: 1 });
      const again = await ctx.readF32(out, 3);
      expect(again[1]).toBe(got[0]);
      ctx.arena.free(gx);
      ctx.arena.free(out);
      expect(ctx.arena.stats().liveBuffers).toBe(0);
    });
  }

  it('writes scale·0 for n = 0', async () => {
    const ctx = await testGpu();
    const gx = up(ctx, [5]);
    const out = up(ctx, [7]);
    sum(ctx, { out, x: gx, n: 0, scale: 2 });
    expect((await ctx.readF32(out, 1))[0]).toBe(0);
    ctx.arena.free(gx);
    ctx.arena.free(out);
  });
});

describe('sum aliasing', () => {
  it('x and out may be views of one buffer', async () => {
    const ctx = await testGpu();
    const n = 1000;
    const x = randn(n, 5);
    const buf = ctx.arena.alloc(4096 + 256, 'workspace', 'metrics');
    const gx = viewOf(buf, 0, n * 4);
    const out = viewOf(buf, 4096, 16);
    ctx.write(gx, Float32Array.from(x));
    sum(ctx, { out, x: gx, n, outIndex: 1 });
    const got = await ctx.readF32(out, 2);
    expectClose([got[1]], [sumRef(x)], 1e-5, 1e-6 * absSum(x), 'sum');
    ctx.arena.free(buf);
  });
});
