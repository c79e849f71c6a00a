// N:M structured sparse kernels: GPU against the float64 twin (forward, both gradients, accumulate), the
// twin against a dense reference (ΔW built from the compact values, y = x·ΔWᵀ), and the twin's gradients
// against central differences of the twin's forward.
import { describe, expect, it } from 'vitest';
import { testGpu, up } from '../../../test/helpers/gpu';
import { dot, expectClose, expectGradMatches, randn } from '../../../test/helpers/numeric';
import { nmMask } from '../../peft/methods/sparse';
import { type NmDims, nmGradInput, nmGradValues, nmMatmul, nmPerRow } from './nm';
import { nmGradInputRef, nmGradValuesRef, nmMatmulRef } from './nm.ref';

const CASES: NmDims[] = [
  { rows: 1, outF: 1, inF: 4, n: 2, m: 4 },
  { rows: 5, outF: 7, inF: 12, n: 1, m: 3 },
  { rows: 9, outF: 16, inF: 32, n: 2, m: 4 },
  { rows: 3, outF: 6, inF: 16, n: 4, m: 8 },
];

describe('nm kernels', () => {
  for (const d of CASES) {
    const k = d.outF * nmPerRow(d);
    const idx = nmMask(d.outF, d.inF, d.n, d.m, 11);
    it(`forward and both gradients match the twin: ${d.n}:${d.m}, [${d.outF},${d.inF}], ${d.rows} rows`, async () => {
      const ctx = await testGpu();
      const x = randn(d.rows * d.inF, 1);
      const v = randn(k, 2);
      const dy = randn(d.rows * d.outF, 3);
      const y0 = randn(d.rows * d.outF, 4);
      const gx = up(ctx, x);
      const gv = up(ctx, v);
      const gdy = up(ctx, dy);
      const gi = ctx.upload(idx, 'activations', 'idx');
      const gy = up(ctx, y0);
      nmMatmul(ctx, { ...d, y: gy, x: gx, v: gv, idx: gi, accumulate: true });
      const y = nmMatmulRef(x, v, idx, d);
      expectClose(
        await ctx.readF32(gy, y.length),
        y.map((t, i) => t + y0[i]),
        1e-5,
        1e-6,
        'y accumulate',
      );
      nmMatmul(ctx, { ...d, y: gy, x: gx, v: gv, idx: gi });
      expectClose(await ctx.readF32(gy, y.length), y, 1e-5, 1e-6, 'y');
      const gdv = ctx.arena.alloc(k * 4, 'gradients', 'dv');
      nmGradValues(ctx, { ...d, dv: gdv, dy: gdy, x: gx, idx: gi });
      const dv = nmGradValuesRef(dy, x, idx, d);
      expectClose(await ctx.readF32(gdv, k), dv, 1e-5, 1e-6, 'dv');
      nmGradValues(ctx, { ...d, dv: gdv, dy: gdy, x: gx, idx: gi, accumulate: true });
      expectClose(
        await ctx.readF32(gdv, k),
        dv.map((t) => 2 * t),
        1e-5,
        1e-6,
        'dv accumulate',
      );
      const gdx = up(ctx, new Float64Array(d.rows * d.inF).fill(1));
      nmGradInput(ctx, { ...d, dx: gdx, dy: gdy, v: gv, idx: gi, accumulate: true });
      const dx = nmGradInputRef(dy, v, idx, d);
      expectClose(
        await ctx.readF32(gdx, dx.length),
        dx.map((t) => t + 1),
        1e-5,
        1e-6,
        'dx accumulate',
      );
      nmGradInput(ctx, { ...d, dx: gdx, dy: gdy, v: gv, idx: gi });
      expectClose(await ctx.readF32(gdx, dx.length), dx, 1e-5, 1e-6, 'dx');
      for (const b of [gx, gv, gdy, gi, gy, gdv, gdx]) ctx.arena.free(b);
    });

    it(`the twin equals a dense ΔW and its gradients central differences: ${d.n}:${d.m} [${d.outF},${d.inF}]`, () => {
      const x = randn(d.rows * d.inF, 5);
      const v = randn(k, 6);
      const g = randn(d.rows * d.outF, 7);
      const dw = new Float64Array(d.outF * d.inF);
      idx.forEach((c, j) => {
        dw[c] = v[j];
      });
      // n per group of m in every row, and the dense product.
      for (let o = 0; o < d.outF; o++)
        for (let q = 0; q < d.inF / d.m; q++) {
          const inGroup = idx.filter((c) => c >= o * d.inF + q * d.m && c < o * d.inF + (q + 1) * d.m);
          expect(inGroup.length).toBe(d.n);
        }
      const dense = new Float64Array(d.rows * d.outF);
      for (let r = 0; r < d.rows; r++)
        for (let o = 0; o < d.outF; o++)
          for (let c = 0; c < d.inF; c++) dense[r * d.outF + o] += x[r * d.inF + c] * dw[o * d.inF + c];
      expectClose(nmMatmulRef(x, v, idx, d), dense, 1e-12, 1e-12, 'dense');
      expectGradMatches(
        (t) => dot(nmMatmulRef(x, t, idx, d), g),
        Float64Array.from(v),
        nmGradValuesRef(g, x, idx, d),
        'dValues',
      );
      expectGradMatches(
        (t) => dot(nmMatmulRef(t, v, idx, d), g),
        Float64Array.from(x),
        nmGradInputRef(g, v, idx, d),
        'dx',
      );
    });
  }

  it('refuses an N:M that does not tile the inputs', async () => {
    const ctx = await testGpu();
    const b = up(ctx, [0]);
    expect(() => nmMatmul(ctx, { rows: 1, outF: 1, inF: 6, n: 2, m: 4, y: b, x: b, v: b, idx: b })).toThrow(
      /2:4 does not tile 6/,
    );
    ctx.arena.free(b);
  });
});
