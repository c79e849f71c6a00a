// RoPE: GPU against the float64 twin (odd D/2, a positions buffer with restarts, posOffset, long positions,
// in place), the inverse undoing the forward, and the twin's backward (the transposed rotation) against
// central differences and against the inverse rotation the GPU backward uses; a pair (a second tensor of
// other heads, batch items strided as in a KV cache, rotated in place) in the same dispatch against the twin.
import { describe, expect, it } from 'vitest';
import { testGpu, up } from '../../../test/helpers/gpu';
import { dot, expectClose, expectGradMatches, randn } from '../../../test/helpers/numeric';
import type { GpuBuf } from '../arena';
import { rope } from './rope';
import { type RopeDimsRef, ropeBackwardRef, ropeRef, ropeTwin } from './rope.ref';

interface Case {
  B: number;
  T: number;
  H: number;
  D: number;
  theta: number;
  posOffset?: number;
  positions?: number[];
}

const CASES: Case[] = [
  { B: 1, T: 1, H: 1, D: 2, theta: 10000 },
  { B: 2, T: 3, H: 2, D: 6, theta: 10000 }, // D/2 = 3, odd
  { B: 2, T: 5, H: 3, D: 10, theta: 10000, posOffset: 7 },
  { B: 1, T: 7, H: 4, D: 64, theta: 500000 },
  { B: 2, T: 4, H: 2, D: 128, theta: 10000, positions: [0, 1, 2, 0, 0, 1, 0, 1] }, // packed: restarts
  { B: 3, T: 2, H: 1, D: 18, theta: 10000, positions: [5, 6, 0, 1, 30, 31] },
];

