// Tests of the GEMV path (gemv.ts) against matmul's float64 twin (matmul.ref.ts): every row count up to
// GEMV_MAX_ROWS and every transpose, at sizes that take the vector path (K or N a multiple of 4) and the scalar
// one; B in every frozen-weight format on both paths; batches with gaps and broadcast, accumulate and alpha;
// and the calls it must leave to matmul. Shapes stay small: this runs on SwiftShader.
import { describe, expect, it } from 'vitest';
import { testGpu, up } from '../../../test/helpers/gpu';
import { expectClose, randn } from '../../../test/helpers/numeric';
import { roundTripWeight } from '../../util/quant';
import type { GpuBuf } from '../arena';
import type { GpuContext } from '../context';
import { freeWeightGpu, uploadWeightGpu } from './dequant';
import { GEMV_MAX_ROWS, gemv } from './gemv';
import { type MatmulDims, matmulRef } from './matmul.ref';

/** f32 tolerance: sums of K products of unit normals have error ~ K·2^-24·|terms|. */
const close = (got: ArrayLike<number>, want: ArrayLike<number>, K: number, what: string) =>
  expectClose(got, want, 1e-4, 1e-5 * Math.max(1, Math.sqrt(K)), what);

const freeAll = (ctx: GpuContext, bufs: GpuBuf[]) => {
  for (const b of bufs) ctx.arena.free(b);
};

const storageLen = (stride: number, size: number, batch: number) => (batch - 1) * stride + size;

/** Runs gemv on random A and B for dims (asserting it took the call) and compares with the twin. */
async function check(ctx: GpuContext, dims: MatmulDims, seed: number, what: string): Promise<void> {
  const { M, N, K } = dims;
  const batch = dims.batch ?? 1;
  const a = randn(storageLen(dims.strideA ?? M * K, M * K, batch), seed);
  const b = randn(storageLen(dims.strideB ?? K * N, K * N, batch), seed + 1);
  const ga = up(ctx, a);
  const gb = up(ctx, b);
  const out = ctx.arena.alloc(batch * M * N * 4, 'activations', 'out');
  expect(gemv(ctx, { ...dims, a: ga, b: gb, out }), what).toBe(true);
  close(await ctx.readF32(out, batch * M * N), matmulRef(a, b, dims), K, what);
  freeAll(ctx, [ga, gb, out]);
}

