// Tests of the matmul family: every variant (MATMUL_VARIANTS, so new ones join every loop) × every
// transpose against the float64 twin at edge shapes, the choice by shape class and the GEMV hand-off,
// tiled4's vec4 and element loads,
// batching with and without broadcast, accumulate, alpha, B stored in every frozen-weight format, backward computed with trans
// flags on the GPU, and the twin's backward against central differences. Shapes stay small: this runs
// on SwiftShader.
import { describe, expect, it, vi } from 'vitest';
import { testGpu, up } from '../../../test/helpers/gpu';
import { dot, expectClose, expectGradMatches, randn } from '../../../test/helpers/numeric';
import { roundTripWeight } from '../../util/quant';
import { type GpuBuf, viewOf } from '../arena';
import type { GpuContext } from '../context';
import { freeWeightGpu, uploadWeightGpu } from './dequant';
import {
  MATMUL_VARIANTS,
  matmul,
  matmulClass,
  matmulFlops,
  matmulVariantKey,
  SKINNY,
  SMALL_M,
  untunedVariant,
} from './matmul';
import { type MatmulDims, matmulBackwardRef, matmulRef, matmulTwin } from './matmul.ref';

const SHAPES: Array<[number, number, number]> = [
  [1, 1, 1],
  [3, 5, 7],
  [17, 33, 9],
  [64, 64, 64],
  [65, 31, 130],
];
const TRANSPOSES: Array<[boolean, boolean]> = [
  [false, false],
  [false, true],
  [true, false],
  [true, true],
];
const tn = (t: boolean) => (t ? 't' : 'n');

/** Storage length of A or B for dims (the largest index a batch item reaches, plus one). */
function storageLen(stride: number, size: number, batch: number): number {
  return (batch - 1) * stride + size;
}

/** f32 tolerance: sums of K products of unit normals have error ~ K·2^-24·|terms|. */
const close = (got: ArrayLike<number>, want: ArrayLike<number>, K: number, what: string) =>
  expectClose(got, want, 1e-4, 1e-5 * Math.max(1, Math.sqrt(K)), what);

interface Case {
  dims: MatmulDims;
  a: Float64Array;
  b: Float64Array;
  ga: GpuBuf;
  gb: GpuBuf;
  out: GpuBuf;
}

function makeCase(ctx: GpuContext, dims: MatmulDims, seed: number): Case {
  const batch = dims.batch ?? 1;
  const a = randn(storageLen(dims.strideA ?? dims.M * dims.K, dims.M * dims.K, batch), seed);
  const b = randn(storageLen(dims.strideB ?? dims.K * dims.N, dims.K * dims.N, batch), seed + 1);
  return {
    dims,
    a,
    b,
    ga: up(ctx, a),
    gb: up(ctx, b),
    out: ctx.arena.alloc(batch * dims.M * dims.N * 4, 'activations', 'out'),
  };
}

const freeAll = (ctx: GpuContext, bufs: GpuBuf[]) => {
  for (const b of bufs) ctx.arena.free(b);
};

describe('matmul kernels against the twin', () => {
  for (const variant of MATMUL_VARIANTS) {
    for (const [transA, transB] of TRANSPOSES) {
      it(`${variant} ${tn(transA)}${tn(transB)} at edge shapes`, async () => {
        const ctx = await testGpu({ allFeatures: true });
        const cases = SHAPES.map(([M, N, K], i) => makeCase(ctx, { M, N, K, transA, transB }, 10 * i + 1));
        for (const c of cases) matmul(ctx, { ...c.dims, a: c.ga, b: c.gb, out: c.out, variant });
        for (const c of cases) {
          const { M, N, K } = c.dims;
          close(await ctx.readF32(c.out, M * N), matmulRef(c.a, c.b, c.dims), K, `${M}×${N}×${K}`);
          freeAll(ctx, [c.ga, c.gb, c.out]);
        }
        expect(ctx.arena.stats().liveBuffers).toBe(0);
      });
    }
  }
});

