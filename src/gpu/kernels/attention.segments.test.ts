// Tests for attention's segment mask (packed rows; attention.ts `segments`): the float64 twin against each
// segment run alone and its backward against central differences (with a prefix, shared −1 ids and padding),
// then both GPU variants' forward and every gradient against the twin at edge shapes (GQA, MQA, T = 1, one
// segment, all-distinct segments, odd T over several workgroups, the scalar D path, S > T, a prefix), and the
// refusals. Without segments the kernels are the old ones byte for byte (checked on the generated WGSL).
import { describe, expect, it } from 'vitest';
import { attentionInputs, expectAttentionGradsMatch } from '../../../test/helpers/attention';
import { testGpu, up } from '../../../test/helpers/gpu';
import { expectClose } from '../../../test/helpers/numeric';
import type { GpuBuf } from '../arena';
import {
  ATTENTION_VARIANTS,
  type AttentionDims,
  type AttentionVariant,
  attention,
  attentionBackward,
} from './attention';
import { attentionBackwardRef, attentionRef } from './attention.ref';
import {
  attentionDkvTiledWgsl,
  attentionDkvWgsl,
  attentionDqTiledWgsl,
  attentionDqWgsl,
  attentionForwardTiledWgsl,
  attentionForwardWgsl,
} from './attention.wgsl';

interface Case {
  d: AttentionDims;
  /** Segment ids per key position, [B, S]. */
  seg: number[];
}

const inputs = attentionInputs;

/** Packed-row ids for lengths per row (each row's examples numbered 1.., then padding 0 up to T). */
function packedIds(B: number, T: number, lens: number[][], lead = 0): number[] {
  const out: number[] = [];
  for (let b = 0; b < B; b++) {
    const row: number[] = new Array(lead).fill(-1);
    lens[b].forEach((n, i) => {
      for (let t = 0; t < n; t++) row.push(i + 1);
    });
    while (row.length < T) row.push(0);
    if (row.length !== T) throw new Error(`test case: row ${b} has ${row.length} ids, T = ${T}`);
    out.push(...row);
  }
  return out;
}

const describeCase = (c: Case) =>
  `B${c.d.B} T${c.d.T} S${c.d.S} Hq${c.d.Hq} Hkv${c.d.Hkv} D${c.d.D}${c.d.P ? ` P${c.d.P}` : ''}`;

describe('attention twin with segments', () => {
  it('each segment of a packed row equals that example attended alone (prefix and shared ids)', () => {
    // Row 0: two shared (−1) tokens, examples of 3 and 2 tokens, one padding; row 1: 4, 1, 3.
    const d: AttentionDims = { B: 2, T: 8, S: 8, Hq: 4, Hkv: 2, D: 4, P: 2 };
    const seg = [-1, -1, 1, 1, 1, 2, 2, 0, 1, 1, 1, 1, 2, 3, 3, 3];
    const x = inputs(d, 21);
    const got = attentionRef(x.q, x.k, x.v, d, x.pk, x.pv, null, seg);
    const rq = d.Hq * d.D;
    const rk = d.Hkv * d.D;
    for (let b = 0; b < d.B; b++) {
      const ids = seg.slice(b * d.T, (b + 1) * d.T);
      for (const id of new Set(ids.filter((s) => s > 0))) {
        // Alone: the shared tokens, then the example's own tokens, in row order.
        const keep = ids.flatMap((s, t) => (s === id || s < 0 ? [t] : []));
        const n = keep.length;
        const pick = (a: Float64Array, w: number) =>
          Float64Array.from(
            keep.flatMap((t) => Array.from(a.subarray((b * d.T + t) * w, (b * d.T + t + 1) * w))),
          );
        const alone = attentionRef(
          pick(x.q, rq),
          pick(x.k, rk),
          pick(x.v, rk),
          { ...d, B: 1, T: n, S: n },
          x.pk,
          x.pv,
        );
        keep.forEach((t, i) => {
          if (ids[t] < 0) return;
          const o = (b * d.T + t) * rq;
          expectClose(
            got.out.subarray(o, o + rq),
            alone.out.subarray(i * rq, (i + 1) * rq),
            1e-12,
            1e-12,
            `b${b} t${t}`,
          );
          for (let h = 0; h < d.Hq; h++)
            expect(got.lse[(b * d.Hq + h) * d.T + t]).toBeCloseTo(alone.lse[h * n + i], 12);
        });
      }
    }
  });

  const cases: Case[] = [
    { d: { B: 2, T: 5, S: 5, Hq: 4, Hkv: 2, D: 3, P: 2 }, seg: [1, 1, 2, 2, 0, -1, 1, 1, 2, 3] },
    { d: { B: 1, T: 4, S: 4, Hq: 3, Hkv: 1, D: 2 }, seg: [1, 2, 2, 0] },
    { d: { B: 1, T: 2, S: 4, Hq: 2, Hkv: 2, D: 2, P: 1, scale: 0.7 }, seg: [1, 2, 2, 3] },
  ];
  for (const c of cases) {
    it(`backward matches central differences (${describeCase(c)})`, () =>
      expectAttentionGradsMatch(c.d, c.seg));
  }

  it('refuses segments with a KV-cache read or too few ids', () => {
    const d: AttentionDims = { B: 1, T: 2, S: 2, Hq: 1, Hkv: 1, D: 2 };
    const x = inputs(d, 1);
    expect(() => attentionRef(x.q, x.k, x.v, d, null, null, [0], [1, 1])).toThrow(/KV cache/);
    expect(() => attentionRef(x.q, x.k, x.v, d, null, null, null, [1])).toThrow(/need B·S = 2/);
  });
});

