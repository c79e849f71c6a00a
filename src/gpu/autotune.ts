// Per-adapter autotune: for each matmul shape class (kernels/matmul.ts MATMUL_CLASSES: smallM, skinnyN,
// skinnyK, transA, square) it times the candidate variants on one representative shape and records the
// fastest in ctx.variants under 'matmul/<class>', which matmul() reads when a call names no variant.
// Timing is GPU timestamps where the device has them, else wall clock (timestamps.ts). The result is
// cached under a key naming the adapter and AUTOTUNE_VERSION, so later starts skip the timing. Cache
// backends: localStorage (browser) and a JSON file (Node); callers pick one.
// Kernels themselves live in kernels/; this file only measures and remembers.

import { tuneAttention } from './attention-tune';
import type { GpuContext } from './context';
import { ATTENTION_VARIANTS } from './kernels/attention';
import {
  isMatmulVariant,
  MATMUL_CLASSES,
  type MatmulClass,
  type MatmulVariant,
  matmul,
  matmulVariantKey,
} from './kernels/matmul';
import { createGpuTimer, type TimeSeconds } from './timestamps';

export type { TimeSeconds } from './timestamps';

/** Bump when kernels change enough that an old choice should be re-measured (2: per shape class; 3: quad). */
export const AUTOTUNE_VERSION = 3;

export interface AutotuneCache {
  get(key: string): Promise<string | null> | string | null;
  set(key: string, value: string): Promise<void> | void;
}

export interface AutotuneOptions {
  /** Replaces the GPU timer (tests: fake timings by label 'matmul/<class>/<variant>', 'attention/<variant>'). */
  timer?: TimeSeconds;
  /**
   * Times the attention variants too (gpu/attention-tune.ts) and stores the winner under 'attention'.
   * Default: on hardware adapters only. On SwiftShader 'flash' (the kernel's default) measured 1.7-1.9×
   * 'rows', and compiling both variants' backward passes would add seconds to every start.
   */
  attention?: boolean;
}

/** The cache key: version plus everything the adapter says about itself. */
export function autotuneKey(ctx: GpuContext): string {
  const a = ctx.adapter;
  return `peft-playground/autotune/v${AUTOTUNE_VERSION}/${a.runtime}/${a.vendor}/${a.architecture}/${a.device}/${a.description}`;
}

/**
 * A cached value is a JSON object holding a valid variant for every matmul class (other keys are kept
 * when they are strings); anything else is ignored, and the tune runs again.
 */
export function parseCached(value: string | null): Record<string, string> | null {
  if (!value) return null;
  try {
    const parsed: unknown = JSON.parse(value);
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return null;
    const rec = parsed as Record<string, unknown>;
    const out: Record<string, string> = {};
    for (const c of MATMUL_CLASSES) {
      const v = rec[matmulVariantKey(c)];
      if (!isMatmulVariant(v)) return null;
    }
    const attention = rec.attention;
    if (attention !== undefined && !(ATTENTION_VARIANTS as readonly unknown[]).includes(attention))
      return null;
    for (const [k, v] of Object.entries(rec)) {
      if (typeof v !== 'string') return null;
      out[k] = v;
    }
    return out;
  } catch {
    return null;
  }
}

/** One class's representative call and the variants worth timing on it. */
export interface ClassProbe {
  cls: MatmulClass;
  M: number;
  N: number;
  K: number;
  transA: boolean;
  candidates: readonly MatmulVariant[];
}

/**
 * The probes for this adapter. Software adapters (SwiftShader: ~1-3 GFLOP/s, barriers costly, each
 * pipeline compile takes a second) time small shapes and only the barrier-free variants, which share
 * pipelines across classes, so the whole tune stays a few seconds; hardware GPUs time shapes large enough
 * for the work to dominate (≈5 GFLOP per candidate across the classes, 9 calls each: about 2 s at
 * 100 GFLOP/s), and every variant but naive. `quad`: the device has quad operations (the `subgroups`
 * feature) and they behave as the quad kernels assume (quadKernelsAgree), so those variants compete too.
 */
export function tuneProbes(software: boolean, quad = false): ClassProbe[] {
  const n = software ? 128 : 1024;
  const r = 16;
  const q: readonly MatmulVariant[] = quad ? ['quad', 'quadnarrow'] : [];
  const all: readonly MatmulVariant[] = software
    ? ['regblock', 'lanes', ...q]
    : ['regblock', 'lanes', 'skinny', 'tiled', 'tiled4', ...q];
  // Few outputs: split-K spreads a long reduction over a workgroup (a barrier: hardware only).
  const skinny: readonly MatmulVariant[] = software ? ['regblock', 'skinny', ...q] : [...all, 'splitk'];
  return [
    { cls: 'smallM', M: 16, N: 4 * n, K: n, transA: false, candidates: skinny },
    { cls: 'skinnyN', M: 2 * n, N: r, K: n, transA: false, candidates: skinny },
    { cls: 'skinnyK', M: 2 * n, N: n, K: r, transA: false, candidates: all },
    { cls: 'transA', M: n, N: n, K: n, transA: true, candidates: all },
    { cls: 'square', M: n, N: n, K: n, transA: false, candidates: all },
  ];
}

