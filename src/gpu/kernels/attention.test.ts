// Tests for attention (attention.ts): the float64 twin's backward against central differences, then the GPU
// forward (out, lse) and backward (every gradient, and subsets with nulls) against the twin over MHA, GQA,
// MQA, T = 1, odd T, S > T (KV cache), a prefix, several head dims (vec4 and scalar paths) and a custom
// scale; inputs and outputs sharing one buffer (the shared binding planner) against the twins' entry points.
// Shapes stay tiny: SwiftShader runs these on the CPU.
import { describe, expect, it } from 'vitest';
import {
  type AttentionInputs,
  attentionInputs,
  expectAttentionGradsMatch,
} from '../../../test/helpers/attention';
import { testGpu, up } from '../../../test/helpers/gpu';
import { expectClose } from '../../../test/helpers/numeric';
import { type GpuBuf, type GpuView, viewOf } from '../arena';
import type { GpuContext } from '../context';
import {
  ATTENTION_VARIANTS,
  type AttentionDims,
  type AttentionVariant,
  attention,
  attentionBackward,
  attentionVariantOf,
  attentionWorkspaceBytes,
  QUAD_STORED,
  STORED_LIMIT,
} from './attention';
import { attentionBackwardRef, attentionBackwardTwin, attentionRef, attentionTwin } from './attention.ref';

const inputs = attentionInputs;

const describeDims = (d: AttentionDims) =>
  `B${d.B} T${d.T} S${d.S} Hq${d.Hq} Hkv${d.Hkv} D${d.D}${d.P ? ` P${d.P}` : ''}${d.scale ? ` scale${d.scale}` : ''}`;

describe('attention twin', () => {
  const cases: AttentionDims[] = [
    { B: 2, T: 3, S: 4, Hq: 4, Hkv: 2, D: 3, P: 2 },
    { B: 1, T: 4, S: 4, Hq: 3, Hkv: 1, D: 2 },
    { B: 2, T: 1, S: 3, Hq: 2, Hkv: 2, D: 4, P: 1, scale: 0.7 },
  ];
  for (const d of cases) {
    it(`backward matches central differences (${describeDims(d)})`, () => expectAttentionGradsMatch(d));
  }

  it('lse is the log-sum-exp of the visible scaled scores', () => {
    const d: AttentionDims = { B: 1, T: 2, S: 3, Hq: 1, Hkv: 1, D: 2, P: 1 };
    const x = inputs(d, 5);
    const { lse } = attentionRef(x.q, x.k, x.v, d, x.pk, x.pv);
    const sc = 1 / Math.sqrt(2);
    const s = (qo: number, kk: Float64Array, ko: number) =>
      sc * (x.q[qo] * kk[ko] + x.q[qo + 1] * kk[ko + 1]);
    // Query 1 sits at real position 2: sees the prefix key and real keys 0, 1, 2.
    const scores = [s(2, x.pk!, 0), s(2, x.k, 0), s(2, x.k, 2), s(2, x.k, 4)];
    expect(lse[1]).toBeCloseTo(Math.log(scores.reduce((a, z) => a + Math.exp(z), 0)), 12);
  });
});

async function runForward(ctx: GpuContext, d: AttentionDims, x: AttentionInputs) {
  const gq = up(ctx, x.q);
  const gk = up(ctx, x.k);
  const gv = up(ctx, x.v);
  const gpk = x.pk ? up(ctx, x.pk) : null;
  const gpv = x.pv ? up(ctx, x.pv) : null;
  const out = ctx.arena.alloc(x.q.length * 4, 'activations', 'out');
  const lse = ctx.arena.alloc(d.B * d.Hq * d.T * 4, 'activations', 'lse');
  attention(ctx, { ...d, out, lse, q: gq, k: gk, v: gv, prefixK: gpk, prefixV: gpv });
  return { gq, gk, gv, gpk, gpv, out, lse };
}

type Grad = 'dq' | 'dk' | 'dv' | 'dPrefixK' | 'dPrefixV';

