// Tests for embedding.ts: lookup from f32 tables and from frozen tables in every stored format (odd dims,
// so rows straddle u32 words and NF4 blocks),
// accumulate, the position-table case, and the atomics-free backward with repeated ids against the twin;
// the twin's backward against central differences; a table uploaded in row parts (rowOffset/rows: ids
// outside a part write nothing) gives exactly what the whole table gives, in every format.
import { describe, expect, it } from 'vitest';
import { testGpu, up } from '../../../test/helpers/gpu';
import { dot, expectClose, expectGradMatches, randn, rng } from '../../../test/helpers/numeric';
import { BASE_DTYPES, roundTripWeight } from '../../util/quant';
import { freeWeightGpu, uploadWeightGpu } from './dequant';
import { embedding, embeddingBackward, embeddingGradPlan } from './embedding';
import { embeddingBackwardRef, embeddingRef, embeddingTwin } from './embedding.ref';

/** N ids in [0, V) drawn from a few hot values so most ids repeat. */
function randomIds(N: number, V: number, seed: number): Int32Array {
  const r = rng(seed);
  const hot = Math.max(1, Math.min(V, 4));
  return Int32Array.from({ length: N }, () => Math.floor(r() * (r() < 0.6 ? hot : V)));
}

const SHAPES: Array<[number, number, number]> = [
  [1, 1, 1],
  [5, 7, 3],
  [33, 50, 65],
  [300, 100, 17],
];

describe('embedding forward', () => {
  for (const [N, V, dim] of SHAPES) {
    it(`matches the twin (N=${N}, V=${V}, dim=${dim}), every table format, plain and accumulate`, async () => {
      const ctx = await testGpu();
      const table = randn(V * dim, V + dim);
      const ids = randomIds(N, V, N);
      const gTable = up(ctx, table, 'frozen');
      const gIds = ctx.upload(ids, 'activations', 'ids');
      const out = ctx.arena.alloc(N * dim * 4, 'activations', 'out');
      embedding(ctx, { out, table: gTable, ids: gIds, N, dim });
      expectClose(
        await ctx.readF32(out, N * dim),
        embeddingRef(Float32Array.from(table), ids, dim),
        0,
        0,
        'f32',
      );
      // Each format against the twin of what it stores: f16/bf16 values are exact in f32; int8 (per-row
      // scales, as the tied head reads the table) and nf4 are one f32 product, so within an f32 rounding.
      for (const dtype of BASE_DTYPES)
        for (const layout of dtype === 'int8' ? (['out_in', 'in_out'] as const) : (['out_in'] as const)) {
          const w = uploadWeightGpu(ctx, table, [V, dim], dtype, layout, 'frozen', `table.${dtype}`);
          embedding(ctx, { out, table: w.store, tableFormat: w.format, ids: gIds, N, dim });
          const want = embeddingRef(roundTripWeight(table, [V, dim], dtype, layout), ids, dim);
          const exact = dtype === 'f32' || dtype === 'f16' || dtype === 'bf16';
          expectClose(await ctx.readF32(out, N * dim), want, exact ? 0 : 2 ** -23, 0, `${dtype} ${layout}`);
          freeWeightGpu(ctx, w.store, w.format);
        }
      const halves = roundTripWeight(table, [V, dim], 'f16', 'out_in');
      const w16 = uploadWeightGpu(ctx, table, [V, dim], 'f16', 'out_in', 'frozen', 'table16');
      embedding(ctx, { out, table: w16.store, tableFormat: w16.format, ids: gIds, N, dim });
      // accumulate adds the f32 rows on top (GPT-2: token embedding + position embedding).
      embedding(ctx, { out, table: gTable, ids: gIds, N, dim, accumulate: true });
      const sum = embeddingRef(halves, ids, dim).map(
        (h, i) => h + Math.fround(table[ids[Math.floor(i / dim)] * dim + (i % dim)]),
      );
      expectClose(await ctx.readF32(out, N * dim), sum, 1e-6, 0, 'accumulate');
      freeWeightGpu(ctx, w16.store, w16.format);
      for (const b of [gTable, gIds, out]) ctx.arena.free(b);
      expect(ctx.arena.stats().liveBuffers).toBe(0);
    });
  }

  it('a table in row parts gives exactly the whole table, every format, plain and accumulate (GPU and twin)', async () => {
    const ctx = await testGpu();
    // Parts start on whole u32 words and NF4 blocks (8 rows of 24 = 3 blocks), as frozenPartRows makes them.
    const [V, dim, N] = [48, 24, 61];
    const parts: Array<[number, number]> = [
      [0, 24],
      [24, 16],
      [40, 8],
    ];
    const table = randn(V * dim, 41);
    const ids = randomIds(N, V, 9);
    ids.set([0, V - 1, 23, 24, 39, 40]);
    const gIds = ctx.upload(ids, 'activations', 'ids');
    const prior = randn(N * dim, 3);
    const out = up(ctx, prior, 'activations');
    for (const dtype of BASE_DTYPES) {
      const whole = uploadWeightGpu(ctx, table, [V, dim], dtype, 'out_in', 'frozen', 'whole');
      const pieces = parts.map(([r0, rows]) =>
        uploadWeightGpu(
          ctx,
          table.subarray(r0 * dim, (r0 + rows) * dim),
          [rows, dim],
          dtype,
          'out_in',
          'frozen',
          'part',
        ),
      );
      for (const accumulate of [false, true]) {
        ctx.write(out, Float32Array.from(prior));
        embedding(ctx, { out, table: whole.store, tableFormat: whole.format, ids: gIds, N, dim, accumulate });
        const want = await ctx.readF32(out, N * dim);
        // Poisoned first: a position no part writes would show.
        if (!accumulate) ctx.write(out, new Float32Array(N * dim).fill(Number.NaN));
        else ctx.write(out, Float32Array.from(prior));
        for (const [i, [rowOffset, rows]] of parts.entries()) {
          const p = pieces[i];
          embedding(ctx, {
            out,
            table: p.store,
            tableFormat: p.format,
            ids: gIds,
            N,
            dim,
            accumulate,
            rowOffset,
            rows,
          });
        }
        expect(Array.from(await ctx.readF32(out, N * dim)), `${dtype} accumulate=${accumulate}`).toEqual(
          Array.from(want),
        );
      }
      freeWeightGpu(ctx, whole.store, whole.format);
      for (const p of pieces) freeWeightGpu(ctx, p.store, p.format);
    }
    // The twin: each part writes only its ids; together they are the whole lookup.
    const got = new Float64Array(N * dim).fill(Number.NaN);
    for (const [rowOffset, rows] of parts) {
      const t = table.subarray(rowOffset * dim, (rowOffset + rows) * dim);
      embeddingTwin({ out: got, table: t, ids, idsCpu: ids, N, dim, rowOffset, rows });
    }
    expect(Array.from(got)).toEqual(Array.from(embeddingRef(table, ids, dim)));
    for (const b of [gIds, out]) ctx.arena.free(b);
    expect(ctx.arena.stats().liveBuffers).toBe(0);
  });

  it('looks up a position table with ids = positions', async () => {
    const ctx = await testGpu();
    const [P, T, dim] = [40, 37, 9];
    const wpe = randn(P * dim, 5);
    const pos = Int32Array.from({ length: T }, (_, i) => i);
    const gw = up(ctx, wpe);
    const gp = ctx.upload(pos, 'activations', 'pos');
    const out = ctx.arena.alloc(T * dim * 4, 'activations', 'out');
    embedding(ctx, { out, table: gw, ids: gp, N: T, dim });
    expectClose(await ctx.readF32(out, T * dim), Float32Array.from(wpe).subarray(0, T * dim), 0, 0, 'wpe');
    for (const b of [gw, gp, out]) ctx.arena.free(b);
  });
});

