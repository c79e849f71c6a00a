// Tests for gradnorm.ts: sums of squares into slots, the clip factor against torch's formula (clipping on
// and off), and the whole clip path feeding adamw's gradScale without a CPU read.
import { describe, expect, it } from 'vitest';
import { testGpu, up } from '../../../test/helpers/gpu';
import { expectClose, randn } from '../../../test/helpers/numeric';
import { viewOf } from '../arena';
import { adamw } from './adamw';
import { adamwRef } from './adamw.ref';
import { clipScale, sumSquares } from './gradnorm';
import { clipScaleRef, globalNormSqRef, sumSquaresRef } from './gradnorm.ref';

describe('sumSquares', () => {
  for (const n of [1, 255, 257, 4099, 70001]) {
    it(`matches the twin at n=${n}`, async () => {
      const ctx = await testGpu();
      const x = randn(n, n);
      const gx = up(ctx, x);
      const out = up(ctx, [0, 0]);
      sumSquares(ctx, { out, x: gx, n, outIndex: 1 });
      const got = await ctx.readF32(out, 2);
      expect(got[0]).toBe(0);
      expectClose([got[1]], [sumSquaresRef(x)], 1e-5, 0, 'sumSquares');
      ctx.arena.free(gx);
      ctx.arena.free(out);
      expect(ctx.arena.stats().liveBuffers).toBe(0);
    });
  }
});

describe('clipScale', () => {
  it('the twin follows torch.nn.utils.clip_grad_norm_', () => {
    // ‖(3, 4)‖ = 5: max_norm 1 → 1/(5 + 1e-6); max_norm 10 → no clipping.
    expect(clipScaleRef([9, 16], 1)).toBeCloseTo(1 / (5 + 1e-6), 15);
    expect(clipScaleRef([25], 10)).toBe(1);
    expect(clipScaleRef([0], 1)).toBe(1);
  });

  for (const [count, maxNorm] of [
    [1, 0.5],
    [3, 0.5],
    [3, 1e6],
    [100, 2],
  ] as const) {
    it(`matches the twin with ${count} slots, maxNorm ${maxNorm}`, async () => {
      const ctx = await testGpu();
      const slots = randn(count, count).map((v) => v * v);
      const normSq = up(ctx, slots);
      const scale = up(ctx, [123]);
      clipScale(ctx, { scale, normSq, maxNorm, normSqCount: count });
      const got = (await ctx.readF32(scale, 1))[0];
      expectClose([got], [clipScaleRef(slots, maxNorm)], 1e-5, 0, 'clipScale');
      ctx.arena.free(normSq);
      ctx.arena.free(scale);
    });
  }
});

describe('global clipping into adamw', () => {
  for (const maxNorm of [0.1, 100]) {
    it(`clips two tensors by their global norm (maxNorm ${maxNorm}) with no CPU read`, async () => {
      const ctx = await testGpu();
      const sizes = [300, 77];
      const grads = sizes.map((n, k) => randn(n, 10 + k));
      const params = sizes.map((n, k) => randn(n, 20 + k));
      const gGrads = grads.map((g) => up(ctx, g));
      const gParams = params.map((p) => up(ctx, p));
      const gM = sizes.map((n) => up(ctx, new Float64Array(n)));
      const gV = sizes.map((n) => up(ctx, new Float64Array(n)));
      const normSq = up(ctx, [0, 0]);
      const scale = up(ctx, [0]);
      sizes.forEach((n, k) => {
        sumSquares(ctx, { out: normSq, x: gGrads[k], n, outIndex: k });
      });
      clipScale(ctx, { scale, normSq, maxNorm, normSqCount: 2 });
      const hyper = { lr: 1e-2, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.1, step: 1 };
      sizes.forEach((n, k) => {
        adamw(ctx, {
          params: gParams[k],
          grads: gGrads[k],
          m: gM[k],
          v: gV[k],
          n,
          ...hyper,
          gradScale: scale,
        });
      });
      const s = clipScaleRef([globalNormSqRef(grads)], maxNorm);
      expectClose(await ctx.readF32(scale, 1), [s], 1e-5, 0, 'clip factor');
      if (maxNorm === 100) expect(s).toBe(1);
      for (let k = 0; k < sizes.length; k++) {
        const ref = adamwRef(params[k], grads[k], new Float64Array(sizes[k]), new Float64Array(sizes[k]), {
          ...hyper,
          gradScale: s,
        });
        expectClose(await ctx.readF32(gM[k], sizes[k]), ref.m, 1e-4, 1e-7, `m[${k}]`);
        expectClose(await ctx.readF32(gParams[k], sizes[k]), ref.params, 1e-4, 1e-6, `params[${k}]`);
      }
      for (const b of [...gGrads, ...gParams, ...gM, ...gV, normSq, scale]) ctx.arena.free(b);
      expect(ctx.arena.stats().liveBuffers).toBe(0);
    });
  }
});

describe('aliasing', () => {
  it('normSq slots and the scale may be views of one small buffer', async () => {
    const ctx = await testGpu();
    const buf = ctx.arena.alloc(512, 'workspace', 'clip scratch');
    const normSq = viewOf(buf, 0, 16);
    const scale = viewOf(buf, 256, 16);
    const x = randn(300, 9);
    const gx = up(ctx, x);
    sumSquares(ctx, { out: normSq, x: gx, n: 300, outIndex: 0 });
    ctx.write(normSq, Float32Array.from([5]), 4);
    clipScale(ctx, { scale, normSq, maxNorm: 1, normSqCount: 2 });
    const got = await ctx.readF32(scale, 1);
    expectClose(got, [clipScaleRef([sumSquaresRef(x), 5], 1)], 1e-5, 0, 'clip factor');
    ctx.arena.free(buf);
    ctx.arena.free(gx);
  });
});
