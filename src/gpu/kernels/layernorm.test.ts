// LayerNorm: GPU against the float64 twin in the three row variants (thread, workgroup, subgroup), null
// outputs skipped, accumulation, and the twin's backward against central differences.
import { afterEach, describe, expect, it } from 'vitest';
import { testGpu, up } from '../../../test/helpers/gpu';
import { dot, expectClose, expectGradMatches, randn } from '../../../test/helpers/numeric';
import type { GpuBuf } from '../arena';
import type { GpuContext } from '../context';
import { layerNorm, layerNormBackward } from './layernorm';
import { layerNormBackwardRef, layerNormRef } from './layernorm.ref';
import { rowGrid, rowVariant } from './rows';
import { normGrid, normVariant } from './rows-subgroup';

const EPS = 1e-5;
// rows = 1, cols = 1, cols not a multiple of 64, rows past 256 (two-stage dGamma), a wide row.
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

function freeAll(ctx: GpuContext, bufs: GpuBuf[]): void {
  for (const b of bufs) ctx.arena.free(b);
  expect(ctx.arena.stats().liveBuffers).toBe(0);
}

describe('layerNorm kernels', () => {
  for (const variant of ['thread', 'workgroup', 'subgroup'] as const) {
    for (const [rows, cols] of SHAPES) {
      it(`${variant}: forward and backward match the twin at ${rows}×${cols}`, async () => {
        const ctx = await testGpu({ allFeatures: true });
        ctx.variants.set('rowreduce', variant);
        // An offset mean checks the two-pass variance.
        const x = randn(rows * cols, 1).map((v) => 3 + 2 * v);
        const gamma = randn(cols, 2).map((v) => 1 + 0.3 * v);
        const beta = randn(cols, 3, 0.5);
        const dOut = randn(rows * cols, 4);
        const ref = layerNormRef(x, gamma, beta, rows, cols, EPS);
        const grads = layerNormBackwardRef(dOut, x, gamma, rows, cols, ref.mean, ref.rstd);
        const gx = up(ctx, x);
        const gg = up(ctx, gamma);
        const gb = up(ctx, beta);
        const gd = up(ctx, dOut);
        const out = ctx.arena.alloc(rows * cols * 4, 'activations', 'out');
        const mean = ctx.arena.alloc(rows * 4, 'activations', 'mean');
        const rstd = ctx.arena.alloc(rows * 4, 'activations', 'rstd');
        layerNorm(ctx, { out, mean, rstd, x: gx, gamma: gg, beta: gb, rows, cols, eps: EPS });
        expectClose(await ctx.readF32(out, rows * cols), ref.out, 1e-4, 1e-4, 'out');
        expectClose(await ctx.readF32(mean, rows), ref.mean, 1e-5, 1e-5, 'mean');
        expectClose(await ctx.readF32(rstd, rows), ref.rstd, 1e-4, 1e-5, 'rstd');

        const dx = ctx.arena.alloc(rows * cols * 4, 'gradients', 'dx');
        const dGamma = ctx.arena.alloc(cols * 4, 'gradients', 'dGamma');
        const dBeta = ctx.arena.alloc(cols * 4, 'gradients', 'dBeta');
        const args = { dOut: gd, x: gx, mean, rstd, gamma: gg, rows, cols };
        layerNormBackward(ctx, { ...args, dx, dGamma, dBeta });
        // dx scales with rstd·|dOut|; absolute tolerance follows it (cancellation when cols is 1).
        const dxTol = 1e-4 * Math.max(...ref.rstd);
        expectClose(await ctx.readF32(dx, rows * cols), grads.dx, 1e-4, dxTol, 'dx');
        expectClose(await ctx.readF32(dGamma, cols), grads.dGamma, 1e-4, 1e-4, 'dGamma');
        expectClose(await ctx.readF32(dBeta, cols), grads.dBeta, 1e-4, 1e-4, 'dBeta');

        // accumulate adds onto what is there
        layerNormBackward(ctx, { ...args, dx, dGamma, dBeta, accumulateDx: true, accumulateParams: true });
        const twice = (a: Float64Array) => a.map((v) => 2 * v);
        expectClose(await ctx.readF32(dx, rows * cols), twice(grads.dx), 1e-4, 2 * dxTol, 'dx acc');
        expectClose(await ctx.readF32(dGamma, cols), twice(grads.dGamma), 1e-4, 2e-4, 'dGamma acc');
        expectClose(await ctx.readF32(dBeta, cols), twice(grads.dBeta), 1e-4, 2e-4, 'dBeta acc');
        freeAll(ctx, [gx, gg, gb, gd, out, mean, rstd, dx, dGamma, dBeta]);
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
    const st = layerNormRef(x, gamma, gamma, rows, cols, EPS);
    const grads = layerNormBackwardRef(dOut, x, gamma, rows, cols, st.mean, st.rstd);
    const gx = up(ctx, x);
    const gg = up(ctx, gamma);
    const gd = up(ctx, dOut);
    const out = ctx.arena.alloc(rows * cols * 4, 'activations', 'out');
    const mean = ctx.arena.alloc(rows * 4, 'activations', 'mean');
    const rstd = ctx.arena.alloc(rows * 4, 'activations', 'rstd');
    layerNorm(ctx, { out, mean, rstd, x: gx, gamma: gg, beta: gg, rows, cols, eps: EPS });
    const args = { dOut: gd, x: gx, mean, rstd, gamma: gg, rows, cols };
    const sentinel = new Float32Array(cols).fill(7);
    // frozen gamma and beta: only dx
    const dx = ctx.arena.alloc(rows * cols * 4, 'gradients', 'dx');
    layerNormBackward(ctx, { ...args, dx, dGamma: null, dBeta: null });
    expectClose(await ctx.readF32(dx, rows * cols), grads.dx, 1e-4, 1e-4, 'dx only');
    // no dx, dBeta only
    const dBeta = ctx.upload(sentinel, 'gradients', 'dBeta');
    ctx.write(dx, new Float32Array(rows * cols).fill(7));
    layerNormBackward(ctx, { ...args, dx: null, dGamma: null, dBeta });
    expectClose(await ctx.readF32(dBeta, cols), grads.dBeta, 1e-4, 1e-4, 'dBeta only');
    expect([...(await ctx.readF32(dx, rows * cols))].every((v) => v === 7)).toBe(true);
    // dGamma only
    const dGamma = ctx.upload(sentinel, 'gradients', 'dGamma');
    ctx.write(dBeta, sentinel);
    layerNormBackward(ctx, { ...args, dx: null, dGamma, dBeta: null });
    expectClose(await ctx.readF32(dGamma, cols), grads.dGamma, 1e-4, 1e-4, 'dGamma only');
    expect([...(await ctx.readF32(dBeta, cols))].every((v) => v === 7)).toBe(true);
    freeAll(ctx, [gx, gg, gd, out, mean, rstd, dx, dBeta, dGamma]);
  });

  it('picks the row variant from the adapter and the shape unless forced', async () => {
    const ctx = await testGpu({ allFeatures: true });
    expect(rowVariant(ctx, 256, 64)).toBe('thread');
    expect(rowVariant(ctx, 256, 768)).toBe(ctx.adapter.software ? 'thread' : 'workgroup');
    expect(rowVariant(ctx, 1, 4096)).toBe('workgroup');
    ctx.variants.set('rowreduce', 'workgroup');
    expect(rowVariant(ctx, 256, 64)).toBe('workgroup');
    // a workgroup per row folds into y past 65535 rows (the kernel rebuilds row = wid.y·nwg.x + wid.x;
    // checked on the GPU once at 65537 rows, too slow on SwiftShader to keep as a test)
    expect(rowGrid('workgroup', 70000)).toEqual([35000, 2]);
    expect(rowGrid('thread', 70000)).toEqual([1094, 1]);
  });

  it('takes the subgroup reduction where a row would take a workgroup and the device has subgroups', async () => {
    const ctx = await testGpu({ allFeatures: true });
    const sg = ctx.features.subgroups;
    expect(normVariant(ctx, 256, 64)).toBe('thread');
    expect(normVariant(ctx, 1, 4096)).toBe(sg ? 'subgroup' : 'workgroup');
    ctx.variants.set('rowreduce', 'workgroup');
    expect(normVariant(ctx, 1, 4096)).toBe('workgroup');
    ctx.variants.set('rowreduce', 'subgroup');
    expect(normVariant(ctx, 256, 64)).toBe(sg ? 'subgroup' : 'workgroup');
    expect(normGrid('subgroup', 70000)).toEqual([35000, 2]);
  });

  it('twin backward matches central differences for x, gamma and beta', () => {
    const rows = 3;
    const cols = 7;
    const x = randn(rows * cols, 8);
    const gamma = randn(cols, 9);
    const beta = randn(cols, 10);
    const w = randn(rows * cols, 11);
    const st = layerNormRef(x, gamma, beta, rows, cols, EPS);
    const g = layerNormBackwardRef(w, x, gamma, rows, cols, st.mean, st.rstd);
    const f = (xx: Float64Array, gg: Float64Array, bb: Float64Array) =>
      dot(w, layerNormRef(xx, gg, bb, rows, cols, EPS).out);
    expectGradMatches((v) => f(v, gamma, beta), x, g.dx, 'dx');
    expectGradMatches((v) => f(x, v, beta), gamma, g.dGamma, 'dGamma');
    expectGradMatches((v) => f(x, gamma, v), beta, g.dBeta, 'dBeta');
  });
});
