// Twin tests of the multi-job matmul (matmul-multi.ts): shared-input jobs of different N, sums of products
// with different K, every transpose pair, alpha, accumulate, an addend (in place too) and a bias, B in
// every stored format, edges where M and N are not multiples of the 64×64 workgroup tile, and the
// refusals (dependent jobs, too many bindings). Shapes stay small: this runs on SwiftShader.
import { describe, expect, it, vi } from 'vitest';
import { testGpu, up } from '../../../test/helpers/gpu';
import { expectClose, randn } from '../../../test/helpers/numeric';
import { roundTripWeight } from '../../util/quant';
import type { GpuBuf } from '../arena';
import { freeWeightGpu, uploadWeightGpu } from './dequant';
import { type MatmulJob, matmulMulti } from './matmul-multi';
import { matmulMultiRef } from './matmul-multi.ref';

// 'quad' (quad operations) where the device has subgroups, as on this machine's SwiftShader.
const STYLES = ['block', 'quad'] as const;

const tol = (K: number) => [1e-4, 1e-5 * Math.sqrt(K)] as const;

describe('matmulMulti', () => {
  for (const style of STYLES) {
    it(`shared input, three outputs of different N (q/k/v), edges past the tile (${style})`, async () => {
      const ctx = await testGpu({ allFeatures: true });
      const [M, K] = [70, 37];
      const Ns = [67, 33, 5];
      const x = randn(M * K, 1);
      const ws = Ns.map((N, i) => randn(N * K, 2 + i));
      const gx = up(ctx, x);
      const gws = ws.map((w) => up(ctx, w));
      const outs = Ns.map((N) => ctx.arena.alloc(M * N * 4, 'activations', 'o'));
      matmulMulti(ctx, {
        style,
        jobs: Ns.map((N, i) => ({ out: outs[i], M, N, terms: [{ a: gx, b: gws[i], K, transB: true }] })),
      });
      for (let i = 0; i < Ns.length; i++) {
        const ref = {
          out: new Float64Array(M * Ns[i]),
          M,
          N: Ns[i],
          terms: [{ a: x, b: ws[i], K, transB: true }],
        };
        matmulMultiRef({ jobs: [ref] as MatmulJob<Float64Array>[] });
        expectClose(await ctx.readF32(outs[i], M * Ns[i]), ref.out, ...tol(K), `job ${i}`);
      }
      for (const b of [gx, ...gws, ...outs]) ctx.arena.free(b);
    });

    for (const transA of [false, true])
      for (const transB of [false, true])
        it(`sum of products, K differing, alpha, accumulate (trans ${transA ? 't' : 'n'}${transB ? 't' : 'n'}, ${style})`, async () => {
          const ctx = await testGpu({ allFeatures: true });
          const [M, N] = [9, 66];
          const Ks = [13, 70, 3];
          const as = Ks.map((K, i) => randn(M * K, 10 + i));
          const bs = Ks.map((K, i) => randn(K * N, 20 + i));
          const alphas = [1, 0.5, -2];
          const init = randn(M * N, 30);
          const ga = as.map((a) => up(ctx, a));
          const gb = bs.map((b) => up(ctx, b));
          const out = up(ctx, init);
          matmulMulti(ctx, {
            style,
            jobs: [
              {
                out,
                M,
                N,
                accumulate: true,
                terms: Ks.map((K, i) => ({ a: ga[i], b: gb[i], K, transA, transB, alpha: alphas[i] })),
              },
            ],
          });
          const ref = {
            out: Float64Array.from(init),
            M,
            N,
            accumulate: true,
            terms: Ks.map((K, i) => ({ a: as[i], b: bs[i], K, transA, transB, alpha: alphas[i] })),
          };
          matmulMultiRef({ jobs: [ref] });
          expectClose(await ctx.readF32(out, M * N), ref.out, ...tol(70), 'sum');
          for (const b of [...ga, ...gb, out]) ctx.arena.free(b);
        });

    it(`addend (separate and in place) and bias, beside an independent job (${style})`, async () => {
      const ctx = await testGpu({ allFeatures: true });
      const [M, N, K] = [65, 20, 31];
      const a = randn(M * K, 40);
      const w = randn(N * K, 41);
      const r = randn(M * N, 42);
      const bias = randn(N, 43);
      const r2 = randn(M * N, 44);
      const [ga, gw, gr, gbias, gr2] = [a, w, r, bias, r2].map((v) => up(ctx, v));
      const out = ctx.arena.alloc(M * N * 4, 'activations', 'o');
      matmulMulti(ctx, {
        style,
        jobs: [
          { out, M, N, addend: gr, bias: gbias, terms: [{ a: ga, b: gw, K, transB: true }] },
          // In place: out = out + a·W (the addend is the output itself).
          { out: gr2, M, N, addend: gr2, terms: [{ a: ga, b: gw, K, transB: true, alpha: 3 }] },
        ],
      });
      const j0 = {
        out: new Float64Array(M * N),
        M,
        N,
        addend: r,
        bias,
        terms: [{ a, b: w, K, transB: true }],
      };
      const j1 = {
        out: new Float64Array(M * N),
        M,
        N,
        addend: r2,
        terms: [{ a, b: w, K, transB: true, alpha: 3 }],
      };
      matmulMultiRef({ jobs: [j0, j1] });
      expectClose(await ctx.readF32(out, M * N), j0.out, ...tol(K), 'addend+bias');
      expectClose(await ctx.readF32(gr2, M * N), j1.out, ...tol(K), 'in place');
      for (const b of [ga, gw, gr, gbias, gr2, out]) ctx.arena.free(b);
    });
  }

  it('quad style on whole tiles (unchecked stores): sums, accumulate, addend, bias, a narrow job', async () => {
    const ctx = await testGpu({ allFeatures: true });
    // 128 rows and N a multiple of 32 (8 for the narrow job): every job's output is whole quad tiles.
    const [M, K1, K2] = [128, 12, 40];
    const a1 = randn(M * K1, 60);
    const a2 = randn(K2 * M, 61); // stored [K, M]: transA
    const w1 = randn(64 * K1, 62);
    const w2 = randn(K2 * 64, 63);
    const wn = randn(8 * K1, 64);
    const init = randn(M * 64, 65);
    const r = randn(M * 8, 66);
    const bias = randn(8, 67);
    const [ga1, ga2, gw1, gw2, gwn, gr, gbias] = [a1, a2, w1, w2, wn, r, bias].map((v) => up(ctx, v));
    const out = up(ctx, init);
    const outN = ctx.arena.alloc(M * 8 * 4, 'activations', 'o');
    const spy = vi.spyOn(ctx, 'dispatch');
    matmulMulti(ctx, {
      style: 'quad',
      jobs: [
        {
          out,
          M,
          N: 64,
          accumulate: true,
          terms: [
            { a: ga1, b: gw1, K: K1, transB: true, alpha: 0.5 },
            { a: ga2, b: gw2, K: K2, transA: true },
          ],
        },
        { out: outN, M, N: 8, addend: gr, bias: gbias, terms: [{ a: ga1, b: gwn, K: K1, transB: true }] },
      ],
    });
    const kernel = spy.mock.calls[0][0].kernel;
    spy.mockRestore();
    // Both jobs took the unchecked stores: no edge test in the shader text.
    expect(kernel.code).not.toMatch(/if \(m0 \+ \d+u < p\.m/);
    const j0 = {
      out: Float64Array.from(init),
      M,
      N: 64,
      accumulate: true,
      terms: [
        { a: a1, b: w1, K: K1, transB: true, alpha: 0.5 },
        { a: a2, b: w2, K: K2, transA: true },
      ],
    };
    const j1 = {
      out: new Float64Array(M * 8),
      M,
      N: 8,
      addend: r,
      bias,
      terms: [{ a: a1, b: wn, K: K1, transB: true }],
    };
    matmulMultiRef({ jobs: [j0, j1] });
    expectClose(await ctx.readF32(out, M * 64), j0.out, ...tol(K2), 'whole tiles, sum');
    expectClose(await ctx.readF32(outN, M * 8), j1.out, ...tol(K1), 'whole tiles, narrow');
    for (const b of [ga1, ga2, gw1, gw2, gwn, gr, gbias, out, outN]) ctx.arena.free(b);
  });

  it('B stored f16/bf16/int8/nf4 (both transposes) against the twin of the stored values', async () => {
    const ctx = await testGpu({ allFeatures: true });
    const [M, N, K] = [10, 67, 70];
    const a = randn(M * K, 50);
    const ga = up(ctx, a);
    for (const dtype of ['f16', 'bf16', 'int8', 'nf4'] as const)
      for (const transB of [false, true]) {
        const b = randn(K * N, 51);
        const shape = transB ? [N, K] : [K, N];
        const bq = roundTripWeight(b, shape, dtype, 'out_in');
        const wq = uploadWeightGpu(ctx, b, shape, dtype, 'out_in', 'frozen', 'bq');
        const b2 = randn(K * N, 52);
        const gb2 = up(ctx, b2);
        const out = ctx.arena.alloc(M * N * 4, 'activations', 'o');
        matmulMulti(ctx, {
          jobs: [
            {
              out,
              M,
              N,
              terms: [
                { a: ga, b: wq.store, bFormat: wq.format, K, transB },
                { a: ga, b: gb2, K },
              ],
            },
          ],
        });
        const ref = {
          out: new Float64Array(M * N),
          M,
          N,
          terms: [
            { a, b: bq, K, transB },
            { a, b: b2, K },
          ],
        };
        matmulMultiRef({ jobs: [ref] });
        expectClose(await ctx.readF32(out, M * N), ref.out, ...tol(K), `${dtype} t${transB}`);
        freeWeightGpu(ctx, wq.store, wq.format);
        for (const x of [gb2, out]) ctx.arena.free(x);
      }
    ctx.arena.free(ga);
  });

  it('refuses dependent jobs and a term reading its own output', async () => {
    const ctx = await testGpu({ allFeatures: true });
    const [M, N, K] = [4, 4, 4];
    const bufs: GpuBuf[] = [0, 1, 2].map(() => up(ctx, randn(16, 60)));
    const [x, y, z] = bufs;
    expect(() =>
      matmulMulti(ctx, {
        jobs: [
          { out: y, M, N, terms: [{ a: x, b: x, K }] },
          { out: z, M, N, terms: [{ a: y, b: x, K }] },
        ],
      }),
    ).toThrow(/independent/);
    expect(() => matmulMulti(ctx, { jobs: [{ out: x, M, N, terms: [{ a: x, b: y, K }] }] })).toThrow(
      /in place/,
    );
    for (const b of bufs) ctx.arena.free(b);
  });
});
