// Tests of the attention tuner: it returns the variant its timer says is fastest (a fake timer answering by
// label makes that deterministic, while the recorded work still runs on the test GPU), leaves ctx.variants
// and the arena as it found them, and leaves out the 'tiled' kernels on a software adapter. No timing
// assertions: which variant wins depends on the machine.
import { describe, expect, it } from 'vitest';
import { testGpu } from '../../test/helpers/gpu';
import { attentionCandidates, timeAttentionVariants, tuneAttention } from './attention-tune';
import type { AttentionDims } from './kernels/attention';

const SMALL: AttentionDims = { B: 1, T: 6, S: 6, Hq: 2, Hkv: 1, D: 8 };

/** A timer that runs the work once and answers from a table by label. */
function fakeTimer(seconds: Record<string, number>, seen: string[]) {
  return async (run: () => void, label?: string) => {
    run();
    seen.push(label ?? '');
    return seconds[label ?? ''] ?? Number.POSITIVE_INFINITY;
  };
}

describe('tuneAttention', () => {
  it('returns the variant the timer says is fastest and restores ctx.variants', async () => {
    const ctx = await testGpu({ allFeatures: true });
    ctx.variants.set('attention', 'rows');
    const live = ctx.arena.stats().liveBuffers;
    for (const fastest of ['rows', 'flash', ...(ctx.features.subgroups ? ['quad' as const] : [])]) {
      const seen: string[] = [];
      const table = {
        'attention/rows': 2,
        'attention/flash': 2,
        'attention/quad': 2,
        'attention/tiled': 3,
        [`attention/${fastest}`]: 1,
      };
      expect(await tuneAttention(ctx, fakeTimer(table, seen))).toBe(fastest);
      expect(seen).toEqual(attentionCandidates(ctx).map((v) => `attention/${v}`));
      expect(ctx.variants.get('attention')).toBe('rows');
    }
    await ctx.sync();
    expect(ctx.arena.stats().liveBuffers).toBe(live);
  });

  it('ranks every candidate at a given shape, fastest first', async () => {
    const ctx = await testGpu({ allFeatures: true });
    ctx.variants.delete('attention');
    const seen: string[] = [];
    const ranked = await timeAttentionVariants(
      ctx,
      fakeTimer({ 'attention/rows': 0.5, 'attention/flash': 0.25 }, seen),
      SMALL,
      ['rows', 'flash'],
    );
    expect(ranked).toEqual([
      { variant: 'flash', seconds: 0.25 },
      { variant: 'rows', seconds: 0.5 },
    ]);
    expect(ctx.variants.has('attention')).toBe(false);
  });

  it("leaves 'tiled' out on a software adapter only", async () => {
    const ctx = await testGpu({ allFeatures: true });
    expect(attentionCandidates(ctx).includes('tiled')).toBe(!ctx.adapter.software);
    expect(attentionCandidates(ctx)).toContain('flash');
  });

  it("offers 'quad' exactly where the subgroups feature is", async () => {
    const ctx = await testGpu({ allFeatures: true });
    expect(attentionCandidates(ctx).includes('quad')).toBe(ctx.features.subgroups);
  });
});
