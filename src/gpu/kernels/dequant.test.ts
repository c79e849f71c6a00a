// Tests of the dequant kernel and of a formatted weight's device life (upload, read back, free): every
// format and both int8 layouts against util/quant.ts's float64 twin, and the exact bytes the arena holds.
import { describe, expect, it } from 'vitest';
import { testGpu } from '../../../test/helpers/gpu';
import { expectClose, randn } from '../../../test/helpers/numeric';
import { BASE_DTYPES, roundTripWeight, weightBytes } from '../../util/quant';
import { dequant, freeWeightGpu, readWeightGpu, uploadWeightGpu } from './dequant';

const align16 = (n: number) => Math.max(16, Math.ceil(n / 16) * 16);

describe('dequant', () => {
  it('widens every format to f32 exactly as the twin dequantizes it; readWeight returns the same values', async () => {
    const ctx = await testGpu();
    const shape = [7, 75]; // 525 elements: NF4 blocks straddle rows, words straddle rows
    const data = randn(7 * 75, 4);
    for (const dtype of BASE_DTYPES)
      for (const layout of dtype === 'int8' ? (['out_in', 'in_out'] as const) : (['out_in'] as const)) {
        const before = ctx.arena.stats().current.frozen;
        const w = uploadWeightGpu(ctx, data, shape, dtype, layout, 'frozen', `w.${dtype}`);
        const bytes = weightBytes(shape, dtype, layout);
        const want = align16(bytes.values) + (bytes.scales ? align16(bytes.scales) : 0);
        expect(ctx.arena.stats().current.frozen - before, `${dtype} bytes`).toBe(want);
        const twin = roundTripWeight(data, shape, dtype, layout);
        const out = ctx.arena.alloc(data.length * 4, 'workspace', 'out');
        dequant(ctx, { out, values: w.store, format: w.format, shape });
        const exact = dtype === 'f32' || dtype === 'f16' || dtype === 'bf16';
        expectClose(await ctx.readF32(out, data.length), twin, exact ? 0 : 2 ** -23, 0, `${dtype} ${layout}`);
        expect(Array.from(await readWeightGpu(ctx, w.store, w.format, data.length))).toEqual(
          Array.from(twin),
        );
        ctx.arena.free(out);
        freeWeightGpu(ctx, w.store, w.format);
        expect(ctx.arena.stats().current.frozen).toBe(before);
      }
  });
});
