// The fused LoRA kernels (lora-linear.ts): GPU against the float64 twins over ranks 1..64, ragged row
// blocks, overwrite and accumulate, absent outputs; the twins against the plain product they stand for.
// The op built on them (ops-peft.ts loraAddInto) is checked by central differences in
// src/tensor/lora-fused.test.ts.
import { describe, expect, it } from 'vitest';
import { testGpu, up } from '../../../test/helpers/gpu';
import { expectClose, randn } from '../../../test/helpers/numeric';
import { loraBackwardRows, loraBackwardWeights, loraForward } from './lora-linear';
import { loraBackwardRowsTwin, loraBackwardWeightsTwin, loraForwardTwin } from './lora-linear.ref';

const SHAPES: Array<{ M: number; inF: number; outF: number; r: number }> = [
  { M: 1, inF: 5, outF: 3, r: 1 },
  { M: 13, inF: 37, outF: 29, r: 3 },
  { M: 64, inF: 96, outF: 80, r: 8 },
  { M: 9, inF: 20, outF: 70, r: 64 },
];

/**
 * The weight gradients reduce over M rows of products of magnitude ~5 that cancel to ~1e-3: f32 rounding
 * of t (computed on the GPU, f32) and of the sums leaves ~2e-5 absolute.
 */
const WEIGHT_ATOL = 1e-4;

describe('fused LoRA kernels', () => {
  for (const d of SHAPES) {
    const tag = `M${d.M} ${d.inF}→${d.outF} r${d.r}`;
    it(`forward, rows and weights match the twins at ${tag}`, async () => {
      const ctx = await testGpu();
      const { M, inF, outF, r } = d;
      const s = 1.75;
      const dims = { ...d, s };
      const x = randn(M * inF, 1);
      const A = randn(r * inF, 2, 0.3);
      const B = randn(outF * r, 3, 0.3);
      const y0 = randn(M * outF, 4);
      const dy = randn(M * outF, 5);
      const [gx, gA, gB, gdy] = [x, A, B, dy].map((v) => up(ctx, v));

      // Forward: y += s·(x·Aᵀ)·Bᵀ, t = x·Aᵀ.
      const gy = up(ctx, y0);
      const gt = up(ctx, new Float64Array(M * r));
      loraForward(ctx, { ...dims, y: gy, t: gt, x: gx, A: gA, B: gB });
      const y = Float64Array.from(y0);
      const t = new Float64Array(M * r);
      loraForwardTwin({ ...dims, y, t, x, A, B });
      expectClose(await ctx.readF32(gt, M * r), t, 1e-4, 1e-5, 't');
      expectClose(await ctx.readF32(gy, M * outF), y, 1e-4, 1e-5, 'y');

      // Rows: u = s·dy·B with dx written, then accumulated; and u alone.
      const dx0 = randn(M * inF, 6);
      const gu = up(ctx, new Float64Array(M * r));
      const gdx = up(ctx, dx0);
      const u = new Float64Array(M * r);
      const dx = Float64Array.from(dx0);
      loraBackwardRows(ctx, { ...dims, u: gu, dx: gdx, dy: gdy, A: gA, B: gB });
      loraBackwardRowsTwin({ ...dims, u, dx, dy, A, B });
      expectClose(await ctx.readF32(gu, M * r), u, 1e-4, 1e-5, 'u');
      expectClose(await ctx.readF32(gdx, M * inF), dx, 1e-4, 1e-5, 'dx');
      loraBackwardRows(ctx, { ...dims, u: gu, dx: gdx, accumulateDx: true, dy: gdy, A: gA, B: gB });
      loraBackwardRowsTwin({ ...dims, u, dx, accumulateDx: true, dy, A, B });
      expectClose(await ctx.readF32(gdx, M * inF), dx, 1e-4, 1e-5, 'dx accumulated');
      const gu2 = up(ctx, new Float64Array(M * r));
      loraBackwardRows(ctx, { ...dims, u: gu2, dx: null, dy: gdy, A: gA, B: gB });
      expectClose(await ctx.readF32(gu2, M * r), u, 1e-4, 1e-5, 'u without dx');

      // Weights: both written, both accumulated, each alone.
      const dA0 = randn(r * inF, 7);
      const dB0 = randn(outF * r, 8);
      const gdA = up(ctx, dA0);
      const gdB = up(ctx, dB0);
      const dA = Float64Array.from(dA0);
      const dB = Float64Array.from(dB0);
      const w = { u: gu, x: gx, dy: gdy, t: gt };
      const wt = { u, x, dy, t };
      loraBackwardWeights(ctx, { ...dims, ...w, dA: gdA, dB: gdB });
      loraBackwardWeightsTwin({ ...dims, ...wt, dA, dB });
      expectClose(await ctx.readF32(gdA, r * inF), dA, 1e-4, WEIGHT_ATOL, 'dA');
      expectClose(await ctx.readF32(gdB, outF * r), dB, 1e-4, WEIGHT_ATOL, 'dB');
      loraBackwardWeights(ctx, { ...dims, ...w, dA: gdA, accumulateDA: true, dB: null });
      loraBackwardWeightsTwin({ ...dims, ...wt, dA, accumulateDA: true, dB: null });
      loraBackwardWeights(ctx, { ...dims, ...w, dA: null, dB: gdB, accumulateDB: true });
      loraBackwardWeightsTwin({ ...dims, ...wt, dA: null, dB, accumulateDB: true });
      expectClose(await ctx.readF32(gdA, r * inF), dA, 1e-4, WEIGHT_ATOL, 'dA accumulated alone');
      expectClose(await ctx.readF32(gdB, outF * r), dB, 1e-4, WEIGHT_ATOL, 'dB accumulated alone');
      for (const b of [gx, gA, gB, gdy, gy, gt, gu, gdx, gu2, gdA, gdB]) ctx.arena.free(b);
    });
  }

  it('the twins compute the products they stand for', () => {
    // y = y0 + s·x·Aᵀ·Bᵀ, u = s·dy·B, dx = u·A, dA = uᵀ·x, dB = s·dyᵀ·(x·Aᵀ), summed by hand on 2×2.
    const dims = { M: 1, inF: 2, outF: 2, r: 1, s: 2 };
    const x = Float64Array.of(1, 2);
    const A = Float64Array.of(3, -1); // t = 1·3 + 2·(−1) = 1
    const B = Float64Array.of(4, 5);
    const y = Float64Array.of(10, 20);
    const t = new Float64Array(1);
    loraForwardTwin({ ...dims, y, t, x, A, B });
    expect(Array.from(t)).toEqual([1]);
    expect(Array.from(y)).toEqual([18, 30]);
    const dy = Float64Array.of(1, -1);
    const u = new Float64Array(1);
    const dx = new Float64Array(2);
    loraBackwardRowsTwin({ ...dims, u, dx, dy, A, B });
    expect(Array.from(u)).toEqual([-2]); // 2·(4 − 5)
    expect(Array.from(dx)).toEqual([-6, 2]);
    const dA = new Float64Array(2);
    const dB = new Float64Array(2);
    loraBackwardWeightsTwin({ ...dims, dA, dB, u, x, dy, t });
    expect(Array.from(dA)).toEqual([-2, -4]);
    expect(Array.from(dB)).toEqual([2, -2]);
  });
});
