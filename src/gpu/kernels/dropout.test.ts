// Tests for dropout.ts: the GPU mask equals the TypeScript twin's bit for bit, keep rate ≈ 1 − p, p = 0 is
// the identity and p = 1 zeroes everything, streams and seeds decorrelate, and the backward (plain and
// accumulating) regenerates the forward's mask.
import { describe, expect, it } from 'vitest';
import { testGpu, up } from '../../../test/helpers/gpu';
import { expectClose, randn } from '../../../test/helpers/numeric';
import { dropout, dropoutBackward } from './dropout';
import { dropoutBackwardRef, dropoutMaskRef, dropoutRef } from './dropout.ref';

/** Reads the kept pattern back from a dropout of all-ones input. */
async function gpuMask(n: number, p: number, seed: number, stream: number): Promise<Uint8Array> {
  const ctx = await testGpu();
  const x = up(ctx, new Float64Array(n).fill(1));
  const out = ctx.arena.alloc(n * 4, 'workspace', 'out');
  dropout(ctx, { out, x, n, p, seed, stream });
  const y = await ctx.readF32(out, n);
  ctx.arena.free(x);
  ctx.arena.free(out);
  return Uint8Array.from(y, (v) => (v !== 0 ? 1 : 0));
}

const keepRate = (mask: Uint8Array): number => mask.reduce((a, b) => a + b, 0) / mask.length;

describe('dropout', () => {
  for (const [n, p, seed, stream] of [
    [1, 0.5, 1, 0],
    [257, 0.1, 42, 3],
    [4099, 0.5, 0xdeadbeef, 7],
    [100_000, 0.3, 1234, 0xffffffff],
  ] as const) {
    it(`mask is the twin's bit for bit (n=${n}, p=${p})`, async () => {
      const mask = await gpuMask(n, p, seed, stream);
      expect(mask).toEqual(dropoutMaskRef(n, p, seed, stream));
    });
  }

  it('keeps about 1 − p of the elements, and streams and seeds decorrelate', () => {
    const n = 200_000;
    for (const p of [0.05, 0.1, 0.5, 0.9]) {
      // Binomial standard deviation √(p(1−p)/n) ≤ 0.0012; allow 5σ.
      expect(Math.abs(keepRate(dropoutMaskRef(n, p, 7, 1)) - (1 - p))).toBeLessThan(0.006);
    }
    const a = dropoutMaskRef(n, 0.5, 7, 1);
    const b = dropoutMaskRef(n, 0.5, 7, 2);
    const c = dropoutMaskRef(n, 0.5, 8, 1);
    const agree = (u: Uint8Array, v: Uint8Array) => u.reduce((s, x, i) => s + (x === v[i] ? 1 : 0), 0) / n;
    expect(Math.abs(agree(a, b) - 0.5)).toBeLessThan(0.006);
    expect(Math.abs(agree(a, c) - 0.5)).toBeLessThan(0.006);
    // Neighbouring elements are independent: P(both kept) ≈ (1 − p)².
    let both = 0;
    for (let i = 1; i < n; i++) both += a[i] & a[i - 1];
    expect(Math.abs(both / (n - 1) - 0.25)).toBeLessThan(0.006);
  });

  it('keep rate on the GPU ≈ 1 − p', async () => {
    const mask = await gpuMask(50_000, 0.2, 99, 5);
    expect(Math.abs(keepRate(mask) - 0.8)).toBeLessThan(0.01);
  });

  it('forward and backward match the twin, backward accumulates, p = 0 is the identity, p = 1 zeroes', async () => {
    const ctx = await testGpu();
    const n = 1000;
    const x = randn(n, 1);
    const dOut = randn(n, 2);
    const prior = randn(n, 3);
    const gx = up(ctx, x);
    const gd = up(ctx, dOut);
    const out = ctx.arena.alloc(n * 4, 'workspace', 'out');
    const dx = up(ctx, prior);
    for (const p of [0, 0.25, 1]) {
      dropout(ctx, { out, x: gx, n, p, seed: 5, stream: 9 });
      const y = await ctx.readF32(out, n);
      expectClose(y, dropoutRef(Float32Array.from(x), p, 5, 9), 1e-6, 0, `forward p=${p}`);
      if (p === 0) expect(y).toEqual(Float32Array.from(x));
      if (p === 1) expect(y.every((v) => v === 0)).toBe(true);
      dropoutBackward(ctx, { dx: out, dOut: gd, n, p, seed: 5, stream: 9 });
      expectClose(
        await ctx.readF32(out, n),
        dropoutBackwardRef(Float32Array.from(dOut), p, 5, 9),
        1e-6,
        0,
        'dx',
      );
    }
    dropoutBackward(ctx, { dx, dOut: gd, n, p: 0.25, seed: 5, stream: 9, accumulate: true });
    const ref = dropoutBackwardRef(Float32Array.from(dOut), 0.25, 5, 9).map(
      (v, i) => v + Math.fround(prior[i]),
    );
    expectClose(await ctx.readF32(dx, n), ref, 1e-6, 1e-7, 'dx accumulate');
    for (const b of [gx, gd, out, dx]) ctx.arena.free(b);
    expect(ctx.arena.stats().liveBuffers).toBe(0);
  });

  it('runs in place (out = x) and backward in place (dx = dOut)', async () => {
    const ctx = await testGpu();
    const n = 777;
    const x = randn(n, 4);
    const gx = up(ctx, x);
    dropout(ctx, { out: gx, x: gx, n, p: 0.4, seed: 3, stream: 1 });
    const y = dropoutRef(Float32Array.from(x), 0.4, 3, 1);
    expectClose(await ctx.readF32(gx, n), y, 1e-6, 0, 'in place');
    dropoutBackward(ctx, { dx: gx, dOut: gx, n, p: 0.4, seed: 3, stream: 1 });
    expectClose(
      await ctx.readF32(gx, n),
      dropoutRef(Float32Array.from(y), 0.4, 3, 1),
      1e-6,
      0,
      'backward in place',
    );
    ctx.arena.free(gx);
  });
});