/** Runs forward then backward for the wanted gradients (others passed as null) and checks each against the
 * twin. Gradient buffers start filled with garbage, to prove the backward overwrites rather than accumulates. */
async function checkGpu(
  variant: AttentionVariant,
  d: AttentionDims,
  seed: number,
  want: Grad[] = ['dq', 'dk', 'dv', 'dPrefixK', 'dPrefixV'],
) {
  const ctx = await testGpu({ allFeatures: true });
  ctx.variants.set('attention', variant);
  const x = inputs(d, seed);
  const ref = attentionRef(x.q, x.k, x.v, d, x.pk, x.pv);
  const f = await runForward(ctx, d, x);
  const what = `${variant} ${describeDims(d)}`;
  expectClose(await ctx.readF32(f.out, ref.out.length), ref.out, 1e-4, 2e-5, `out ${what}`);
  expectClose(await ctx.readF32(f.lse, ref.lse.length), ref.lse, 1e-4, 2e-5, `lse ${what}`);

  const gref = attentionBackwardRef(x.q, x.k, x.v, x.dOut, d, x.pk, x.pv);
  const gdOut = up(ctx, x.dOut);
  const grads: Partial<Record<Grad, GpuBuf>> = {};
  const expected: Record<Grad, Float64Array | undefined> = {
    dq: gref.dq,
    dk: gref.dk,
    dv: gref.dv,
    dPrefixK: gref.dPrefixK,
    dPrefixV: gref.dPrefixV,
  };
  for (const gname of want) {
    const e = expected[gname];
    if (e) grads[gname] = up(ctx, new Float64Array(e.length).fill(7.5), 'gradients', gname);
  }
  ctx.arena.resetPeak();
  attentionBackward(ctx, {
    ...d,
    dq: grads.dq ?? null,
    dk: grads.dk ?? null,
    dv: grads.dv ?? null,
    dPrefixK: grads.dPrefixK ?? null,
    dPrefixV: grads.dPrefixV ?? null,
    dOut: gdOut,
    q: f.gq,
    k: f.gk,
    v: f.gv,
    prefixK: f.gpk,
    prefixV: f.gpv,
    out: f.out,
    lse: f.lse,
  });
  // The workspace it borrows is what attentionWorkspaceBytes promises (at most), and it is given back.
  const ws = ctx.arena.stats().peak.workspace - ctx.arena.stats().current.workspace;
  expect(ws).toBeLessThanOrEqual(attentionWorkspaceBytes(d));
  for (const [gname, buf] of Object.entries(grads) as Array<[Grad, GpuBuf]>) {
    const e = expected[gname]!;
    // Gradients sum many products: compare relative to the largest entry as well as elementwise.
    const mag = e.reduce((m, z) => Math.max(m, Math.abs(z)), 0);
    expectClose(await ctx.readF32(buf, e.length), e, 1e-4, 1e-5 * Math.max(1, mag), `${gname} ${what}`);
  }
  for (const b of [f.gq, f.gk, f.gv, f.gpk, f.gpv, f.out, f.lse, gdOut, ...Object.values(grads)])
    if (b) ctx.arena.free(b);
  expect(ctx.arena.stats().liveBuffers).toBe(0);
}

