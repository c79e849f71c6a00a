// Standalone activations (ReLU, SiLU, exact GELU): GPU against the float64 twin over saturated and
// ordinary inputs, in place and accumulating; the twin's derivative against central differences and its
// exact GELU against known values of Φ.
import { describe, expect, it } from 'vitest';
import { testGpu, up } from '../../../test/helpers/gpu';
import { dot, expectClose, expectGradMatches, randn } from '../../../test/helpers/numeric';
import { type ActivationKind, activation, activationBackward } from './activation';
import { activationBackwardRef, activationRef, normalCdf } from './activation.ref';

const EXTREMES = [-100, -20, -10, -5, -1e-3, 0, 1e-3, 5, 10, 20, 100];
const KINDS: ActivationKind[] = ['relu', 'silu', 'gelu_erf'];

describe('activation kernels', () => {
  for (const kind of KINDS) {
    for (const n of [1, 257, 4099]) {
      it(`${kind}: forward and backward match the twin at n=${n}`, async () => {
        const ctx = await testGpu();
        const x = randn(n, 1, 3);
        for (let i = 0; i < Math.min(n, EXTREMES.length); i++) x[i] = EXTREMES[i];
        const dOut = randn(n, 2);
        const gx = up(ctx, x);
        const gd = up(ctx, dOut);
        const out = ctx.arena.alloc(n * 4, 'activations', 'out');
        activation(ctx, { out, x: gx, n, kind });
        const got = await ctx.readF32(out, n);
        expectClose(got, activationRef(kind, x), 1e-4, 1e-6, kind);
        expect(got.every(Number.isFinite)).toBe(true);
        const dx = ctx.arena.alloc(n * 4, 'gradients', 'dx');
        activation(ctx, { out: dx, x: gx, n, kind }); // garbage to overwrite
        activationBackward(ctx, { dx, dOut: gd, x: gx, n, kind });
        const want = activationBackwardRef(kind, dOut, x);
        expectClose(await ctx.readF32(dx, n), want, 1e-4, 1e-6, `${kind} dx`);
        activationBackward(ctx, { dx, dOut: gd, x: gx, n, kind, accumulate: true });
        expectClose(
          await ctx.readF32(dx, n),
          want.map((v) => 2 * v),
          1e-4,
          2e-6,
          `${kind} dx accumulate`,
        );
        activationBackward(ctx, { dx: gd, dOut: gd, x: gx, n, kind });
        expectClose(await ctx.readF32(gd, n), want, 1e-4, 1e-6, `${kind} dx in place`);
        activation(ctx, { out: gx, x: gx, n, kind });
        expectClose(await ctx.readF32(gx, n), activationRef(kind, x), 1e-4, 1e-6, `${kind} in place`);
        for (const b of [gx, gd, out, dx]) ctx.arena.free(b);
        expect(ctx.arena.stats().liveBuffers).toBe(0);
      });
    }
    it(`${kind}: twin derivative matches central differences`, () => {
      const x = randn(40, 3, 2);
      for (let i = 0; i < x.length; i++) if (Math.abs(x[i]) < 1e-3) x[i] += 0.1; // ReLU's kink
      const w = randn(40, 4);
      expectGradMatches((v) => dot(w, activationRef(kind, v)), x, activationBackwardRef(kind, w, x), kind);
    });
  }

  it('the twin Φ matches known values (erf to double precision, tails included)', () => {
    expectClose(
      [-8, -3, -1, 0, 0.5, 2, 5].map(normalCdf),
      [
        6.22096057427178e-16, 0.0013498980316300933, 0.15865525393145707, 0.5, 0.6914624612740131,
        0.9772498680518208, 0.9999997133484281,
      ],
      1e-12,
      0,
      'Φ',
    );
  });
});
