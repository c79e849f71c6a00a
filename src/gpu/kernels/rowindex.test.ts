// The rows method's index maps: GPU against the float64 twin over rows and columns (alpha = ±1,
// accumulate), a view of a flat buffer left untouched outside the view, and the twin gather being the
// twin scatter's adjoint (⟨add(x), g⟩ = ⟨x, gather(g)⟩: the backward of one is the other).
import { describe, expect, it } from 'vitest';
import { testGpu, up } from '../../../test/helpers/gpu';
import { dot, expectClose, randn } from '../../../test/helpers/numeric';
import { randomMask } from '../../peft/methods/sparse';
import { viewOf } from '../arena';
import { indexAdd, indexGather, type RowIndexDims } from './rowindex';
import { indexAddRef, indexGatherRef } from './rowindex.ref';

describe('row index kernels', () => {
  for (const byColumn of [false, true]) {
    for (const [height, cols, k, len] of [
      [3, 5, 1, 5],
      [17, 33, 6, 33],
      [64, 96, 20, 7],
    ] as const) {
      // Rows: the target is [height, cols] and len = cols; columns: the target is [len, cols].
      const d: RowIndexDims = { k, len: byColumn ? len : cols, cols, byColumn };
      const size = byColumn ? d.len * cols : height * cols;
      const pool = byColumn ? cols : height;
      it(`indexAdd and indexGather match the twin: k=${k} of ${pool} ${byColumn ? 'columns' : 'rows'}`, async () => {
        const ctx = await testGpu();
        const w = randn(size, 1);
        const x = randn(k * d.len, 2);
        const idx = randomMask(pool, k, 3);
        const gw = up(ctx, w);
        const gx = up(ctx, x);
        const gi = ctx.upload(idx, 'activations', 'idx');
        indexAdd(ctx, { ...d, out: gw, x: gx, idx: gi, alpha: -1 });
        const want = Float64Array.from(w);
        indexAddRef(want, x, idx, d, -1);
        expectClose(await ctx.readF32(gw, size), want, 1e-6, 1e-6, 'add');
        const out = ctx.arena.alloc(k * d.len * 4, 'gradients', 'out');
        indexGather(ctx, { ...d, out, x: gw, idx: gi });
        expectClose(await ctx.readF32(out, k * d.len), indexGatherRef(want, idx, d), 1e-6, 1e-6, 'gather');
        indexGather(ctx, { ...d, out, x: gw, idx: gi, accumulate: true });
        expectClose(
          await ctx.readF32(out, k * d.len),
          indexGatherRef(want, idx, d).map((v) => 2 * v),
          1e-6,
          1e-6,
          'gather accumulate',
        );
        for (const b of [gw, gx, gi, out]) ctx.arena.free(b);
      });
    }
  }

  it('writes into a view of a flat buffer, touching only the chosen rows of the view', async () => {
    const ctx = await testGpu();
    const flat = up(ctx, new Float64Array(64 + 12).fill(7));
    const view = viewOf(flat, 64 * 4, 12 * 4);
    const gi = ctx.upload(Int32Array.from([0, 2]), 'activations', 'idx');
    const gx = up(ctx, [1, 2, 3, 4, 5, 6]);
    indexAdd(ctx, { k: 2, len: 3, cols: 3, byColumn: false, out: view, x: gx, idx: gi });
    const want = new Float64Array(76).fill(7);
    [1, 2, 3].forEach((v, l) => {
      want[64 + l] += v;
      want[64 + 6 + l] += v + 3;
    });
    expectClose(await ctx.readF32(flat, 76), want, 0, 0, 'view');
    for (const b of [flat, gi, gx]) ctx.arena.free(b);
  });

  it('the twin gather is the adjoint of the twin add, rows and columns', () => {
    for (const byColumn of [false, true]) {
      const d = { k: 4, len: 6, cols: 9, byColumn };
      const idx = randomMask(9, 4, 5);
      const x = randn(24, 6);
      const g = randn(byColumn ? 54 : 81, 7);
      const s = new Float64Array(g.length);
      indexAddRef(s, x, idx, d);
      expect(dot(s, g)).toBeCloseTo(dot(x, indexGatherRef(g, idx, d)), 12);
    }
  });
});