type Grad = 'dq' | 'dk' | 'dv' | 'dPrefixK' | 'dPrefixV';

async function checkGpu(variant: AttentionVariant, c: Case, seed: number, want?: Grad[]) {
  const ctx = await testGpu();
  ctx.variants.set('attention', variant);
  const { d, seg } = c;
  const x = inputs(d, seed);
  const what = `${variant} ${describeCase(c)}`;
  const ref = attentionRef(x.q, x.k, x.v, d, x.pk, x.pv, null, seg);
  const gq = up(ctx, x.q);
  const gk = up(ctx, x.k);
  const gv = up(ctx, x.v);
  const gpk = x.pk ? up(ctx, x.pk) : null;
  const gpv = x.pv ? up(ctx, x.pv) : null;
  const segments = ctx.upload(Int32Array.from(seg), 'workspace', 'segments');
  const out = ctx.arena.alloc(x.q.length * 4, 'activations', 'out');
  const lse = ctx.arena.alloc(d.B * d.Hq * d.T * 4, 'activations', 'lse');
  const io = { q: gq, k: gk, v: gv, prefixK: gpk, prefixV: gpv, segments };
  attention(ctx, { ...d, ...io, out, lse });
  expectClose(await ctx.readF32(out, ref.out.length), ref.out, 1e-4, 2e-5, `out ${what}`);
  expectClose(await ctx.readF32(lse, ref.lse.length), ref.lse, 1e-4, 2e-5, `lse ${what}`);

  const gref = attentionBackwardRef(x.q, x.k, x.v, x.dOut, d, x.pk, x.pv, seg);
  const expected: Record<Grad, Float64Array | undefined> = {
    dq: gref.dq,
    dk: gref.dk,
    dv: gref.dv,
    dPrefixK: gref.dPrefixK,
    dPrefixV: gref.dPrefixV,
  };
  const grads: Partial<Record<Grad, GpuBuf>> = {};
  for (const gname of want ?? (Object.keys(expected) as Grad[])) {
    const e = expected[gname];
    // Garbage first: the backward must overwrite, including rows no query of the key's segment reaches.
    if (e) grads[gname] = up(ctx, new Float64Array(e.length).fill(7.5), 'gradients', gname);
  }
  const dOut = up(ctx, x.dOut);
  attentionBackward(ctx, {
    ...d,
    ...io,
    dq: grads.dq ?? null,
    dk: grads.dk ?? null,
    dv: grads.dv ?? null,
    dPrefixK: grads.dPrefixK ?? null,
    dPrefixV: grads.dPrefixV ?? null,
    dOut,
    out,
    lse,
  });
  for (const [gname, buf] of Object.entries(grads) as Array<[Grad, GpuBuf]>) {
    const e = expected[gname]!;
    const mag = e.reduce((m, z) => Math.max(m, Math.abs(z)), 0);
    expectClose(await ctx.readF32(buf, e.length), e, 1e-4, 1e-5 * Math.max(1, mag), `${gname} ${what}`);
  }
  for (const b of [gq, gk, gv, gpk, gpv, segments, out, lse, dOut, ...Object.values(grads)])
    if (b) ctx.arena.free(b);
  expect(ctx.arena.stats().liveBuffers).toBe(0);
}

