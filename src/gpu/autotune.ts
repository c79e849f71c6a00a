// Per-adapter autotune: times each matmul variant once per adapter and records the fastest in
// ctx.variants ('matmul' → 'naive' | 'regblock' | 'tiled'), which matmul() reads when a call names no
// variant. The result is cached under a key naming the adapter and AUTOTUNE_VERSION, so later starts skip
// the timing. Cache backends: localStorage (browser) and a JSON file (Node); callers pick one.
// Kernels themselves live in kernels/; this file only measures and remembers.

import type { GpuContext } from './context';
import { isMatmulVariant, type MatmulArgs, type MatmulVariant, matmul } from './kernels/matmul';

/** Bump when kernels change enough that an old choice should be re-measured. */
export const AUTOTUNE_VERSION = 1;

const TUNE_ORDER: readonly MatmulVariant[] = ['regblock', 'tiled', 'naive'];

export interface AutotuneCache {
  get(key: string): Promise<string | null> | string | null;
  set(key: string, value: string): Promise<void> | void;
}

/** The cache key: version plus everything the adapter says about itself. */
export function autotuneKey(ctx: GpuContext): string {
  const a = ctx.adapter;
  return `peft-playground/autotune/v${AUTOTUNE_VERSION}/${a.runtime}/${a.vendor}/${a.architecture}/${a.device}/${a.description}`;
}

/** A cached value is a JSON object of op → variant; anything else (or an unknown variant) is ignored. */
function parseCached(value: string | null): Record<string, string> | null {
  if (!value) return null;
  try {
    const parsed: unknown = JSON.parse(value);
    if (typeof parsed !== 'object' || parsed === null) return null;
    const matmulChoice = (parsed as Record<string, unknown>).matmul;
    if (!isMatmulVariant(matmulChoice)) return null;
    return { matmul: matmulChoice };
  } catch {
    return null;
  }
}

/**
 * Software adapters run ~0.1-3 GFLOP/s, so a small problem keeps the whole tune well under 2 s there;
 * real GPUs need a larger one, repeated, for the work to outweigh the submit-and-wait latency.
 */
function tuneSize(ctx: GpuContext): { n: number; reps: number; runs: number } {
  return ctx.adapter.software ? { n: 128, reps: 1, runs: 3 } : { n: 512, reps: 8, runs: 3 };
}

/** Seconds per matmul of one variant: a warm-up (compiles the pipeline), then the best of a few runs. */
async function timeVariant(
  ctx: GpuContext,
  variant: MatmulVariant,
  bufs: Pick<MatmulArgs, 'a' | 'b' | 'out'>,
  size: { n: number; reps: number; runs: number },
  bestSoFar: number,
): Promise<number> {
  const { n, reps, runs } = size;
  const call = () => matmul(ctx, { ...bufs, M: n, N: n, K: n, variant });
  call();
  await ctx.sync();
  let best = Number.POSITIVE_INFINITY;
  for (let r = 0; r < runs; r++) {
    const t0 = performance.now();
    for (let i = 0; i < reps; i++) call();
    await ctx.sync();
    best = Math.min(best, (performance.now() - t0) / reps);
    // Clearly slower than a variant already timed: more runs cannot change the choice.
    if (best > 2 * bestSoFar * 1000) break;
  }
  return best / 1000;
}

/**
 * Chooses kernel variants for this adapter and sets them on ctx.variants. With a cache holding a valid
 * choice for this adapter it dispatches nothing; otherwise it measures and stores the result.
 * Returns op → variant (today only 'matmul').
 */
export async function autotune(ctx: GpuContext, cache?: AutotuneCache): Promise<Record<string, string>> {
  const key = autotuneKey(ctx);
  const cached = cache ? parseCached(await cache.get(key)) : null;
  if (cached) {
    for (const [op, v] of Object.entries(cached)) ctx.variants.set(op, v);
    return cached;
  }

  const size = tuneSize(ctx);
  const { n } = size;
  // Deterministic, bounded data: the timing must not depend on denormals or infinities.
  const data = Float32Array.from({ length: n * n }, (_, i) => ((i * 7919) % 255) / 255 - 0.5);
  const a = ctx.upload(data, 'workspace', 'autotune-a');
  const b = ctx.upload(data, 'workspace', 'autotune-b');
  const out = ctx.arena.alloc(n * n * 4, 'workspace', 'autotune-out');
  let best: MatmulVariant = 'regblock';
  let bestTime = Number.POSITIVE_INFINITY;
  try {
    // The likely winners first, so a slow variant can stop after one run (see timeVariant).
    for (const variant of TUNE_ORDER) {
      const t = await timeVariant(ctx, variant, { a, b, out }, size, bestTime);
      if (t < bestTime) {
        bestTime = t;
        best = variant;
      }
    }
  } finally {
    for (const buf of [a, b, out]) ctx.arena.free(buf);
  }

  const result = { matmul: best };
  ctx.variants.set('matmul', best);
  if (cache) await cache.set(key, JSON.stringify(result));
  return result;
}

/** Browser cache in localStorage; a no-op where it is missing or throws (workers, private modes). */
export function localStorageCache(): AutotuneCache {
  const storage = (): Storage | null => {
    try {
      return (globalThis as { localStorage?: Storage }).localStorage ?? null;
    } catch {
      return null;
    }
  };
  return {
    get(key) {
      try {
        return storage()?.getItem(key) ?? null;
      } catch {
        return null;
      }
    },
    set(key, value) {
      try {
        storage()?.setItem(key, value);
      } catch {
        // Quota or privacy mode: tuning again next start is the only cost.
      }
    },
  };
}

type FsPromises = typeof import('node:fs/promises');

/**
 * Node cache: one JSON file of key → value. node:fs is imported dynamically through a variable so the
 * browser bundle never pulls it in. A missing or corrupt file reads as empty.
 */
export function fileCache(path: string): AutotuneCache {
  const fsModule = 'node:fs/promises';
  const fs = (): Promise<FsPromises> => import(/* @vite-ignore */ fsModule) as Promise<FsPromises>;
  const readAll = async (): Promise<Record<string, string>> => {
    try {
      const parsed: unknown = JSON.parse(await (await fs()).readFile(path, 'utf8'));
      return typeof parsed === 'object' && parsed !== null ? (parsed as Record<string, string>) : {};
    } catch {
      return {};
    }
  };
  return {
    async get(key) {
      const v = (await readAll())[key];
      return typeof v === 'string' ? v : null;
    },
    async set(key, value) {
      const all = await readAll();
      all[key] = value;
      const f = await fs();
      const dir = path.slice(0, Math.max(0, path.lastIndexOf('/')));
      if (dir) await f.mkdir(dir, { recursive: true });
      await f.writeFile(path, `${JSON.stringify(all, null, 2)}\n`);
    },
  };
}