/**
 * Chooses kernel variants for this adapter and sets them on ctx.variants. With a cache holding a valid
 * choice for this adapter it dispatches nothing; otherwise it measures and stores the result.
 * Returns key → variant ('matmul/<class>' for each class; 'attention' when it was timed).
 */
export async function autotune(
  ctx: GpuContext,
  cache?: AutotuneCache,
  options: AutotuneOptions = {},
): Promise<Record<string, string>> {
  const key = autotuneKey(ctx);
  const cached = cache ? parseCached(await cache.get(key)) : null;
  if (cached) {
    for (const [op, v] of Object.entries(cached)) ctx.variants.set(op, v);
    return cached;
  }

  const software = ctx.adapter.software;
  const probes = tuneProbes(software, ctx.features.subgroups && (await quadKernelsAgree(ctx)));
  const gpuTimer = options.timer
    ? null
    : createGpuTimer(ctx, software ? { reps: 1, runs: 2 } : { reps: 4, runs: 2 });
  const time: TimeSeconds = options.timer ?? (gpuTimer as { timeSeconds: TimeSeconds }).timeSeconds;
  // One set of buffers big enough for every probe. Deterministic, bounded data: the timing must not
  // depend on denormals or infinities.
  const most = (f: (p: ClassProbe) => number) => Math.max(...probes.map(f));
  const fill = (len: number) => Float32Array.from({ length: len }, (_, i) => ((i * 7919) % 255) / 255 - 0.5);
  const a = ctx.upload(fill(most((p) => p.M * p.K)), 'workspace', 'autotune-a');
  const b = ctx.upload(fill(most((p) => p.K * p.N)), 'workspace', 'autotune-b');
  const out = ctx.arena.alloc(most((p) => p.M * p.N) * 4, 'workspace', 'autotune-out');
  const result: Record<string, string> = {};
  try {
    for (const p of probes) {
      let best: MatmulVariant = p.candidates[0];
      let bestTime = Number.POSITIVE_INFINITY;
      for (const variant of p.candidates) {
        const { M, N, K, transA } = p;
        const t = await time(
          () => matmul(ctx, { a, b, out, M, N, K, transA, variant }),
          `${matmulVariantKey(p.cls)}/${variant}`,
        );
        if (t < bestTime) {
          bestTime = t;
          best = variant;
        }
      }
      result[matmulVariantKey(p.cls)] = best;
    }
    if (options.attention ?? !software) result.attention = await tuneAttention(ctx, time);
  } finally {
    gpuTimer?.dispose();
    for (const buf of [a, b, out]) ctx.arena.free(buf);
  }

  for (const [op, v] of Object.entries(result)) ctx.variants.set(op, v);
  if (cache) await cache.set(key, JSON.stringify(result));
  return result;
}

/**
 * Whether the quad kernels give regblock's results here. They take a quad to be the invocations
 * 4q..4q+3 of a workgroup row (true of every implementation we know, SwiftShader included); a device
 * that groups lanes otherwise would compute wrong products, so it is checked before they may be chosen.
 * Small edge shapes in every transpose; integer-valued data, so both kernels are exact.
 */
export async function quadKernelsAgree(ctx: GpuContext): Promise<boolean> {
  const [M, N, K] = [37, 45, 23];
  const ints = (len: number, mul: number) =>
    Float32Array.from({ length: len }, (_, i) => ((i * mul) % 7) - 3);
  const a = ctx.upload(ints(M * K, 5), 'workspace', 'quad-check-a');
  const b = ctx.upload(ints(K * N, 3), 'workspace', 'quad-check-b');
  const out = ctx.arena.alloc(M * N * 4, 'workspace', 'quad-check-out');
  try {
    for (const transA of [false, true])
      for (const transB of [false, true]) {
        const run = async (variant: MatmulVariant) => {
          matmul(ctx, { a, b, out, M, N, K, transA, transB, variant });
          return ctx.readF32(out, M * N);
        };
        const want = await run('regblock');
        for (const variant of ['quad', 'quadnarrow'] as const) {
          const got = await run(variant);
          if (got.some((v, i) => v !== want[i])) return false;
        }
      }
    return true;
  } finally {
    for (const buf of [a, b, out]) ctx.arena.free(buf);
  }
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
