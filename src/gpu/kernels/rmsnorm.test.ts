// RMSNorm: GPU against the float64 twin in the three row variants (thread, workgroup, subgroup), null outputs skipped, accumulation, and the
// twin's backward against central differences.
import { afterEach, describe, expect, it } from 'vitest';
import { testGpu, up } from '../../../test/helpers/gpu';
import { dot, expectClose, expectGradMatches, randn } from '../../../test/helpers/numeric';
import { rmsNorm, rmsNormBackward } from './rmsnorm';
import { rmsNormBackwardRef, rmsNormRef } from './rmsnorm.ref';

const EPS = 1e-6;
const SHAPES: Array<[number, number]> = [
  [1, 1],
  [1, 32],
  [3, 1],
  [4, 100],
  [7, 65],
  [5, 200],
  [300, 48],
  [2, 1000],
];

afterEach(async () => (await testGpu({ allFeatures: true })).variants.delete('rowreduce'));

describe('rmsNorm kernels', () => {
  for (const variant of ['thread', 'workgroup', 'subgroup'] as const) {
    for (const [rows, cols] of SHAPES) {
      it(`${variant}: forward and backward match the twin at ${rows}×${cols}`, async () => {
        const ctx = await testGpu({ allFeatures: true });
        ctx.variants.set('rowreduce', variant);
        const x = randn(rows * cols, 1, 2);
        const gamma = randn(cols, 2).map((v) => 1 + 0.3 * v);
        const dOut = randn(rows * cols, 4);
        const ref = rmsNormRef(x, gamma, rows, cols, EPS);
        const grads = rmsNormBackwardRef(dOut, x, gamma, rows, cols, ref.rstd);
        const gx = up(ctx, x);
        const gg = up(ctx, gamma);
        const gd = up(ctx, dOut);
        const out = ctx.arena.alloc(rows * cols * 4, 'activations', 'out');
        const rstd = ctx.arena.alloc(rows * 4, 'activations', 'rstd');
        rmsNorm(ctx, { out, rstd, x: gx, gamma: gg, rows, cols, eps: EPS });
        expectClose(await ctx.readF32(out, rows * cols), ref.out, 1e-4, 1e-5, 'out');
        expectClose(await ctx.readF32(rstd, rows), ref.rstd, 1e-4, 1e-6, 'rstd');

        const dx = ctx.arena.alloc(rows * cols * 4, 'gradients', 'dx');
        const dGamma = ctx.arena.alloc(cols * 4, 'gradients', 'dGamma');
        const args = { dOut: gd, x: gx, rstd, gamma: gg, rows, cols };
        rmsNormBackward(ctx, { ...args, dx, dGamma });
        const dxTol = 1e-5 * Math.max(...ref.rstd);
        expectClose(await ctx.readF32(dx, rows * cols), grads.dx, 1e-4, dxTol, 'dx');
        expectClose(await ctx.readF32(dGamma, cols), grads.dGamma, 1e-4, 1e-4, 'dGamma');
        rmsNormBackward(ctx, { ...args, dx, dGamma, accumulateDx: true, accumulateParams: true });
        const twice = (a: Float64Array) => a.map((v) => 2 * v);
        expectClose(await ctx.readF32(dx, rows * cols), twice(grads.dx), 1e-4, 2 * dxTol, 'dx acc');
        expectClose(await ctx.readF32(dGamma, cols), twice(grads.dGamma), 1e-4, 2e-4, 'dGamma acc');
        for (const b of [gx, gg, gd, out, rstd, dx, dGamma]) ctx.arena.free(b);
        expect(ctx.arena.stats().liveBuffers).toBe(0);
      });
    }
  }

  it('null outputs are skipped and leave the others alone', async () => {
    const ctx = await testGpu({ allFeatures: true });
    const rows = 3;
    const cols = 70;
    const x = randn(rows * cols, 5);
    const gamma = randn(cols, 6);
    const dOut = randn(rows * cols, 7);
    const ref = rmsNormRef(x, gamma, rows, cols, EPS);
    const grads = rmsNormBackwardRef(dOut, x, gamma, rows, cols, ref.rstd);
    const gx = up(ctx, x);
    const gg = up(ctx, gamma);
    const gd = up(ctx, dOut);
    const rstd = up(ctx, ref.rstd);
    const args = { dOut: gd, x: gx, rstd, gamma: gg, rows, cols };
    const dx = up(ctx, new Float32Array(rows * cols).fill(7));
    const dGamma = up(ctx, new Float32Array(cols).fill(7));
    rmsNormBackward(ctx, { ...args, dx, dGamma: null });
    expectClose(await ctx.readF32(dx, rows * cols), grads.dx, 1e-4, 1e-5, 'dx only');
    expect([...(await ctx.readF32(dGamma, cols))].every((v) => v === 7)).toBe(true);
    ctx.write(dx, new Float32Array(rows * cols).fill(7));
    rmsNormBackward(ctx, { ...args, dx: null, dGamma });
    expectClose(await ctx.readF32(dGamma, cols), grads.dGamma, 1e-4, 1e-4, 'dGamma only');
    expect([...(await ctx.readF32(dx, rows * cols))].every((v) => v === 7)).toBe(true);
    for (const b of [gx, gg, gd, rstd, dx, dGamma]) ctx.arena.free(b);
    expect(ctx.arena.stats().liveBuffers).toBe(0);
  });

  it('twin backward matches central differences for x and gamma', () => {
    const rows = 3;
    const cols = 7;
    const x = randn(rows * cols, 8);
    const gamma = randn(cols, 9);
    const w = randn(rows * cols, 11);
    const { rstd } = rmsNormRef(x, gamma, rows, cols, EPS);
    const g = rmsNormBackwardRef(w, x, gamma, rows, cols, rstd);
    expectGradMatches((v) => dot(w, rmsNormRef(v, gamma, rows, cols, EPS).out), x, g.dx, 'dx');
    expectGradMatches((v) => dot(w, rmsNormRef(x, v, rows, cols, EPS).out), gamma, g.dGamma, 'dGamma');
  });
});
