import { describe, expect, it } from 'vitest';
import { testGpu, up } from '../../../test/helpers/gpu';
import { expectClose, randn } from '../../../test/helpers/numeric';
import { add, addInPlace } from './add';
import { addRef } from './add.ref';

describe('add kernel', () => {
  for (const n of [1, 255, 256, 257, 4099]) {
    it(`matches the twin at n=${n}`, async () => {
      const ctx = await testGpu();
      const a = randn(n, 1);
      const b = randn(n, 2);
      const ga = up(ctx, a);
      const gb = up(ctx, b);
      const out = ctx.arena.alloc(n * 4, 'activations', 'out');
      add(ctx, { out, a: ga, b: gb, n });
      expectClose(await ctx.readF32(out, n), addRef(a, b), 1e-6, 1e-6, 'add');
      addInPlace(ctx, { a: ga, b: gb, n });
      expectClose(await ctx.readF32(ga, n), addRef(a, b), 1e-6, 1e-6, 'addInPlace');
      for (const bf of [ga, gb, out]) ctx.arena.free(bf);
      expect(ctx.arena.stats().liveBuffers).toBe(0);
    });
  }
});