describe('matmul quad kernels on whole tiles', () => {
  // Shapes that are whole workgroup tiles (128 rows; 32 columns for quad, 8 for quadnarrow) take the
  // unchecked stores (label _x) and, with accumulate, the add as code (_acc): both against the twin, in
  // every transpose, batched with a gap between output items that must stay untouched.
  for (const variant of ['quad', 'quadnarrow'] as const) {
    it(`${variant}: whole tiles, plain and accumulated, every transpose`, async () => {
      const ctx = await testGpu({ allFeatures: true });
      const [M, N, K, batch] = [128, variant === 'quad' ? 64 : 16, 10, 2];
      const strideOut = M * N + 8;
      const spy = vi.spyOn(ctx, 'dispatch');
      for (const [transA, transB] of TRANSPOSES) {
        const a = randn(batch * M * K, 7);
        const b = randn(batch * K * N, 8);
        const old = randn(batch * strideOut, 9);
        const [ga, gb, out] = [up(ctx, a), up(ctx, b), up(ctx, old)];
        const dims = { M, N, K, batch, transA, transB };
        const prod = matmulRef(a, b, dims);
        matmul(ctx, { ...dims, a: ga, b: gb, out, strideOut, alpha: 0.5, accumulate: true, variant });
        const expected = Float64Array.from(old);
        for (let t = 0; t < batch; t++)
          for (let i = 0; i < M * N; i++) expected[t * strideOut + i] += 0.5 * prod[t * M * N + i];
        close(await ctx.readF32(out, batch * strideOut), expected, K, `${tn(transA)}${tn(transB)} acc`);
        matmul(ctx, { ...dims, a: ga, b: gb, out, strideOut, alpha: -1, variant });
        const got = await ctx.readF32(out, batch * strideOut);
        for (let t = 0; t < batch; t++) {
          close(
            got.subarray(t * strideOut, t * strideOut + M * N),
            prod.subarray(t * M * N, (t + 1) * M * N).map((v) => -v),
            K,
            `${tn(transA)}${tn(transB)} item ${t}`,
          );
          expectClose(
            got.subarray(t * strideOut + M * N, (t + 1) * strideOut),
            Float32Array.from(old.subarray(t * strideOut + M * N, (t + 1) * strideOut)),
            0,
            0,
            'gap',
          );
        }
        freeAll(ctx, [ga, gb, out]);
      }
      const labels = spy.mock.calls.map(([d]) => d.kernel.label);
      spy.mockRestore();
      expect(labels).toEqual(
        TRANSPOSES.flatMap(([ta, tb]) => [
          `matmul_${variant}_${tn(ta)}${tn(tb)}_x_acc`,
          `matmul_${variant}_${tn(ta)}${tn(tb)}_x`,
        ]),
      );
    });
  }
});