for (const variant of ATTENTION_VARIANTS)
  describe(`attention on the GPU (${variant}) matches the twin`, () => {
    const cases: AttentionDims[] = [
      { B: 2, T: 5, S: 5, Hq: 2, Hkv: 2, D: 8 }, // MHA
      { B: 1, T: 7, S: 7, Hq: 4, Hkv: 2, D: 16 }, // GQA, G = 2
      { B: 2, T: 4, S: 4, Hq: 8, Hkv: 2, D: 8 }, // GQA, G = 4
      { B: 1, T: 5, S: 5, Hq: 3, Hkv: 1, D: 32 }, // MQA
      { B: 2, T: 1, S: 1, Hq: 2, Hkv: 1, D: 16 }, // T = 1
      { B: 2, T: 1, S: 6, Hq: 4, Hkv: 2, D: 8 }, // one decode step over a cache
      { B: 2, T: 37, S: 37, Hq: 2, Hkv: 1, D: 8 }, // odd T, several workgroups of rows
      { B: 1, T: 5, S: 11, Hq: 4, Hkv: 2, D: 16 }, // S > T
      { B: 2, T: 4, S: 6, Hq: 4, Hkv: 2, D: 8, P: 3 }, // prefix with a cache
      { B: 1, T: 3, S: 3, Hq: 2, Hkv: 1, D: 64, P: 1 }, // D = 64, prefix
      { B: 2, T: 1, S: 1, Hq: 2, Hkv: 2, D: 8, P: 5 }, // T = 1 with a prefix
      { B: 1, T: 6, S: 6, Hq: 2, Hkv: 1, D: 5, P: 2 }, // odd D: scalar path
      { B: 2, T: 3, S: 4, Hq: 3, Hkv: 3, D: 6, scale: 0.3 }, // D % 4 = 2, custom scale
      { B: 1, T: 70, S: 75, Hq: 2, Hkv: 1, D: 8, P: 3 }, // several blocks of own rows and of key tiles
      { B: 1, T: 37, S: 37, Hq: 1, Hkv: 1, D: 64, P: 2 }, // D = 64: several key rows per thread's loop
      { B: 1, T: 61, S: 64, Hq: 2, Hkv: 1, D: 32, P: 1 }, // D = 32 tiles hold 60 rows: two of keys and queries
      { B: 2, T: 9, S: 10, Hq: 2, Hkv: 1, D: 256, P: 1 }, // ATTENTION_MAX_D; flash blocks past T and S
    ];
    for (const [i, d] of cases.entries()) {
      // SwiftShader takes seconds to compile each tiled kernel (more at larger D), and the machine is shared:
      // the tiled variant runs the cases at D = 8 and D = 5 (the scalar path) only. Those still wrap: T = 70,
      // S = 75 spans two blocks of own rows and two 64-row tiles of keys and of queries.
      if (variant === 'tiled' && d.D !== 8 && d.D !== 5) continue;
      it(`forward and backward at ${describeDims(d)}`, async () => {
        await checkGpu(variant, d, 100 + 10 * i);
      });
    }

    if (variant === 'quad')
      it('stores P and dS for dK/dV with any subset of them, and recomputes them past its size limit', async () => {
        // No prefix and dq wanted: the stored path (dk or dv alone reads one matrix). Odd T ends a row pair.
        const d: AttentionDims = { B: 2, T: 11, S: 13, Hq: 4, Hkv: 2, D: 12 };
        const limit = QUAD_STORED.maxBytes;
        try {
          QUAD_STORED.maxBytes = STORED_LIMIT;
          await checkGpu(variant, d, 11, ['dq', 'dk']);
          await checkGpu(variant, d, 12, ['dq', 'dv']);
          await checkGpu(variant, { ...d, T: 9, S: 9 }, 14);
          QUAD_STORED.maxBytes = 0;
          await checkGpu(variant, d, 13);
        } finally {
          QUAD_STORED.maxBytes = limit;
        }
      });

    it('skips null gradients and still gets the others right', async () => {
      const d: AttentionDims = { B: 2, T: 4, S: 5, Hq: 4, Hkv: 2, D: 8, P: 2 };
      await checkGpu(variant, d, 7, ['dv', 'dPrefixK']);
      await checkGpu(variant, d, 8, ['dq']);
      await checkGpu(variant, d, 9, ['dk', 'dPrefixV']);
      // Each subset is its own kernel; the tiled ones are slow to compile on SwiftShader, so fewer of them.
      if (variant !== 'tiled') await checkGpu(variant, { ...d, D: 5 }, 10, ['dv']);
    });

    it('with no prefix, the first query attends only to itself', async () => {
      const ctx = await testGpu({ allFeatures: true });
      ctx.variants.set('attention', variant);
      const d: AttentionDims = { B: 2, T: 3, S: 3, Hq: 2, Hkv: 1, D: 4 };
      const x = inputs(d, 3);
      const f = await runForward(ctx, d, x);
      const out = await ctx.readF32(f.out);
      const lse = await ctx.readF32(f.lse);
      const row = d.Hq * d.D;
      const kvRow = d.Hkv * d.D;
      for (let b = 0; b < d.B; b++)
        for (let h = 0; h < d.Hq; h++) {
          const qo = b * d.T * row + h * d.D;
          const ko = b * d.S * kvRow; // kv head 0 serves both query heads
          const own = Array.from({ length: d.D }, (_, e) => x.v[ko + e]);
          expectClose(out.slice(qo, qo + d.D), own, 1e-6, 1e-6, `out[b${b},t0,h${h}]`);
          let s = 0;
          for (let e = 0; e < d.D; e++) s += x.q[qo + e] * x.k[ko + e];
          expect(lse[(b * d.Hq + h) * d.T]).toBeCloseTo(s / Math.sqrt(d.D), 4);
        }
      for (const b of [f.gq, f.gk, f.gv, f.out, f.lse]) ctx.arena.free(b);
      expect(ctx.arena.stats().liveBuffers).toBe(0);
    });

    it('rejects bad shapes with a sentence', async () => {
      const ctx = await testGpu({ allFeatures: true });
      ctx.variants.set('attention', variant);
      const buf = ctx.arena.alloc(16, 'workspace', 'x');
      const base = { out: buf, lse: buf, q: buf, k: buf, v: buf };
      expect(() => attention(ctx, { ...base, B: 1, T: 4, S: 3, Hq: 1, Hkv: 1, D: 4 })).toThrow(
        /fewer than T/,
      );
      expect(() => attention(ctx, { ...base, B: 1, T: 1, S: 1, Hq: 3, Hkv: 2, D: 4 })).toThrow(
        /multiple of Hkv/,
      );
      expect(() => attention(ctx, { ...base, B: 1, T: 1, S: 1, Hq: 1, Hkv: 1, D: 4, P: 2 })).toThrow(
        /prefixK/,
      );
      ctx.arena.free(buf);
    });
  });