describe('rope kernel', () => {
  for (const c of CASES) {
    const name = `B${c.B} T${c.T} H${c.H} D${c.D} θ${c.theta}${c.posOffset ? ` +${c.posOffset}` : ''}${c.positions ? ' positions' : ''}`;
    it(`matches the twin, forward and inverse, at ${name}`, async () => {
      const ctx = await testGpu();
      const n = c.B * c.T * c.H * c.D;
      const x = randn(n, 1);
      const gx = up(ctx, x);
      const pos: GpuBuf | null = c.positions
        ? ctx.upload(Int32Array.from(c.positions), 'workspace', 'pos')
        : null;
      const dims = { B: c.B, T: c.T, H: c.H, D: c.D, theta: c.theta, posOffset: c.posOffset };
      const refDims: RopeDimsRef = { ...dims, positions: c.positions ?? null };
      const out = ctx.arena.alloc(n * 4, 'activations', 'out');
      rope(ctx, { out, x: gx, ...dims, positions: pos });
      const want = ropeRef(x, refDims);
      expectClose(await ctx.readF32(out, n), want, 1e-4, 2e-5, 'rope');
      const back = ctx.arena.alloc(n * 4, 'activations', 'back');
      rope(ctx, { out: back, x: out, ...dims, positions: pos, inverse: true });
      expectClose(await ctx.readF32(back, n), x, 1e-4, 2e-5, 'inverse undoes forward');
      expectClose(
        await ctx.readF32(back, n),
        ropeRef(want, { ...refDims, inverse: true }),
        1e-4,
        2e-5,
        'inverse',
      );
      // in place
      rope(ctx, { out: gx, x: gx, ...dims, positions: pos });
      expectClose(await ctx.readF32(gx, n), want, 1e-4, 2e-5, 'rope in place');
      for (const b of [gx, out, back]) ctx.arena.free(b);
      if (pos) ctx.arena.free(pos);
      expect(ctx.arena.stats().liveBuffers).toBe(0);
    });
  }

  it('stays accurate at long positions (angles of thousands of radians)', async () => {
    const ctx = await testGpu();
    const c = { B: 1, T: 3, H: 2, D: 16, theta: 10000 };
    const n = c.B * c.T * c.H * c.D;
    const x = randn(n, 2);
    const gx = up(ctx, x);
    const out = ctx.arena.alloc(n * 4, 'activations', 'out');
    for (const posOffset of [1000, 4093, 32000]) {
      rope(ctx, { out, x: gx, ...c, posOffset });
      // The GPU forms angle = pos·invFreq in f32 as HF does, so its error grows like pos·2⁻²⁴ radians
      // (HF's own f32 angles are as far from these float64 ones); sin/cos add no error of their own.
      const atol = 1e-5 + 2e-7 * (posOffset + c.T);
      expectClose(await ctx.readF32(out, n), ropeRef(x, { ...c, posOffset }), 1e-4, atol, `pos ${posOffset}`);
    }
    ctx.arena.free(gx);
    ctx.arena.free(out);
  });

  for (const withPos of [false, true]) {
    it(`rotates a strided pair in place in the same dispatch${withPos ? ' (positions)' : ''}`, async () => {
      const ctx = await testGpu();
      // q [B, T, 4 heads, D]; k: 2 heads in 5-row cache slots per item.
      const c = { B: 2, T: 2, H: 4, D: 8, theta: 10000, posOffset: withPos ? 0 : 3 };
      const positions = withPos ? [3, 4, 1, 2] : null;
      const H2 = 2;
      const rowW = H2 * c.D;
      const stride = 5 * rowW;
      const nq = c.B * c.T * c.H * c.D;
      const nk = c.B * stride;
      const q = randn(nq, 5);
      const k = randn(nk, 6);
      const gq = up(ctx, q);
      const gk = up(ctx, k);
      const outQ = ctx.arena.alloc(nq * 4, 'activations', 'outQ');
      const pos = positions ? ctx.upload(Int32Array.from(positions), 'workspace', 'pos') : null;
      // The pair: each item's T rows lead its 5-row slot, items `stride` apart; rotated in place.
      rope(ctx, {
        out: outQ,
        x: gq,
        ...c,
        positions: pos,
        pair: { out: gk, x: gk, H: H2, strideB: stride },
      });
      // Twin: the same call on float64 copies; and item by item with ropeRef (the twin's own check).
      const tq = new Float64Array(nq);
      const tk = Float64Array.from(k);
      ropeTwin({
        out: tq,
        x: Float64Array.from(q),
        ...c,
        positions: positions ? Int32Array.from(positions) : null,
        pair: { out: tk, x: tk, H: H2, strideB: stride },
      });
      const dims: RopeDimsRef = { ...c, positions };
      expectClose(tq, ropeRef(q, dims), 1e-12, 1e-12, 'twin q');
      for (let b = 0; b < c.B; b++) {
        const item = k.slice(b * stride, b * stride + c.T * rowW);
        const want = ropeRef(item, {
          ...dims,
          B: 1,
          H: H2,
          positions: positions ? positions.slice(b * c.T, (b + 1) * c.T) : null,
        });
        expectClose(tk.subarray(b * stride, b * stride + c.T * rowW), want, 1e-12, 1e-12, `twin k ${b}`);
        // Rows outside the pair's T rows are untouched.
        expectClose(
          tk.subarray(b * stride + c.T * rowW, (b + 1) * stride),
          k.slice(b * stride + c.T * rowW, (b + 1) * stride),
          0,
          0,
          `twin k ${b} rest`,
        );
      }
      expectClose(await ctx.readF32(outQ, nq), tq, 1e-4, 2e-5, 'gpu q');
      expectClose(await ctx.readF32(gk, nk), tk, 1e-4, 2e-5, 'gpu k (strided, in place)');
      for (const b of [gq, gk, outQ]) ctx.arena.free(b);
      if (pos) ctx.arena.free(pos);
    });
  }

  it('refuses an odd head dim', async () => {
    const ctx = await testGpu();
    const b = ctx.arena.alloc(64, 'workspace', 'x');
    expect(() => rope(ctx, { out: b, x: b, B: 1, T: 1, H: 1, D: 3, theta: 10000 })).toThrow(/even/);
    ctx.arena.free(b);
  });

  it('twin backward matches central differences and equals the inverse rotation', () => {
    const dims: RopeDimsRef = { B: 2, T: 3, H: 2, D: 6, theta: 10000, positions: [3, 4, 5, 0, 1, 2] };
    const n = 2 * 3 * 2 * 6;
    const x = randn(n, 3);
    const w = randn(n, 4);
    const dx = ropeBackwardRef(w, dims);
    expectGradMatches((v) => dot(w, ropeRef(v, dims)), x, dx, 'rope dx');
    expectClose(dx, ropeRef(w, { ...dims, inverse: true }), 1e-12, 1e-12, 'backward is the inverse');
  });
});