describe('matmul options', () => {
  for (const variant of MATMUL_VARIANTS) {
    it(`${variant}: batched, dense and broadcast strides`, async () => {
      const ctx = await testGpu({ allFeatures: true });
      const [M, N, K, batch] = [19, 13, 21, 3];
      const layouts: MatmulDims[] = [
        { M, N, K, batch },
        { M, N, K, batch, transA: true, transB: true },
        { M, N, K, batch, strideB: 0 }, // one weight shared by every item
        { M, N, K, batch, strideA: 0, transB: true }, // one input against per-item weights
        { M, N, K, batch, strideA: M * K + 5, strideB: K * N + 3 }, // gaps between items
      ];
      const cases = layouts.map((d, i) => makeCase(ctx, d, 100 + i));
      for (const c of cases) matmul(ctx, { ...c.dims, a: c.ga, b: c.gb, out: c.out, variant });
      for (const [i, c] of cases.entries()) {
        close(await ctx.readF32(c.out, batch * M * N), matmulRef(c.a, c.b, c.dims), K, `layout ${i}`);
        freeAll(ctx, [c.ga, c.gb, c.out]);
      }
    });

    it(`${variant}: accumulate and alpha, with an output stride`, async () => {
      const ctx = await testGpu({ allFeatures: true });
      const [M, N, K, batch] = [7, 9, 11, 2];
      const strideOut = M * N + 4;
      const a = randn(batch * M * K, 1);
      const b = randn(batch * K * N, 2);
      const old = randn(batch * strideOut, 3);
      const ga = up(ctx, a);
      const gb = up(ctx, b);
      const out = up(ctx, old);
      const prod = matmulRef(a, b, { M, N, K, batch, transA: true });
      matmul(ctx, {
        a: ga,
        b: gb,
        out,
        M,
        N,
        K,
        batch,
        transA: true,
        strideOut,
        alpha: 0.5,
        accumulate: true,
        variant,
      });
      const expected = Float64Array.from(old);
      for (let t = 0; t < batch; t++)
        for (let i = 0; i < M * N; i++) expected[t * strideOut + i] += 0.5 * prod[t * M * N + i];
      close(await ctx.readF32(out, batch * strideOut), expected, K, 'accumulate');
      // Without accumulate the old values are overwritten, and alpha still scales.
      matmul(ctx, { a: ga, b: gb, out, M, N, K, batch, transA: true, strideOut, alpha: -2, variant });
      const got = await ctx.readF32(out, batch * strideOut);
      for (let t = 0; t < batch; t++)
        close(
          got.subarray(t * strideOut, t * strideOut + M * N),
          prod.subarray(t * M * N, (t + 1) * M * N).map((v) => -2 * v),
          K,
          `alpha item ${t}`,
        );
      // The gap between items is untouched.
      expectClose(
        got.subarray(M * N, strideOut),
        Float32Array.from(old.subarray(M * N, strideOut)),
        0,
        0,
        'gap',
      );
      freeAll(ctx, [ga, gb, out]);
    });

    it(`${variant}: B stored f16/bf16/int8/nf4 (both layouts, both transposes, batched) against the twin`, async () => {
      const ctx = await testGpu({ allFeatures: true });
      // N and K past 64 so NF4 blocks straddle rows; odd sizes so words straddle rows too.
      const [M, N, K] = [5, 67, 70];
      for (const dtype of ['f16', 'bf16', 'int8', 'nf4'] as const)
        for (const transB of [false, true])
          for (const layout of dtype === 'int8' ? (['out_in', 'in_out'] as const) : (['out_in'] as const)) {
            const a = randn(M * K, 7);
            const b = randn(K * N, 8);
            const shape = transB ? [N, K] : [K, N];
            // The twin of the quantized matmul: the float64 values of exactly what is stored.
            const bq = roundTripWeight(b, shape, dtype, layout);
            const ga = up(ctx, a);
            const w = uploadWeightGpu(ctx, b, shape, dtype, layout, 'frozen', 'bq');
            const out = ctx.arena.alloc(M * N * 4, 'activations', 'out');
            matmul(ctx, { a: ga, b: w.store, bFormat: w.format, out, M, N, K, transB, variant });
            close(
              await ctx.readF32(out, M * N),
              matmulRef(a, bq, { M, N, K, transB }),
              K,
              `${dtype} ${layout} t${transB}`,
            );
            // The quantization is visible: the twin of the unquantized product differs (the test can fail).
            if (dtype !== 'f16') {
              const far = matmulRef(a, b, { M, N, K, transB });
              const got = await ctx.readF32(out, M * N);
              expect(Math.max(...Array.from(got, (g, i) => Math.abs(g - far[i])))).toBeGreaterThan(1e-3);
            }
            freeAll(ctx, [ga, out]);
            freeWeightGpu(ctx, w.store, w.format);
          }
      // Batched: f16 items at odd strides start mid-word; nf4 broadcast to every item with alpha and accumulate.
      const [bm, bn, bk, batch] = [3, 4, 5, 3];
      const a = randn(batch * bm * bk, 9);
      const b = randn(batch * bk * bn, 10);
      const w = uploadWeightGpu(ctx, b, [b.length], 'f16', 'out_in', 'frozen', 'b16');
      const ga = up(ctx, a);
      const out = ctx.arena.alloc(batch * bm * bn * 4, 'activations', 'out');
      matmul(ctx, { a: ga, b: w.store, bFormat: w.format, out, M: bm, N: bn, K: bk, batch, variant });
      const bHalf = roundTripWeight(b, [b.length], 'f16', 'out_in');
      close(
        await ctx.readF32(out, batch * bm * bn),
        matmulRef(a, bHalf, { M: bm, N: bn, K: bk, batch }),
        bk,
        'f16 batched',
      );
      const w4 = uploadWeightGpu(ctx, b.subarray(0, bk * bn), [bk, bn], 'nf4', 'out_in', 'frozen', 'b4');
      const old = await ctx.readF32(out, batch * bm * bn);
      matmul(ctx, {
        a: ga,
        b: w4.store,
        bFormat: w4.format,
        out,
        M: bm,
        N: bn,
        K: bk,
        batch,
        strideB: 0,
        alpha: -0.5,
        accumulate: true,
        variant,
      });
      const b4 = roundTripWeight(b.subarray(0, bk * bn), [bk, bn], 'nf4', 'out_in');
      const prod = matmulRef(a, b4, { M: bm, N: bn, K: bk, batch, strideB: 0 });
      close(
        await ctx.readF32(out, batch * bm * bn),
        prod.map((v, i) => old[i] - 0.5 * v),
        bk,
        'nf4 broadcast',
      );
      freeAll(ctx, [ga, out]);
      freeWeightGpu(ctx, w.store, w.format);
      freeWeightGpu(ctx, w4.store, w4.format);
    });
  }

  it('reads and writes views into larger buffers (weights inside a flat parameter buffer)', async () => {
    const ctx = await testGpu({ allFeatures: true });
    const [M, N, K] = [5, 6, 7];
    const a = randn(M * K, 1);
    const b = randn(K * N, 2);
    // B sits 256 bytes into a flat buffer, the output 512 bytes into another.
    const flat = new Float64Array(64 + K * N + 3);
    flat.set(b, 64);
    const gflat = up(ctx, flat);
    const ga = up(ctx, a);
    const gout = ctx.arena.alloc(512 + M * N * 4, 'activations', 'out');
    const bView = viewOf(gflat, 256, K * N * 4);
    const outView = viewOf(gout, 512, M * N * 4);
    matmul(ctx, { a: ga, b: bView, out: outView, M, N, K });
    close(await ctx.readF32(outView, M * N), matmulRef(a, b, { M, N, K }), K, 'views');
    expect(() => matmul(ctx, { a: ga, b: bView, out: outView, M, N: N + 1, K })).toThrow(
      `"matmul_${untunedVariant(ctx, 'smallM')}_nn"`,
    );
    freeAll(ctx, [gflat, ga, gout]);
  });

  it('splits a batch past the 65535-workgroup limit into several dispatches', async () => {
    const ctx = await testGpu({ allFeatures: true });
    const batch = ctx.limits.maxComputeWorkgroupsPerDimension + 3;
    const a = randn(batch, 1);
    const b = randn(batch, 2);
    const [ga, gb] = [up(ctx, a), up(ctx, b)];
    const out = ctx.arena.alloc(batch * 4, 'activations', 'out');
    const before = ctx.dispatches;
    matmul(ctx, { a: ga, b: gb, out, M: 1, N: 1, K: 1, batch });
    expect(ctx.dispatches - before).toBe(2);
    close(await ctx.readF32(out, batch), matmulRef(a, b, { M: 1, N: 1, K: 1, batch }), 1, 'big batch');
    freeAll(ctx, [ga, gb, out]);
  });

  it('uses ctx.variants by shape class when no variant is given, GEMV for a few rows, and rejects short buffers', async () => {
    const ctx = await testGpu({ allFeatures: true });
    // M = 40 rows, N = K = 2: class skinnyN (M past SMALL_M and GEMV_MAX_ROWS).
    const [M, N, K] = [40, 2, 2];
    expect(matmulClass(M, N, K)).toBe('skinnyN');
    const a = up(ctx, randn(M * K, 1));
    const b = up(ctx, randn(K * N, 2));
    const out = ctx.arena.alloc(M * N * 4, 'activations', 'out');
    const spy = vi.spyOn(ctx, 'dispatch');
    ctx.variants.set('matmul', 'naive');
    matmul(ctx, { a, b, out, M, N, K });
    // The class's own choice wins over the legacy one-for-all entry.
    ctx.variants.set(matmulVariantKey('skinnyN'), 'lanes');
    matmul(ctx, { a, b, out, M, N, K });
    ctx.variants.delete(matmulVariantKey('skinnyN'));
    ctx.variants.delete('matmul');
    matmul(ctx, { a, b, out, M, N, K, transB: true });
    matmul(ctx, { a, b, out, M, N, K, variant: 'tiled' });
    // Two rows and no variant named: the GEMV path; naming a variant skips it.
    matmul(ctx, { a, b, out, M: 2, N, K });
    matmul(ctx, { a, b, out, M: 2, N, K, variant: 'naive' });
    const labels = spy.mock.calls.map(([d]) => d.kernel.label);
    // Nothing tuned: untunedVariant (SwiftShader, which has quad operations: quadnarrow for skinnyN).
    expect(untunedVariant(ctx, 'skinnyN')).toBe(
      ctx.adapter.software && ctx.features.subgroups ? 'quadnarrow' : 'regblock',
    );
    expect(labels.slice(0, 4)).toEqual([
      'matmul_naive_nn',
      'matmul_lanes_nn',
      `matmul_${untunedVariant(ctx, 'skinnyN')}_nt`,
      'matmul_tiled_nn',
    ]);
    expect(labels[4]).toMatch(/^gemv/);
    expect(labels[5]).toBe('matmul_naive_nn');
    spy.mockRestore();
    await ctx.sync();
    expect(() => matmul(ctx, { a, b, out, M: 80, N: 8, K: 8 })).toThrow(/holds 320 bytes/);
    expect(() => matmul(ctx, { a, b, out, M: 1, N: 1, K: 1, batch: 2, strideOut: 0 })).toThrow(/strideOut/);
    expect(matmulFlops(2, 3, 4, 5)).toBe(240);
    freeAll(ctx, [a, b, out]);
  });

  it('shape classes: few rows, a rank on N or K, transposed A, else square', () => {
    expect(matmulClass(1, 4096, 4096)).toBe('smallM');
    expect(matmulClass(SMALL_M, 4096, 4096)).toBe('smallM');
    expect(matmulClass(SMALL_M + 1, 8, 4096)).toBe('skinnyN');
    expect(matmulClass(512, 4096, SKINNY)).toBe('skinnyK');
    expect(matmulClass(512, 512, 512, true)).toBe('transA');
    expect(matmulClass(512, 512, 512)).toBe('square');
    expect(matmulClass(512, SKINNY + 1, SKINNY + 1)).toBe('square');
  });

  it('tiled4 reads A and B as vec4 where aligned (batched, strided, broadcast, every transpose), else by element', async () => {
    const ctx = await testGpu({ allFeatures: true });
    const [M, N, K, batch] = [20, 36, 44, 3];
    const spy = vi.spyOn(ctx, 'dispatch');
    for (const [transA, transB] of TRANSPOSES) {
      const layouts: MatmulDims[] = [
        { M, N, K, batch, transA, transB },
        { M, N, K, batch, transA, transB, strideB: 0 },
        { M, N, K, batch, transA, transB, strideA: M * K + 8, strideB: K * N + 4 },
        { M, N, K, batch, transA, transB, strideA: M * K + 1 }, // A's items start mid-quad: element reads
      ];
      const cases = layouts.map((d, i) => makeCase(ctx, d, 200 + i));
      for (const c of cases) matmul(ctx, { ...c.dims, a: c.ga, b: c.gb, out: c.out, variant: 'tiled4' });
      for (const [i, c] of cases.entries())
        close(
          await ctx.readF32(c.out, batch * M * N),
          matmulRef(c.a, c.b, c.dims),
          K,
          `${tn(transA)}${tn(transB)} ${i}`,
        );
      for (const c of cases) freeAll(ctx, [c.ga, c.gb, c.out]);
    }
    const labels = spy.mock.calls.map(([d]) => d.kernel.label);
    spy.mockRestore();
    expect(labels).toEqual(
      TRANSPOSES.flatMap(([ta, tb]) => {
        const base = `matmul_tiled4_${tn(ta)}${tn(tb)}`;
        return [`${base}_vab`, `${base}_vab`, `${base}_vab`, `${base}_vb`];
      }),
    );
  });
});