describe('embedding backward', () => {
  it('the twin matches central differences', () => {
    const [N, V, dim] = [9, 6, 4];
    const ids = randomIds(N, V, 3);
    const table = randn(V * dim, 1);
    const w = randn(N * dim, 2);
    const f = (t: Float64Array) => dot(w, embeddingRef(t, ids, dim));
    expectGradMatches(f, table, embeddingBackwardRef(w, ids, V, dim), 'dTable');
  });

  for (const [N, V, dim] of SHAPES) {
    it(`matches the twin with repeated ids (N=${N}, V=${V}, dim=${dim}), accumulating into dTable`, async () => {
      const ctx = await testGpu();
      const ids = randomIds(N, V, N + 1);
      const dOut = randn(N * dim, 7);
      const prior = randn(V * dim, 8);
      const gd = up(ctx, dOut);
      const dTable = up(ctx, prior, 'gradients');
      const plan = embeddingGradPlan(ctx, ids);
      expect(plan.N).toBe(N);
      expect(plan.unique).toBe(new Set(ids).size);
      embeddingBackward(ctx, { dTable, dOut: gd, plan, dim });
      const ref = embeddingBackwardRef(Float32Array.from(dOut), ids, V, dim).map(
        (g, i) => g + Math.fround(prior[i]),
      );
      const got = await ctx.readF32(dTable, V * dim);
      expectClose(got, ref, 1e-5, 1e-5, 'dTable');
      // Deterministic: a second identical pass adds exactly the same increments.
      ctx.write(dTable, Float32Array.from(prior));
      embeddingBackward(ctx, { dTable, dOut: gd, plan, dim });
      expect(await ctx.readF32(dTable, V * dim)).toEqual(got);
      plan.free();
      plan.free(); // idempotent
      expect(() => embeddingBackward(ctx, { dTable, dOut: gd, plan, dim })).toThrow(/already freed/);
      ctx.arena.free(gd);
      ctx.arena.free(dTable);
      expect(ctx.arena.stats().liveBuffers).toBe(0);
    });
  }

  it('one id repeated many times sums in order; an empty batch is a no-op', async () => {
    const ctx = await testGpu();
    const [N, dim] = [1000, 3];
    const ids = new Int32Array(N).fill(2);
    const dOut = randn(N * dim, 11);
    const gd = up(ctx, dOut);
    const dTable = up(ctx, new Float64Array(4 * dim), 'gradients');
    const plan = embeddingGradPlan(ctx, ids);
    expect(plan.unique).toBe(1);
    embeddingBackward(ctx, { dTable, dOut: gd, plan, dim });
    expectClose(
      await ctx.readF32(dTable, 4 * dim),
      embeddingBackwardRef(Float32Array.from(dOut), ids, 4, dim),
      1e-5,
      1e-5,
      'hot id',
    );
    plan.free();
    const empty = embeddingGradPlan(ctx, new Int32Array(0));
    expect(empty.unique).toBe(0);
    embeddingBackward(ctx, { dTable, dOut: gd, plan: empty, dim });
    empty.free();
    expect(() => embeddingGradPlan(ctx, Int32Array.from([0, -100]))).toThrow(/negative/);
    ctx.arena.free(gd);
    ctx.arena.free(dTable);
    expect(ctx.arena.stats().liveBuffers).toBe(0);
  });
});