/** Several regions of one buffer (256-byte aligned), filled from `parts` (a length is zeros). */
function packed(ctx: GpuContext, parts: Array<Float64Array | number>): { buf: GpuBuf; views: GpuView[] } {
  const offsets: number[] = [];
  let bytes = 0;
  for (const p of parts) {
    offsets.push(bytes);
    bytes += Math.ceil(((typeof p === 'number' ? p : p.length) * 4) / 256) * 256;
  }
  const data = new Float64Array(bytes / 4);
  parts.forEach((p, i) => {
    if (typeof p !== 'number') data.set(p, offsets[i] / 4);
  });
  const buf = up(ctx, data, 'activations', 'packed');
  const views = parts.map((p, i) => viewOf(buf, offsets[i], (typeof p === 'number' ? p : p.length) * 4));
  return { buf, views };
}

for (const variant of ATTENTION_VARIANTS)
  describe(`attention (${variant}) binds inputs and outputs that share a buffer`, () => {
    it('forward and backward with q, k, v, out, lse in one buffer and dOut, dq, dk, dv in another', async () => {
      const ctx = await testGpu({ allFeatures: true });
      ctx.variants.set('attention', variant);
      const d: AttentionDims = { B: 2, T: 4, S: 5, Hq: 4, Hkv: 2, D: 8, P: 2 };
      const x = inputs(d, 21);
      const nLse = d.B * d.Hq * d.T;
      const fwd = packed(ctx, [x.q, x.k, x.v, x.pk!, x.pv!, x.q.length, nLse]);
      const [q, k, v, prefixK, prefixV, out, lse] = fwd.views;
      attention(ctx, { ...d, q, k, v, prefixK, prefixV, out, lse });
      const want = {
        out: new Float64Array(x.q.length),
        lse: new Float64Array(nLse),
        dq: new Float64Array(x.q.length),
        dk: new Float64Array(x.k.length),
        dv: new Float64Array(x.v.length),
        dPrefixK: new Float64Array(x.pk!.length),
        dPrefixV: new Float64Array(x.pv!.length),
      };
      const cpu = { ...d, q: x.q, k: x.k, v: x.v, prefixK: x.pk, prefixV: x.pv };
      attentionTwin({ ...cpu, out: want.out, lse: want.lse });
      expectClose(await ctx.readF32(out, want.out.length), want.out, 1e-4, 2e-5, 'out');
      expectClose(await ctx.readF32(lse, nLse), want.lse, 1e-4, 2e-5, 'lse');

      const bwd = packed(ctx, [x.dOut, x.q.length, x.k.length, x.v.length, x.pk!.length, x.pv!.length]);
      const [dOut, dq, dk, dv, dPrefixK, dPrefixV] = bwd.views;
      attentionBackward(ctx, {
        ...d,
        q,
        k,
        v,
        prefixK,
        prefixV,
        out,
        lse,
        dOut,
        dq,
        dk,
        dv,
        dPrefixK,
        dPrefixV,
      });
      attentionBackwardTwin({ ...cpu, dOut: x.dOut, ...want });
      const got = { dq, dk, dv, dPrefixK, dPrefixV };
      for (const [name, region] of Object.entries(got) as Array<[keyof typeof got, GpuView]>) {
        const e = want[name];
        const mag = e.reduce((m, z) => Math.max(m, Math.abs(z)), 0);
        expectClose(
          await ctx.readF32(region, e.length),
          e,
          1e-4,
          1e-5 * Math.max(1, mag),
          `${name} ${variant}`,
        );
      }
      ctx.arena.free(fwd.buf);
      ctx.arena.free(bwd.buf);
      expect(ctx.arena.stats().liveBuffers).toBe(0);
    });

    it('refuses one region bound to two arguments, naming the kernel', async () => {
      const ctx = await testGpu({ allFeatures: true });
      ctx.variants.set('attention', variant);
      const d: AttentionDims = { B: 1, T: 2, S: 2, Hq: 1, Hkv: 1, D: 4 };
      const buf = ctx.arena.alloc(256, 'workspace', 'x');
      const lse = ctx.arena.alloc(256, 'workspace', 'lse');
      expect(() => attention(ctx, { ...d, q: buf, k: buf, v: buf, out: buf, lse })).toThrow(
        /attention_fwd.*same region/,
      );
      ctx.arena.free(buf);
      ctx.arena.free(lse);
    });
  });

describe('attention variant selection', () => {
  /** Just what the selection reads: the variant map, the adapter kind and the subgroups feature. */
  const fake = (software: boolean, subgroups: boolean, pick?: string) =>
    ({
      variants: new Map(pick ? [['attention', pick]] : []),
      adapter: { software },
      features: { subgroups },
    }) as unknown as GpuContext;

  it("defaults to 'quad' on a software adapter with subgroups, else to 'flash'", () => {
    expect(attentionVariantOf(fake(true, true))).toBe('quad');
    expect(attentionVariantOf(fake(true, false))).toBe('flash');
    expect(attentionVariantOf(fake(false, true))).toBe('flash');
  });

  it("keeps the autotune's pick, running 'flash' for 'quad' without subgroups, and refuses unknown names", () => {
    expect(attentionVariantOf(fake(true, true, 'rows'))).toBe('rows');
    expect(attentionVariantOf(fake(false, true, 'quad'))).toBe('quad');
    expect(attentionVariantOf(fake(false, false, 'quad'))).toBe('flash');
    expect(() => attentionVariantOf(fake(true, true, 'nope'))).toThrow(/unknown variant "nope"/);
  });
});