describe('matmul backward', () => {
  it('dA and dB are matmul calls with trans flags (all four layouts, batched)', async () => {
    const ctx = await testGpu({ allFeatures: true });
    const [M, N, K, batch] = [9, 14, 6, 2];
    for (const [transA, transB] of TRANSPOSES) {
      const dims = { M, N, K, transA, transB, batch };
      const a = randn(batch * M * K, 1);
      const b = randn(batch * K * N, 2);
      const dOut = randn(batch * M * N, 3);
      const [ga, gb, gd] = [up(ctx, a), up(ctx, b), up(ctx, dOut)];
      const dA = ctx.arena.alloc(a.length * 4, 'gradients', 'dA');
      const dB = ctx.arena.alloc(b.length * 4, 'gradients', 'dB');
      const common = { batch };
      // dA: for A stored [M,K], dA = dOut·op(B)ᵀ; for A stored [K,M], dAᵀ = op(B)·dOutᵀ.
      if (!transA) matmul(ctx, { ...common, out: dA, a: gd, b: gb, M, N: K, K: N, transB: !transB });
      else matmul(ctx, { ...common, out: dA, a: gb, b: gd, M: K, N: M, K: N, transA: transB, transB: true });
      // dB: for B stored [K,N], dB = op(A)ᵀ·dOut; for B stored [N,K], dBᵀ = dOutᵀ·op(A).
      if (!transB) matmul(ctx, { ...common, out: dB, a: ga, b: gd, M: K, N, K: M, transA: !transA });
      else matmul(ctx, { ...common, out: dB, a: gd, b: ga, M: N, N: K, K: M, transA: true, transB: transA });
      const want = matmulBackwardRef(a, b, dOut, dims);
      close(await ctx.readF32(dA, a.length), want.dA, Math.max(M, N), `dA ${tn(transA)}${tn(transB)}`);
      close(await ctx.readF32(dB, b.length), want.dB, Math.max(M, N), `dB ${tn(transA)}${tn(transB)}`);
      freeAll(ctx, [ga, gb, gd, dA, dB]);
    }
  });

  it('a broadcast weight gradient sums over the batch in one call (rows folded into K)', async () => {
    const ctx = await testGpu({ allFeatures: true });
    const [M, N, K, batch] = [5, 6, 7, 3];
    const dims = { M, N, K, batch, strideB: 0 };
    const a = randn(batch * M * K, 4);
    const b = randn(K * N, 5);
    const dOut = randn(batch * M * N, 6);
    const [ga, gd] = [up(ctx, a), up(ctx, dOut)];
    const dB = ctx.arena.alloc(b.length * 4, 'gradients', 'dB');
    // A [batch·M, K] and dOut [batch·M, N] are dense, so dB = Aᵀ·dOut over all batch·M rows.
    matmul(ctx, { out: dB, a: ga, b: gd, M: K, N, K: batch * M, transA: true });
    close(await ctx.readF32(dB, b.length), matmulBackwardRef(a, b, dOut, dims).dB, batch * M, 'dB');
    freeAll(ctx, [ga, gd, dB]);
  });
});

