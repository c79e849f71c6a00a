import { describe, it } from 'vitest';
import { testGpu, up } from '../../../test/helpers/gpu';
import { expectClose, randn } from '../../../test/helpers/numeric';
import { copy2d } from './copy2d';
import { copy2dRef } from './copy2d.ref';

describe('copy2d kernel', () => {
  for (const [rows, C, off, w, acc] of [
    [1, 3, 0, 1, false],
    [5, 12, 4, 4, false],
    [7, 30, 20, 10, true],
    [33, 9, 1, 7, true],
  ] as const) {
    it(`copies a [${rows}, ${w}] column block at ${off} of ${C}${acc ? ', accumulating' : ''}`, async () => {
      const ctx = await testGpu();
      const src = randn(rows * C, 3);
      const dst = randn(rows * w, 4);
      const gs = up(ctx, src);
      const gd = up(ctx, dst);
      const args = {
        rows,
        cols: w,
        srcStride: C,
        srcOffset: off,
        dstStride: w,
        dstOffset: 0,
        accumulate: acc,
      };
      copy2d(ctx, { out: gd, x: gs, ...args });
      const expected = Float64Array.from(dst);
      copy2dRef(expected, src, args);
      expectClose(await ctx.readF32(gd, rows * w), expected, 1e-6, 1e-6, 'slice');
      // And back: the slice's "gradient" written into the block of a bigger buffer.
      const big = randn(rows * C, 5);
      const gb = up(ctx, big);
      const back = {
        rows,
        cols: w,
        srcStride: w,
        srcOffset: 0,
        dstStride: C,
        dstOffset: off,
        accumulate: acc,
      };
      copy2d(ctx, { out: gb, x: gd, ...back });
      const expBig = Float64Array.from(big);
      copy2dRef(expBig, expected, back);
      expectClose(await ctx.readF32(gb, rows * C), expBig, 1e-6, 1e-6, 'scatter back');
      for (const b of [gs, gd, gb]) ctx.arena.free(b);
    });
  }
});