describe('gemv against the twin', () => {
  // K = 68 / N = 68: the vector path for transposed / plain B (N = 67, K = 68: its last four columns ragged);
  // 67: the scalar path.
  for (const [N, K] of [
    [20, 32],
    [67, 68],
    [68, 68],
    [67, 67],
    [5, 3],
  ])
    it(`every row count and transpose, N=${N} K=${K}`, async () => {
      const ctx = await testGpu();
      for (const M of [1, 2, 3, GEMV_MAX_ROWS])
        for (const transA of [false, true])
          for (const transB of [false, true])
            await check(ctx, { M, N, K, transA, transB }, M * 10 + N, `M=${M} t${+transA}${+transB}`);
      expect(ctx.arena.stats().liveBuffers).toBe(0);
    });

  it('the LM head shape of a decode step (one row, a wide transposed B)', async () => {
    const ctx = await testGpu();
    await check(ctx, { M: 1, N: 1000, K: 256, transB: true }, 5, 'head');
  });

  it('batched: gaps between items and broadcast B, on both paths', async () => {
    const ctx = await testGpu();
    const [M, N, K, batch] = [2, 8, 12, 3];
    const layouts: MatmulDims[] = [
      { M, N, K, batch },
      { M, N, K, batch, transB: true },
      { M, N, K, batch, strideB: 0, transB: true }, // one weight shared by every item
      { M, N, K, batch, strideA: M * K + 4, strideB: K * N + 8, transB: true }, // aligned gaps: vector path
      { M, N, K, batch, strideA: M * K + 5, strideB: K * N + 3 }, // odd gaps: scalar path
      { M, N, K, batch, strideA: 0, transA: true, transB: true },
    ];
    for (const [i, d] of layouts.entries()) await check(ctx, d, 100 + i, `layout ${i}`);
  });

  it('accumulate and alpha, with an output stride', async () => {
    const ctx = await testGpu();
    const [M, N, K, batch] = [3, 12, 16, 2];
    const strideOut = M * N + 4;
    const a = randn(batch * M * K, 1);
    const b = randn(batch * K * N, 2);
    const old = randn(batch * strideOut, 3);
    const ga = up(ctx, a);
    const gb = up(ctx, b);
    for (const transB of [false, true]) {
      const out = up(ctx, old);
      const dims = { M, N, K, batch, transB, strideOut };
      const prod = matmulRef(a, b, dims);
      expect(gemv(ctx, { ...dims, a: ga, b: gb, out, alpha: 0.5, accumulate: true })).toBe(true);
      const expected = Float64Array.from(old);
      for (let t = 0; t < batch; t++)
        for (let i = 0; i < M * N; i++) expected[t * strideOut + i] += 0.5 * prod[t * M * N + i];
      close(await ctx.readF32(out, batch * strideOut), expected, K, `accumulate t${+transB}`);
      freeAll(ctx, [out]);
    }
    freeAll(ctx, [ga, gb]);
  });

  it('B stored f16/bf16/int8/nf4 (both layouts, both transposes, both paths) against the twin', async () => {
    const ctx = await testGpu();
    // Past 64 so NF4 blocks straddle rows; 68 takes the vector path (N = 67, K = 72: ragged last columns with B
    // transposed), 67 and 70 the scalar one.
    for (const [N, K] of [
      [67, 72],
      [68, 68],
      [67, 70],
    ])
      for (const M of [1, 3])
        for (const dtype of ['f16', 'bf16', 'int8', 'nf4'] as const)
          for (const transB of [false, true])
            for (const layout of dtype === 'int8' ? (['out_in', 'in_out'] as const) : (['out_in'] as const)) {
              const a = randn(M * K, 7);
              const b = randn(K * N, 8);
              const shape = transB ? [N, K] : [K, N];
              // The twin of the quantized product: the float64 values of exactly what is stored.
              const bq = roundTripWeight(b, shape, dtype, layout);
              const ga = up(ctx, a);
              const w = uploadWeightGpu(ctx, b, shape, dtype, layout, 'frozen', 'bq');
              const out = ctx.arena.alloc(M * N * 4, 'activations', 'out');
              const what = `${dtype} ${layout} M=${M} N=${N} K=${K} t${+transB}`;
              expect(gemv(ctx, { a: ga, b: w.store, bFormat: w.format, out, M, N, K, transB }), what).toBe(
                true,
              );
              const got = await ctx.readF32(out, M * N);
              close(got, matmulRef(a, bq, { M, N, K, transB }), K, what);
              // The quantization is visible: the twin of the unquantized product differs (the test can fail).
              if (dtype !== 'f16') {
                const far = matmulRef(a, b, { M, N, K, transB });
                expect(Math.max(...Array.from(got, (g, i) => Math.abs(g - far[i])))).toBeGreaterThan(1e-3);
              }
              freeAll(ctx, [ga, out]);
              freeWeightGpu(ctx, w.store, w.format);
            }
  });

  it('leaves to matmul what it does not take, recording nothing', async () => {
    const ctx = await testGpu();
    const [M, N, K] = [GEMV_MAX_ROWS + 1, 8, 8];
    const ga = up(ctx, randn(M * K, 1));
    const gb = up(ctx, randn(K * N, 2));
    const out = ctx.arena.alloc(M * N * 4, 'activations', 'out');
    const before = ctx.dispatches;
    expect(gemv(ctx, { a: ga, b: gb, out, M, N, K })).toBe(false); // too many rows
    expect(gemv(ctx, { a: ga, b: gb, out: ga, M: 1, N: 8, K: 8 })).toBe(false); // in place
    expect(gemv(ctx, { a: ga, b: gb, out, M: 1, N: 8, K: 9 })).toBe(false); // B too small
    ctx.variants.set('gemv', 'off');
    expect(gemv(ctx, { a: ga, b: gb, out, M: 1, N, K })).toBe(false); // turned off
    ctx.variants.delete('gemv');
    expect(ctx.dispatches).toBe(before);
    freeAll(ctx, [ga, gb, out]);
  });
});