describe('matmul bindings through the shared planner', () => {
  for (const variant of MATMUL_VARIANTS) {
    it(`${variant}: an input and the output as views of one buffer, and B the same region as A`, async () => {
      const ctx = await testGpu({ allFeatures: true });
      const [M, K] = [6, 5];
      const a = randn(M * K, 7);
      // One flat buffer: A at 0, out 256 bytes in (a gradient written next to the weight it reads).
      const flatData = new Float64Array(64 + M * M);
      flatData.set(a);
      const flat = up(ctx, flatData);
      const aView = viewOf(flat, 0, M * K * 4);
      const outView = viewOf(flat, 256, M * M * 4);
      // out = A·Aᵀ: B is A itself (transB), bound once by the planner.
      matmul(ctx, { a: aView, b: aView, out: outView, M, N: M, K, transB: true, variant });
      close(
        await ctx.readF32(outView, M * M),
        matmulRef(a, a, { M, N: M, K, transB: true }),
        K,
        `${variant} A·Aᵀ in one buffer`,
      );
      const pipelines = ctx.pipelineCount;
      matmul(ctx, { a: aView, b: aView, out: outView, M, N: M, K, transB: true, variant });
      await ctx.sync();
      expect(ctx.pipelineCount).toBe(pipelines);
      freeAll(ctx, [flat]);
    });
  }

  it('refuses the output bound to an input region, naming the kernel', async () => {
    const ctx = await testGpu({ allFeatures: true });
    const g = up(ctx, randn(16, 1));
    expect(() => matmul(ctx, { a: g, b: g, out: g, M: 4, N: 4, K: 4, variant: 'tiled' })).toThrow(
      /"matmul_tiled_nn".*in place/,
    );
    freeAll(ctx, [g]);
  });

  it('the twin entry point matches the GPU with alpha, accumulate and an output stride', async () => {
    const ctx = await testGpu({ allFeatures: true });
    const [M, N, K, batch, strideOut] = [3, 4, 5, 2, 15];
    const a = randn(batch * M * K, 8);
    const b = randn(K * N, 9);
    const out0 = randn(batch * strideOut, 10);
    const args = { M, N, K, batch, strideB: 0, strideOut, alpha: 0.5, accumulate: true };
    const [ga, gb, gout] = [up(ctx, a), up(ctx, b), up(ctx, out0)];
    matmul(ctx, { ...args, a: ga, b: gb, out: gout });
    const want = Float64Array.from(out0);
    matmulTwin({ ...args, a, b, out: want });
    close(await ctx.readF32(gout, want.length), want, K, 'twin vs GPU');
    freeAll(ctx, [ga, gb, gout]);
  });
});

describe('matmul twin backward (central differences)', () => {
  const layouts: MatmulDims[] = [
    { M: 3, N: 4, K: 5 },
    { M: 3, N: 4, K: 5, transA: true },
    { M: 2, N: 3, K: 4, transB: true, batch: 2 },
    { M: 2, N: 3, K: 4, transA: true, transB: true, batch: 3, strideB: 0 },
    { M: 2, N: 3, K: 4, batch: 2, strideA: 0 },
    { M: 1, N: 1, K: 1 },
  ];
  for (const [i, d] of layouts.entries()) {
    it(`layout ${i}: ${JSON.stringify(d)}`, () => {
      const batch = d.batch ?? 1;
      const a = randn(storageLen(d.strideA ?? d.M * d.K, d.M * d.K, batch), 20 + i);
      const b = randn(storageLen(d.strideB ?? d.K * d.N, d.K * d.N, batch), 30 + i);
      const w = randn(batch * d.M * d.N, 40 + i);
      const { dA, dB } = matmulBackwardRef(a, b, w, d);
      expectGradMatches((x) => dot(matmulRef(x, b, d), w), a, dA, 'dA');
      expectGradMatches((x) => dot(matmulRef(a, x, d), w), b, dB, 'dB');
    });
  }
});
