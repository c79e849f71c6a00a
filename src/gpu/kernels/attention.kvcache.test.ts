// Tests for attention's KV-cache arguments (attention.ts, forward only): k/v read at a batch stride larger than
// S (a cache of capacity Smax of which S rows are filled) and a per-item first valid key (left padding). The
// twin's handling is checked against plain dense attention on each item's unpadded slice, then both GPU
// variants against the twin, with and without a prefix, in prefill (T = S) and decode (T = 1) shapes.
import { describe, expect, it } from 'vitest';
import { testGpu, up } from '../../../test/helpers/gpu';
import { expectClose, randn } from '../../../test/helpers/numeric';
import { ATTENTION_VARIANTS, type AttentionDims, attention, attentionBackward } from './attention';
import { attentionRef } from './attention.ref';

interface Case {
  d: AttentionDims & { kvStride: number };
  start: number[];
}

function inputs(c: Case, seed: number) {
  const { B, T, Hq, Hkv, D, kvStride } = c.d;
  const P = c.d.P ?? 0;
  return {
    q: randn(B * T * Hq * D, seed),
    k: randn(B * kvStride * Hkv * D, seed + 1),
    v: randn(B * kvStride * Hkv * D, seed + 2),
    pk: P ? randn(P * Hkv * D, seed + 3) : null,
    pv: P ? randn(P * Hkv * D, seed + 4) : null,
  };
}

const cases: Case[] = [
  // Prefill of three left-padded prompts (pads 2, 0, 4) into a cache of 9 rows.
  { d: { B: 3, T: 6, S: 6, Hq: 4, Hkv: 2, D: 8, kvStride: 9 }, start: [2, 0, 4] },
  // A decode step: one new query per item over 7 filled rows of 10.
  { d: { B: 3, T: 1, S: 7, Hq: 4, Hkv: 2, D: 8, kvStride: 10 }, start: [2, 0, 4] },
  // Two new queries with a prefix (prefix keys stay visible to padding rows too).
  { d: { B: 2, T: 2, S: 5, Hq: 2, Hkv: 1, D: 8, P: 2, kvStride: 8 }, start: [3, 1] },
  // The scalar (D % 4 ≠ 0) path, prefill with padding rows.
  { d: { B: 2, T: 4, S: 4, Hq: 2, Hkv: 2, D: 5, kvStride: 6 }, start: [1, 3] },
];

const describeCase = (c: Case) =>
  `B${c.d.B} T${c.d.T} S${c.d.S} stride${c.d.kvStride} Hq${c.d.Hq} Hkv${c.d.Hkv} D${c.d.D}${c.d.P ? ` P${c.d.P}` : ''} start[${c.start}]`;

/** Query t of item b is padding when it sees no real key: t + S − T < start[b]. */
const isPad = (c: Case, b: number, t: number) => t + c.d.S - c.d.T < c.start[b];

describe('attention twin with a KV-cache stride and left padding', () => {
  for (const c of cases) {
    it(`equals dense attention on each item's unpadded keys (${describeCase(c)})`, () => {
      const { B, T, S, Hq, Hkv, D, kvStride } = c.d;
      const P = c.d.P ?? 0;
      const x = inputs(c, 3);
      const got = attentionRef(x.q, x.k, x.v, c.d, x.pk, x.pv, c.start);
      for (let b = 0; b < B; b++) {
        const s0 = c.start[b];
        const Sd = S - s0;
        // Real (non-padding) queries of item b are its last Td.
        const Td = Math.min(T, Sd);
        const kd = new Float64Array(Sd * Hkv * D);
        const vd = new Float64Array(Sd * Hkv * D);
        for (let j = 0; j < Sd; j++)
          for (let e = 0; e < Hkv * D; e++) {
            kd[j * Hkv * D + e] = x.k[(b * kvStride + s0 + j) * Hkv * D + e];
            vd[j * Hkv * D + e] = x.v[(b * kvStride + s0 + j) * Hkv * D + e];
          }
        const qd = x.q.slice((b * T + T - Td) * Hq * D, (b + 1) * T * Hq * D);
        const dense = attentionRef(qd, kd, vd, { B: 1, T: Td, S: Sd, Hq, Hkv, D, P }, x.pk, x.pv);
        const outB = got.out.slice((b * T + T - Td) * Hq * D, (b + 1) * T * Hq * D);
        expectClose(outB, dense.out, 1e-12, 1e-12, `out of item ${b}`);
        for (let h = 0; h < Hq; h++)
          for (let t = 0; t < Td; t++)
            expect(got.lse[(b * Hq + h) * T + T - Td + t]).toBeCloseTo(dense.lse[h * Td + t], 12);
        // Padding queries without a prefix see nothing: zeros, lse −∞.
        for (let t = 0; t < T - Td; t++) {
          if (P > 0) continue;
          const row = got.out.slice((b * T + t) * Hq * D, (b * T + t + 1) * Hq * D);
          expect(row.every((z) => z === 0)).toBe(true);
          expect(got.lse[b * Hq * T + t]).toBe(Number.NEGATIVE_INFINITY);
        }
      }
    });
  }
});

