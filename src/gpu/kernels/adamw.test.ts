// Tests for adamw.ts: the twin against hand-computed torch.optim.AdamW values, then several GPU steps with
// weight decay against the twin at sizes around the workgroup size, with and without a GPU gradScale.
import { describe, expect, it } from 'vitest';
import { testGpu, up } from '../../../test/helpers/gpu';
import { expectClose, randn } from '../../../test/helpers/numeric';
import { viewOf } from '../arena';
import { adamw } from './adamw';
import { adamwRef } from './adamw.ref';

describe('adamwRef', () => {
  it('follows torch.optim.AdamW for two steps (values worked by hand)', () => {
    const hyper = { lr: 0.1, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.01 };
    // Step 1, g = 0.5: p = 1·(1 − 0.001) = 0.999; m = 0.05; v = 0.00025; m̂ = 0.5, √v̂ = 0.5;
    // p = 0.999 − 0.1·0.5/(0.5 + 1e-8) = 0.899000002.
    const s1 = adamwRef([1], [0.5], [0], [0], { ...hyper, step: 1 });
    expect(s1.m[0]).toBeCloseTo(0.05, 15);
    expect(s1.v[0]).toBeCloseTo(0.00025, 15);
    expect(s1.params[0]).toBeCloseTo(0.899000002, 14);
    // Step 2, g = −0.25: p = 0.899000002·0.999; m = 0.02; v = 0.00031225; bias corrections 0.19 and
    // 0.001999; p −= (0.1/0.19)·0.02/(√0.00031225/√0.001999 + 1e-8) → 0.8714672987058463.
    const s2 = adamwRef(s1.params, [-0.25], s1.m, s1.v, { ...hyper, step: 2 });
    expect(s2.m[0]).toBeCloseTo(0.02, 15);
    expect(s2.v[0]).toBeCloseTo(0.00031225, 15);
    expect(s2.params[0]).toBeCloseTo(0.8714672987058463, 13);
    // gradScale multiplies g before both moments.
    const sc = adamwRef([1], [1], [0], [0], { ...hyper, step: 1, gradScale: 0.5 });
    expect(sc.m[0]).toBeCloseTo(0.05, 15);
  });
});

describe('adamw kernel', () => {
  for (const [n, scaled] of [
    [1, false],
    [255, true],
    [257, false],
    [4099, true],
  ] as const) {
    it(`matches the twin over 4 steps at n=${n}${scaled ? ' with gradScale' : ''}`, async () => {
      const ctx = await testGpu();
      const hyper = { lr: 3e-3, beta1: 0.9, beta2: 0.95, eps: 1e-8, weightDecay: 0.1 };
      let ref: ReturnType<typeof adamwRef> = {
        params: Float64Array.from(Float32Array.from(randn(n, 1))),
        m: new Float64Array(n),
        v: new Float64Array(n),
      };
      const params = up(ctx, ref.params, 'trainable');
      const m = up(ctx, ref.m, 'optimizer');
      const v = up(ctx, ref.v, 'optimizer');
      const grads = ctx.arena.alloc(n * 4, 'gradients', 'grads');
      const gradScale = scaled ? up(ctx, [0.37]) : null;
      for (let step = 1; step <= 4; step++) {
        // Gradients of mixed magnitude, including exact zeros where v stays 0 and eps matters.
        const g = randn(n, 100 + step, step === 2 ? 1e-3 : 1).map((x, i) => (i % 17 === 5 ? 0 : x));
        ctx.write(grads, Float32Array.from(g));
        adamw(ctx, { params, grads, m, v, n, ...hyper, step, gradScale });
        ref = adamwRef(ref.params, Float32Array.from(g), ref.m, ref.v, {
          ...hyper,
          step,
          gradScale: scaled ? Math.fround(0.37) : 1,
        });
      }
      expectClose(await ctx.readF32(m, n), ref.m, 1e-4, 1e-8, 'm');
      expectClose(await ctx.readF32(v, n), ref.v, 1e-4, 1e-10, 'v');
      expectClose(await ctx.readF32(params, n), ref.params, 1e-4, 1e-6, 'params');
      for (const b of [params, m, v, grads]) ctx.arena.free(b);
      if (gradScale) ctx.arena.free(gradScale);
      expect(ctx.arena.stats().liveBuffers).toBe(0);
    });
  }
});

describe('adamw aliasing', () => {
  it('m, v and gradScale may be views of one optimizer buffer', async () => {
    const ctx = await testGpu();
    const n = 100;
    const hyper = { lr: 1e-2, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.05, step: 1 };
    const p0 = Float32Array.from(randn(n, 1));
    const g = Float32Array.from(randn(n, 2));
    const params = up(ctx, p0, 'trainable');
    const grads = up(ctx, g, 'gradients');
    const opt = ctx.arena.alloc(1024 + 16, 'optimizer', 'opt');
    ctx.clear(opt);
    const m = viewOf(opt, 0, n * 4);
    const v = viewOf(opt, 512, n * 4);
    const gradScale = viewOf(opt, 1024, 4);
    ctx.write(gradScale, Float32Array.from([0.5]));
    adamw(ctx, { params, grads, m, v, n, ...hyper, gradScale });
    const ref = adamwRef(p0, g, new Float64Array(n), new Float64Array(n), { ...hyper, gradScale: 0.5 });
    expectClose(await ctx.readF32(m, n), ref.m, 1e-5, 1e-8, 'm');
    expectClose(await ctx.readF32(v, n), ref.v, 1e-4, 1e-10, 'v');
    expectClose(await ctx.readF32(params, n), ref.params, 1e-4, 1e-6, 'params');
    for (const b of [params, grads, opt]) ctx.arena.free(b);
  });
});
