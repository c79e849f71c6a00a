// SwiGLU: GPU against the float64 twin, null outputs skipped, in-place gradients, and the twin's backward
// against central differences.
import { describe, expect, it } from 'vitest';
import { testGpu, up } from '../../../test/helpers/gpu';
import { dot, expectClose, expectGradMatches, randn } from '../../../test/helpers/numeric';
import { swiglu, swigluBackward } from './swiglu';
import { swigluBackwardRef, swigluRef } from './swiglu.ref';

const EXTREMES = [-200, -50, -10, 0, 10, 50, 200];

describe('swiglu kernels', () => {
  for (const n of [1, 255, 257, 4099]) {
    it(`forward and backward match the twin at n=${n}`, async () => {
      const ctx = await testGpu();
      const gate = randn(n, 1, 3);
      for (let i = 0; i < Math.min(n, EXTREMES.length); i++) gate[i] = EXTREMES[i];
      const upv = randn(n, 2);
      const dOut = randn(n, 3);
      const gg = up(ctx, gate);
      const gu = up(ctx, upv);
      const gd = up(ctx, dOut);
      const out = ctx.arena.alloc(n * 4, 'activations', 'out');
      swiglu(ctx, { out, gate: gg, up: gu, n });
      const got = await ctx.readF32(out, n);
      expect(got.every(Number.isFinite)).toBe(true);
      expectClose(got, swigluRef(gate, upv), 1e-4, 1e-6, 'swiglu');
      const want = swigluBackwardRef(dOut, gate, upv);
      const dGate = ctx.arena.alloc(n * 4, 'gradients', 'dGate');
      const dUp = ctx.arena.alloc(n * 4, 'gradients', 'dUp');
      swigluBackward(ctx, { dGate, dUp, dOut: gd, gate: gg, up: gu, n });
      expectClose(await ctx.readF32(dGate, n), want.dGate, 1e-4, 1e-6, 'dGate');
      expectClose(await ctx.readF32(dUp, n), want.dUp, 1e-4, 1e-6, 'dUp');
      // in place over the inputs
      swigluBackward(ctx, { dGate: gg, dUp: gu, dOut: gd, gate: gg, up: gu, n });
      expectClose(await ctx.readF32(gg, n), want.dGate, 1e-4, 1e-6, 'dGate in place');
      expectClose(await ctx.readF32(gu, n), want.dUp, 1e-4, 1e-6, 'dUp in place');
      for (const b of [gg, gu, gd, out, dGate, dUp]) ctx.arena.free(b);
      expect(ctx.arena.stats().liveBuffers).toBe(0);
    });
  }

  it('null outputs are skipped', async () => {
    const ctx = await testGpu();
    const n = 100;
    const gate = randn(n, 4);
    const upv = randn(n, 5);
    const dOut = randn(n, 6);
    const want = swigluBackwardRef(dOut, gate, upv);
    const [gg, gu, gd] = [gate, upv, dOut].map((a) => up(ctx, a));
    const seven = new Float32Array(n).fill(7);
    const dGate = up(ctx, seven);
    const dUp = up(ctx, seven);
    swigluBackward(ctx, { dGate: null, dUp, dOut: gd, gate: gg, up: gu, n });
    expectClose(await ctx.readF32(dUp, n), want.dUp, 1e-4, 1e-6, 'dUp only');
    expectClose(await ctx.readF32(dGate, n), seven, 0, 0, 'dGate untouched');
    ctx.write(dUp, seven);
    swigluBackward(ctx, { dGate, dUp: null, dOut: gd, gate: gg, up: gu, n });
    expectClose(await ctx.readF32(dGate, n), want.dGate, 1e-4, 1e-6, 'dGate only');
    expectClose(await ctx.readF32(dUp, n), seven, 0, 0, 'dUp untouched');
    swigluBackward(ctx, { dGate: null, dUp: null, dOut: gd, gate: gg, up: gu, n });
    for (const b of [gg, gu, gd, dGate, dUp]) ctx.arena.free(b);
    expect(ctx.arena.stats().liveBuffers).toBe(0);
  });

  it('twin backward matches central differences', () => {
    const n = 30;
    const gate = randn(n, 7, 2);
    const upv = randn(n, 8);
    const w = randn(n, 9);
    const g = swigluBackwardRef(w, gate, upv);
    expectGradMatches((v) => dot(w, swigluRef(v, upv)), gate, g.dGate, 'dGate');
    expectGradMatches((v) => dot(w, swigluRef(gate, v)), upv, g.dUp, 'dUp');
  });
});
