// Picks the attention variant for this adapter: times the forward and backward of each candidate variant
// (kernels/attention.ts ATTENTION_VARIANTS) on one representative training shape and returns the fastest
// name. The caller (the autotune, autotune.ts) stores it under 'attention' in ctx.variants and caches it per
// adapter; this file only measures. The timer is the autotune's (GPU timestamps where available), so the
// figure excludes recording time. ctx.variants is restored afterwards, whatever happens.

import type { GpuContext } from './context';
import {
  ATTENTION_VARIANTS,
  type AttentionDims,
  type AttentionVariant,
  attention,
  attentionBackward,
} from './kernels/attention';

/** A training-sized causal shape with GQA (two query heads per kv head), small enough for a software GPU. */
export const ATTENTION_TUNE_DIMS: AttentionDims = { B: 2, T: 128, S: 128, Hq: 4, Hkv: 2, D: 64 };

/**
 * The variants worth timing here: on a software adapter (SwiftShader) the workgroup-memory 'tiled' kernels
 * are slowest (barriers are what it is worst at) and take seconds each to compile, so they are left out;
 * 'quad' needs the `subgroups` feature (quad swaps).
 */
export function attentionCandidates(ctx: GpuContext): AttentionVariant[] {
  return ATTENTION_VARIANTS.filter(
    (v) => !(ctx.adapter.software && v === 'tiled') && !(v === 'quad' && !ctx.features.subgroups),
  );
}

/**
 * Seconds per forward+backward of each candidate at `dims`, fastest first. `timeSeconds` runs the recorded
 * work and returns seconds per call; its label ('attention/<variant>') lets test fakes answer by name.
 */
export async function timeAttentionVariants(
  ctx: GpuContext,
  timeSeconds: (run: () => void, label?: string) => Promise<number>,
  dims: AttentionDims = ATTENTION_TUNE_DIMS,
  candidates: readonly AttentionVariant[] = attentionCandidates(ctx),
): Promise<Array<{ variant: AttentionVariant; seconds: number }>> {
  const { B, T, S, Hq, Hkv, D } = dims;
  const qn = B * T * Hq * D;
  const kn = B * S * Hkv * D;
  const fill = (n: number, seed: number) =>
    Float32Array.from({ length: n }, (_, i) => Math.sin(i * 0.37 + seed));
  const q = ctx.upload(fill(qn, 1), 'workspace', 'tune-attention.q');
  const k = ctx.upload(fill(kn, 2), 'workspace', 'tune-attention.k');
  const v = ctx.upload(fill(kn, 3), 'workspace', 'tune-attention.v');
  const dOut = ctx.upload(fill(qn, 4), 'workspace', 'tune-attention.dout');
  const out = ctx.arena.alloc(qn * 4, 'workspace', 'tune-attention.out');
  const lse = ctx.arena.alloc(B * Hq * T * 4, 'workspace', 'tune-attention.lse');
  const dq = ctx.arena.alloc(qn * 4, 'workspace', 'tune-attention.dq');
  const dk = ctx.arena.alloc(kn * 4, 'workspace', 'tune-attention.dk');
  const dv = ctx.arena.alloc(kn * 4, 'workspace', 'tune-attention.dv');
  const before = ctx.variants.get('attention');
  const results: Array<{ variant: AttentionVariant; seconds: number }> = [];
  try {
    for (const variant of candidates) {
      ctx.variants.set('attention', variant);
      const step = () => {
        attention(ctx, { ...dims, out, lse, q, k, v });
        attentionBackward(ctx, { ...dims, dq, dk, dv, dOut, q, k, v, out, lse });
      };
      results.push({ variant, seconds: await timeSeconds(step, `attention/${variant}`) });
    }
  } finally {
    if (before === undefined) ctx.variants.delete('attention');
    else ctx.variants.set('attention', before);
    for (const r of [q, k, v, dOut, out, lse, dq, dk, dv]) ctx.arena.free(r);
  }
  return results.sort((a, b) => a.seconds - b.seconds);
}

/** The fastest attention variant on this adapter, for ctx.variants.set('attention', …). */
export async function tuneAttention(
  ctx: GpuContext,
  timeSeconds: (run: () => void, label?: string) => Promise<number>,
): Promise<string> {
  const ranked = await timeAttentionVariants(ctx, timeSeconds);
  const best = ranked.find((r) => Number.isFinite(r.seconds) && r.seconds > 0);
  return best ? best.variant : 'rows';
}
