// Sparse scatter-add and gather: GPU against the float64 twin in both stored layouts (the canonical
// [out, in] index mapped to [in, out] storage for GPT-2), alpha = ±1 (merge/unmerge), accumulate, a view
// of a flat buffer; and the gather being the scatter's adjoint (⟨scatter(v), g⟩ = ⟨v, gather(g)⟩).
import { describe, expect, it } from 'vitest';
import { testGpu, up } from '../../../test/helpers/gpu';
import { dot, expectClose, randn } from '../../../test/helpers/numeric';
import { randomMask } from '../../peft/methods/sparse';
import { viewOf } from '../arena';
import { gather, scatterAdd } from './sparse';
import { gatherRef, scatterAddRef, sparsePos } from './sparse.ref';

describe('sparse kernels', () => {
  for (const transposed of [false, true]) {
    for (const [rows, cols, k] of [
      [3, 5, 1],
      [17, 33, 100],
      [64, 96, 6000],
    ] as const) {
      it(`scatter-add and gather match the twin: [${rows},${cols}] k=${k}${transposed ? ' stored [in,out]' : ''}`, async () => {
        const ctx = await testGpu();
        const d = { k, rows, cols, transposed };
        const w = randn(rows * cols, 1);
        const values = randn(k, 2);
        const idx = randomMask(rows * cols, k, 3);
        const gw = up(ctx, w);
        const gv = up(ctx, values);
        const gi = ctx.upload(idx, 'activations', 'idx');
        scatterAdd(ctx, { ...d, w: gw, values: gv, idx: gi, alpha: -1 });
        const want = Float64Array.from(w);
        scatterAddRef(want, values, idx, d, -1);
        expectClose(await ctx.readF32(gw, w.length), want, 1e-6, 1e-6, 'scatter');
        const out = ctx.arena.alloc(k * 4, 'gradients', 'out');
        gather(ctx, { ...d, out, x: gw, idx: gi });
        expectClose(await ctx.readF32(out, k), gatherRef(want, idx, d), 1e-6, 1e-6, 'gather');
        gather(ctx, { ...d, out, x: gw, idx: gi, accumulate: true });
        expectClose(
          await ctx.readF32(out, k),
          gatherRef(want, idx, d).map((v) => 2 * v),
          1e-6,
          1e-6,
          'gather accumulate',
        );
        for (const b of [gw, gv, gi, out]) ctx.arena.free(b);
      });
    }
  }

  it('writes into a view of a flat buffer, touching only the view', async () => {
    const ctx = await testGpu();
    const live = ctx.arena.stats().liveBuffers;
    const flat = up(ctx, new Float64Array(256 + 40).fill(7));
    const view = viewOf(flat, 256 * 4, 40 * 4);
    const idx = Int32Array.from([0, 13, 39]);
    const gi = ctx.upload(idx, 'activations', 'idx');
    const gv = up(ctx, [1, 2, 3]);
    scatterAdd(ctx, { k: 3, rows: 5, cols: 8, transposed: true, w: view, values: gv, idx: gi });
    const got = await ctx.readF32(flat, 296);
    const want = new Float64Array(296).fill(7);
    const d = { k: 3, rows: 5, cols: 8, transposed: true };
    idx.forEach((c, j) => {
      want[256 + sparsePos(c, d)] += j + 1;
    });
    expectClose(got, want, 0, 0, 'view');
    for (const b of [flat, gi, gv]) ctx.arena.free(b);
    expect(ctx.arena.stats().liveBuffers).toBe(live);
  });

  it('the twin gather is the adjoint of the twin scatter', () => {
    const d = { k: 30, rows: 7, cols: 9, transposed: true };
    const idx = randomMask(63, 30, 5);
    const v = randn(30, 6);
    const g = randn(63, 7);
    const s = new Float64Array(63);
    scatterAddRef(s, v, idx, d);
    expect(dot(s, g)).toBeCloseTo(dot(v, gatherRef(g, idx, d)), 12);
  });
});