for (const variant of ATTENTION_VARIANTS)
  describe(`attention on the GPU (${variant}) reading a KV cache matches the twin`, () => {
    for (const [i, c] of cases.entries()) {
      // Tiled kernels compile slowly on SwiftShader: the scalar path runs in 'rows' only.
      if (variant === 'tiled' && c.d.D !== 8) continue;
      it(`forward at ${describeCase(c)}`, async () => {
        const ctx = await testGpu();
        ctx.variants.set('attention', variant);
        const x = inputs(c, 50 + i);
        const ref = attentionRef(x.q, x.k, x.v, c.d, x.pk, x.pv, c.start);
        const gq = up(ctx, x.q);
        const gk = up(ctx, x.k, 'kvcache');
        const gv = up(ctx, x.v, 'kvcache');
        const gpk = x.pk ? up(ctx, x.pk) : null;
        const gpv = x.pv ? up(ctx, x.pv) : null;
        const start = ctx.upload(Int32Array.from(c.start), 'workspace', 'kvstart');
        const { B, T, Hq } = c.d;
        const out = ctx.arena.alloc(x.q.length * 4, 'activations', 'out');
        const lse = ctx.arena.alloc(B * Hq * T * 4, 'activations', 'lse');
        // Garbage first, so padding rows prove they are written (as zeros).
        ctx.write(out, new Float32Array(x.q.length).fill(9));
        attention(ctx, { ...c.d, out, lse, q: gq, k: gk, v: gv, prefixK: gpk, prefixV: gpv, kvStart: start });
        const what = `${variant} ${describeCase(c)}`;
        expectClose(await ctx.readF32(out, ref.out.length), ref.out, 1e-4, 2e-5, `out ${what}`);
        const lseGot = await ctx.readF32(lse, ref.lse.length);
        for (let b = 0; b < B; b++)
          for (let h = 0; h < Hq; h++)
            for (let t = 0; t < T; t++) {
              if (isPad(c, b, t) && !c.d.P) continue; // −∞ in the twin; unused by anything
              const r = (b * Hq + h) * T + t;
              expect(Math.abs(lseGot[r] - ref.lse[r]), `lse[${r}] ${what}`).toBeLessThan(
                2e-5 + 1e-4 * Math.abs(ref.lse[r]),
              );
            }
        for (const b of [gq, gk, gv, gpk, gpv, start, out, lse]) if (b) ctx.arena.free(b);
        expect(ctx.arena.stats().liveBuffers).toBe(0);
      });
    }

    it('without kvStart, a stride reads the first S rows of each item', async () => {
      const ctx = await testGpu();
      ctx.variants.set('attention', variant);
      const c: Case = { d: { B: 2, T: 3, S: 5, Hq: 2, Hkv: 1, D: 8, kvStride: 7 }, start: [0, 0] };
      const x = inputs(c, 77);
      const ref = attentionRef(x.q, x.k, x.v, c.d);
      const gq = up(ctx, x.q);
      const gk = up(ctx, x.k);
      const gv = up(ctx, x.v);
      const out = ctx.arena.alloc(x.q.length * 4, 'activations', 'out');
      const lse = ctx.arena.alloc(2 * 2 * 3 * 4, 'activations', 'lse');
      attention(ctx, { ...c.d, out, lse, q: gq, k: gk, v: gv });
      expectClose(await ctx.readF32(out, ref.out.length), ref.out, 1e-4, 2e-5, 'out');
      expectClose(await ctx.readF32(lse, ref.lse.length), ref.lse, 1e-4, 2e-5, 'lse');
      for (const b of [gq, gk, gv, out, lse]) ctx.arena.free(b);
    });

    it('refuses a stride below S, and a stride in the backward', async () => {
      const ctx = await testGpu();
      const buf = ctx.arena.alloc(16, 'workspace', 'x');
      const base = { out: buf, lse: buf, q: buf, k: buf, v: buf };
      expect(() => attention(ctx, { ...base, B: 1, T: 1, S: 4, Hq: 1, Hkv: 1, D: 4, kvStride: 3 })).toThrow(
        /kvStride = 3 rows is fewer than S = 4/,
      );
      const dims = { B: 1, T: 1, S: 1, Hq: 1, Hkv: 1, D: 4, kvStride: 2 };
      expect(() =>
        attentionBackward(ctx, { ...dims, ...base, dq: buf, dk: null, dv: null, dOut: buf }),
      ).toThrow(/forward-only/);
      ctx.arena.free(buf);
    });
  });
