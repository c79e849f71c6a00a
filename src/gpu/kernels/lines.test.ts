// lineNorms and scaleLines: GPU against the float64 twins (rows and columns, in place, num/den/eps, views of
// one buffer), and the twin of scaleLines' use as an op (x/den) against central differences.
import { describe, expect, it } from 'vitest';
import { testGpu, up } from '../../../test/helpers/gpu';
import { dot, expectClose, expectGradMatches, randn, randu } from '../../../test/helpers/numeric';
import { viewOf } from '../arena';
import { lineNorms, scaleLines } from './lines';
import { lineNormsRef, scaleLinesRef } from './lines.ref';

describe('line kernels', () => {
  const SHAPES: Array<[number, number]> = [
    [1, 1],
    [3, 70],
    [65, 7],
    [130, 33],
  ];
  for (const [rows, cols] of SHAPES) {
    for (const perRow of [true, false]) {
      it(`lineNorms and scaleLines match the twins at ${rows}×${cols} by ${perRow ? 'row' : 'column'}`, async () => {
        const ctx = await testGpu();
        const n = rows * cols;
        const lines = perRow ? rows : cols;
        const x = randn(n, 1);
        const num = randn(lines, 2);
        const den = randu(lines, 3, 0.5, 2);
        const gx = up(ctx, x);
        const out = up(ctx, randn(n, 4));
        const norms = up(ctx, randn(lines, 5));
        lineNorms(ctx, { out: norms, x: gx, rows, cols, perRow });
        expectClose(
          await ctx.readF32(norms, lines),
          lineNormsRef(x, rows, cols, perRow),
          1e-5,
          1e-6,
          'norms',
        );
        const [gn, gd] = [num, den].map((a) => up(ctx, a));
        for (const [nm, dn] of [
          [gn, gd],
          [gn, null],
          [null, gd],
        ] as const) {
          scaleLines(ctx, { out, x: gx, rows, cols, perRow, num: nm, den: dn, eps: 1e-3 });
          const want = scaleLinesRef(x, rows, cols, perRow, nm ? num : null, dn ? den : null, 1e-3);
          expectClose(await ctx.readF32(out, n), want, 1e-6, 1e-7, `scaleLines num=${!!nm} den=${!!dn}`);
        }
        // In place (IA3 / DoRA merges scale a weight where it lies).
        scaleLines(ctx, { out: gx, x: gx, rows, cols, perRow, num: gn, den: null });
        expectClose(
          await ctx.readF32(gx, n),
          scaleLinesRef(x, rows, cols, perRow, num, null),
          1e-6,
          1e-7,
          'scaleLines in place',
        );
        for (const b of [gx, out, norms, gn, gd]) ctx.arena.free(b);
        expect(ctx.arena.stats().liveBuffers).toBe(0);
      });
    }
  }

  it('works on views of one flat buffer (magnitudes and norms side by side)', async () => {
    const ctx = await testGpu();
    const m = randn(10, 6);
    const d = randu(10, 7, 1, 2);
    const flat = ctx.arena.alloc(128 * 4, 'workspace', 'flat');
    const vm = viewOf(flat, 0, 10 * 4);
    const vd = viewOf(flat, 64 * 4, 10 * 4);
    ctx.write(vm, Float32Array.from(m));
    ctx.write(vd, Float32Array.from(d));
    // m / d in place over m, with d in the same buffer.
    scaleLines(ctx, { out: vm, x: vm, rows: 1, cols: 10, perRow: false, num: null, den: vd });
    expectClose(await ctx.readF32(vm, 10), scaleLinesRef(m, 1, 10, false, null, d), 1e-6, 1e-7, 'm/d');
    lineNorms(ctx, { out: vd, x: vm, rows: 2, cols: 5, perRow: true });
    expectClose(
      await ctx.readF32(vd, 2),
      lineNormsRef(scaleLinesRef(m, 1, 10, false, null, d), 2, 5, true),
      1e-5,
      1e-6,
      'norms of a view',
    );
    ctx.arena.free(flat);
  });

  it('twins: the gradient of x/den is dOut/den (central differences)', () => {
    const x = randn(12, 8);
    const den = randu(12, 9, 0.5, 2);
    const w = randn(12, 10);
    const grad = scaleLinesRef(w, 1, 12, false, null, den);
    expectGradMatches((a) => dot(w, scaleLinesRef(a, 1, 12, false, null, den)), x, grad, 'x/den');
    // lineNorms' gradient is never needed (DoRA detaches it); its value is checked against a direct sum.
    const n = lineNormsRef([3, 4, 0, 0, 5, 12], 2, 3, true);
    expectClose(n, [5, 13], 0, 1e-12, 'norms by hand');
  });
});