const gpuCases: Case[] = [
  // GQA (G = 2), two examples and padding, plus a prefix every segment sees.
  {
    d: { B: 2, T: 6, S: 6, Hq: 4, Hkv: 2, D: 8, P: 2 },
    seg: packedIds(2, 6, [
      [3, 2],
      [1, 4, 1],
    ]),
  },
  // MQA without a prefix; shared (−1) leading ids, every id distinct after them.
  { d: { B: 1, T: 7, S: 7, Hq: 3, Hkv: 1, D: 8 }, seg: packedIds(1, 7, [[1, 1, 1, 1, 1]], 2) },
  // T = 1, and a row that is all padding.
  { d: { B: 2, T: 1, S: 1, Hq: 2, Hkv: 1, D: 8, P: 3 }, seg: [1, 0] },
  // One segment covering the row: the mask changes nothing.
  { d: { B: 1, T: 5, S: 5, Hq: 2, Hkv: 2, D: 8 }, seg: packedIds(1, 5, [[5]]) },
  // The scalar path (D % 4 ≠ 0) with a prefix.
  { d: { B: 2, T: 6, S: 6, Hq: 2, Hkv: 1, D: 5, P: 2 }, seg: packedIds(2, 6, [[2, 2, 1], [6]]) },
  // Two blocks of own rows and two key tiles, segments crossing the block boundary at 64.
  { d: { B: 1, T: 70, S: 70, Hq: 2, Hkv: 1, D: 8, P: 1 }, seg: packedIds(1, 70, [[30, 37, 1]]) },
  // S > T: queries are the last T key positions; ids are per key position.
  {
    d: { B: 2, T: 3, S: 6, Hq: 4, Hkv: 2, D: 16 },
    seg: packedIds(2, 6, [
      [2, 4],
      [4, 1],
    ]),
  },
];

for (const variant of ATTENTION_VARIANTS)
  describe(`attention with segments on the GPU (${variant}) matches the twin`, () => {
    for (const [i, c] of gpuCases.entries()) {
      // Tiled kernels take seconds each to compile on SwiftShader: the tiled variant runs the D = 8 and D = 5
      // cases (they cover GQA, MQA, shared ids, padding, T = 1, the prefix and the 64-row block boundary).
      if (variant === 'tiled' && c.d.D !== 8 && c.d.D !== 5) continue;
      it(`forward and backward at ${describeCase(c)}`, async () => {
        await checkGpu(variant, c, 300 + 10 * i);
      });
    }

    if (variant !== 'tiled')
      it('gradient subsets (dk alone, dv alone) with segments', async () => {
        await checkGpu(variant, gpuCases[0], 5, ['dk', 'dPrefixV']);
        await checkGpu(variant, gpuCases[0], 6, ['dv']);
      });

    it('refuses segments with kvStart or a short buffer, with a sentence', async () => {
      const ctx = await testGpu();
      ctx.variants.set('attention', variant);
      const buf = ctx.arena.alloc(4096, 'workspace', 'x');
      const small = ctx.arena.alloc(16, 'workspace', 'seg');
      const base = { out: buf, lse: buf, q: buf, k: buf, v: buf, B: 1, T: 2, S: 2, Hq: 1, Hkv: 1, D: 4 };
      expect(() => attention(ctx, { ...base, segments: buf, kvStart: buf })).toThrow(/KV cache/);
      expect(() => attention(ctx, { ...base, B: 8, segments: small })).toThrow(/need B·S = 16/);
      ctx.arena.free(buf);
      ctx.arena.free(small);
    });
  });

describe('without segments the kernels are unchanged', () => {
  it('no generated kernel mentions seg unless asked for it', () => {
    for (const D of [5, 8]) {
      for (const prefix of [false, true]) {
        const plain = [
          attentionForwardWgsl(D, prefix),
          attentionForwardTiledWgsl(D, prefix),
          attentionDqWgsl(D, prefix),
          attentionDqTiledWgsl(D, prefix),
          attentionDkvWgsl(D, prefix, true, true),
          attentionDkvTiledWgsl(D, prefix, true, true),
        ];
        for (const s of plain) expect(s.code).not.toMatch(/\bseg\b|\bsq\b|\bsk\b/);
        expect(attentionForwardWgsl(D, prefix, false, true).code).toMatch(/seg\[/);
        // Prefix keys are never masked: their dK/dV kernels ignore the flag.
        expect(attentionDkvWgsl(D, true, true, true, true).code).toBe(
          attentionDkvWgsl(D, true, true, true).code,
        );
      }
    }
  });
});
