// Tests for bias add / bias grad (GPU against the float64 twin, the twin against central differences) and
// for the binding planner (bindings.ts) and the two-stage column reduction (rows.ts) that bias grad shares
// with its sibling kernels.
import { describe, expect, it } from 'vitest';
import { testGpu, up } from '../../../test/helpers/gpu';
import { dot, expectClose, expectGradMatches, randn } from '../../../test/helpers/numeric';
import { viewOf } from '../arena';
import { biasAdd, biasGrad } from './bias';
import { biasAddRef, biasGradRef } from './bias.ref';
import { planBindings } from './bindings';
import { colChunks } from './rows';

// rows past 256 take the two-stage (partials) path; 40000 rows makes the partials recurse once more.
const SHAPES: Array<[number, number]> = [
  [1, 1],
  [1, 37],
  [3, 64],
  [5, 100],
  [300, 7],
  [700, 33],
  [40000, 3],
];

describe('bias kernels', () => {
  for (const [rows, cols] of SHAPES) {
    it(`biasAdd and biasGrad match the twins at ${rows}×${cols}`, async () => {
      const ctx = await testGpu();
      const x = randn(rows * cols, 1);
      const bias = randn(cols, 2);
      const dOut = randn(rows * cols, 3);
      const gx = up(ctx, x);
      const gb = up(ctx, bias);
      const gd = up(ctx, dOut);
      biasAdd(ctx, { x: gx, bias: gb, rows, cols });
      expectClose(
        await ctx.readF32(gx, rows * cols),
        biasAddRef({ x, bias, rows, cols }),
        1e-6,
        1e-6,
        'biasAdd',
      );
      const dBias = up(ctx, randn(cols, 4));
      biasGrad(ctx, { dBias, dOut: gd, rows, cols });
      const want = biasGradRef({ dOut, rows, cols });
      const tol = rows > 1000 ? 1e-3 : 1e-4;
      expectClose(await ctx.readF32(dBias, cols), want, tol, 1e-4, 'biasGrad');
      // accumulate adds onto what is there
      biasGrad(ctx, { dBias, dOut: gd, rows, cols, accumulate: true });
      expectClose(
        await ctx.readF32(dBias, cols),
        want.map((v) => 2 * v),
        tol,
        1e-4,
        'biasGrad accumulate',
      );
      for (const b of [gx, gb, gd, dBias]) ctx.arena.free(b);
      expect(ctx.arena.stats().liveBuffers).toBe(0);
    });
  }

  it('biasGrad over zero rows writes zeros (or leaves an accumulator alone)', async () => {
    const ctx = await testGpu();
    const d = up(ctx, [1, 2, 3]);
    const dOut = up(ctx, [0]);
    biasGrad(ctx, { dBias: d, dOut, rows: 0, cols: 3, accumulate: true });
    expectClose(await ctx.readF32(d, 3), [1, 2, 3], 0, 0, 'accumulate over no rows');
    biasGrad(ctx, { dBias: d, dOut, rows: 0, cols: 3 });
    expectClose(await ctx.readF32(d, 3), [0, 0, 0], 0, 0, 'no rows');
    ctx.arena.free(d);
    ctx.arena.free(dOut);
  });

  it('works on views of one flat buffer (read and written views declared read_write)', async () => {
    const ctx = await testGpu();
    const rows = 4;
    const cols = 5;
    const x = randn(rows * cols, 5);
    const bias = randn(cols, 6);
    const flat = new Float32Array(128);
    flat.set(x, 0);
    flat.set(bias, 64);
    const buf = up(ctx, flat);
    const xv = viewOf(buf, 0, rows * cols * 4);
    const bv = viewOf(buf, 256, cols * 4);
    biasAdd(ctx, { x: xv, bias: bv, rows, cols });
    expectClose(await ctx.readF32(xv, rows * cols), biasAddRef({ x, bias, rows, cols }), 1e-6, 1e-6, 'views');
    // dBias (a view) reduced from dOut in the same buffer
    biasGrad(ctx, { dBias: bv, dOut: xv, rows, cols });
    const sum = biasGradRef({ dOut: biasAddRef({ x, bias, rows, cols }), rows, cols });
    expectClose(await ctx.readF32(bv, cols), sum, 1e-5, 1e-5, 'grad views');
    ctx.arena.free(buf);
  });

  it('planBindings merges an exact alias and refuses a partial overlap', async () => {
    const ctx = await testGpu();
    const buf = ctx.arena.alloc(1024, 'workspace', 'flat');
    const a = viewOf(buf, 0, 512);
    const L = planBindings('t', [
      { name: 'x', region: a, write: false },
      { name: 'out', region: a, write: true },
    ]);
    expect(L.buffers.length).toBe(1);
    expect(L.id.out).toBe('x');
    expect(L.decls('P')).toContain('var<storage, read_write> x');
    expect(() =>
      planBindings('t', [
        { name: 'x', region: a, write: false },
        { name: 'out', region: viewOf(buf, 256, 512), write: true },
      ]),
    ).toThrow(/partly overlaps/);
    ctx.arena.free(buf);
  });

  it('biasGrad is bitwise repeatable (fixed summation order, no atomics)', async () => {
    const ctx = await testGpu();
    const rows = 700;
    const cols = 33;
    const gd = up(ctx, randn(rows * cols, 12));
    const dBias = ctx.arena.alloc(cols * 4, 'gradients', 'dBias');
    biasGrad(ctx, { dBias, dOut: gd, rows, cols });
    const first = await ctx.readF32(dBias, cols);
    biasGrad(ctx, { dBias, dOut: gd, rows, cols });
    expect([...(await ctx.readF32(dBias, cols))]).toEqual([...first]);
    ctx.arena.free(gd);
    ctx.arena.free(dBias);
  });

  it('chooses chunks deterministically from rows', () => {
    expect(colChunks(1)).toBe(1);
    expect(colChunks(256)).toBe(1);
    expect(colChunks(257)).toBe(3);
  });

  it('twin: biasAdd gradient with respect to bias is biasGrad (central differences)', () => {
    const rows = 3;
    const cols = 5;
    const x = randn(rows * cols, 7);
    const w = randn(rows * cols, 8);
    const bias = randn(cols, 9);
    const dBias = biasGradRef({ dOut: w, rows, cols });
    expectGradMatches((b) => dot(w, biasAddRef({ x, bias: b, rows, cols })), bias, dBias, 'dBias');
    // and with respect to x: the identity
    expectGradMatches((xx) => dot(w, biasAddRef({ x: xx, bias, rows, cols })), x, w, 'dx');
  });
});
