// Tests of the per-adapter autotune: per shape class it picks the variant its timer says is fastest (a
// fake timer makes that deterministic), stores the choices under the adapter's key, and a second start
// with the cache dispatches nothing; unusable cached values are re-measured. Also the real GPU timer's
// bookkeeping and the two cache backends. No timing assertions: which variant wins depends on the machine.
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { testGpu } from '../../test/helpers/gpu';
import { attentionCandidates } from './attention-tune';
import {
  AUTOTUNE_VERSION,
  type AutotuneCache,
  autotune,
  autotuneKey,
  fileCache,
  localStorageCache,
  parseCached,
  quadKernelsAgree,
  tuneProbes,
} from './autotune';
import { MATMUL_CLASSES, MATMUL_VARIANTS, matmul, matmulVariantKey } from './kernels/matmul';
import { createGpuTimer } from './timestamps';

class MemoryCache implements AutotuneCache {
  readonly map = new Map<string, string>();
  gets = 0;
  get(key: string): string | null {
    this.gets++;
    return this.map.get(key) ?? null;
  }
  set(key: string, value: string): void {
    this.map.set(key, value);
  }
}

/** A fake timer: seconds by label from `table` (default 1 s), recording the labels it was asked for. */
function fakeTimer(table: Record<string, number>) {
  const asked: string[] = [];
  const timer = async (_run: () => void, label?: string) => {
    asked.push(label ?? '?');
    return table[label ?? ''] ?? 1;
  };
  return { timer, asked };
}

const clearMatmulVariants = (variants: Map<string, string>) => {
  for (const k of [...variants.keys()]) if (k.startsWith('matmul')) variants.delete(k);
};

describe('autotune', () => {
  it("picks per class the variant the timer calls fastest, and times exactly the probes' candidates", async () => {
    const ctx = await testGpu({ allFeatures: true });
    const probes = tuneProbes(ctx.adapter.software, ctx.features.subgroups);
    // Every class's fastest is its last candidate, except square, whose first wins.
    const table: Record<string, number> = {};
    const want: Record<string, string> = {};
    for (const p of probes) {
      p.candidates.forEach((v, i) => {
        table[`matmul/${p.cls}/${v}`] = p.cls === 'square' ? 1 + i : 10 - i;
      });
      want[matmulVariantKey(p.cls)] =
        p.cls === 'square' ? p.candidates[0] : p.candidates[p.candidates.length - 1];
    }
    const { timer, asked } = fakeTimer(table);
    const cache = new MemoryCache();
    const dispatches = ctx.dispatches;
    const result = await autotune(ctx, cache, { timer });
    expect(result).toEqual(want);
    expect(asked).toEqual(probes.flatMap((p) => p.candidates.map((v) => `matmul/${p.cls}/${v}`)));
    for (const [k, v] of Object.entries(want)) expect(ctx.variants.get(k)).toBe(v);
    expect(JSON.parse(cache.map.get(autotuneKey(ctx)) ?? 'null')).toEqual(want);
    // The fake never ran the work: the only dispatches are the quad kernels' check against regblock (4
    // transposes × 3 variants); the buffers it allocated went back to the arena.
    expect(ctx.dispatches - dispatches).toBe(ctx.features.subgroups ? 12 : 0);
    expect(ctx.arena.stats().current.workspace).toBe(0);
    clearMatmulVariants(ctx.variants);
  });

  it('times the attention variants when asked and stores the fastest under attention', async () => {
    const ctx = await testGpu({ allFeatures: true });
    const candidates = attentionCandidates(ctx);
    // The last candidate is the fastest by the fake timer; matmul classes all default to 1 s.
    const table: Record<string, number> = {};
    candidates.forEach((v, i) => {
      table[`attention/${v}`] = 10 - i;
    });
    const { timer, asked } = fakeTimer(table);
    const cache = new MemoryCache();
    const before = ctx.variants.get('attention');
    const result = await autotune(ctx, cache, { timer, attention: true });
    const want = candidates[candidates.length - 1];
    expect(result.attention).toBe(want);
    expect(ctx.variants.get('attention')).toBe(want);
    expect(asked.filter((l) => l.startsWith('attention/'))).toEqual(candidates.map((v) => `attention/${v}`));
    expect(JSON.parse(cache.map.get(autotuneKey(ctx)) ?? 'null').attention).toBe(want);
    // A cached unknown attention variant is not trusted: the tune runs again.
    const bad = JSON.parse(cache.map.get(autotuneKey(ctx)) ?? '{}');
    expect(parseCached(JSON.stringify({ ...bad, attention: 'nope' }))).toBeNull();
    expect(parseCached(JSON.stringify(bad))).toEqual(bad);
    clearMatmulVariants(ctx.variants);
    if (before === undefined) ctx.variants.delete('attention');
    else ctx.variants.set('attention', before);
  });

  it('every class has a probe of its own class, and the candidates are real variants', () => {
    for (const software of [true, false]) {
      const probes = tuneProbes(software);
      expect(probes.map((p) => p.cls).sort()).toEqual([...MATMUL_CLASSES].sort());
      for (const p of probes) for (const v of p.candidates) expect(MATMUL_VARIANTS).toContain(v);
    }
    // Software adapters skip the barrier-heavy variants (SwiftShader pays for every barrier).
    expect(tuneProbes(true).flatMap((p) => p.candidates)).not.toContain('tiled4');
    expect(tuneProbes(false).flatMap((p) => p.candidates)).toContain('tiled4');
    // The quad variants compete only where quad operations were found to work.
    expect(tuneProbes(true).flatMap((p) => p.candidates)).not.toContain('quad');
    expect(tuneProbes(true, true).filter((p) => p.candidates.includes('quad')).length).toBe(5);
  });

  it('the quad kernels agree with regblock on this device (the check the tune runs before offering them)', async () => {
    const ctx = await testGpu({ allFeatures: true });
    // SwiftShader has quad operations; quadKernelsAgree compares exact integer products in all transposes.
    expect(ctx.features.subgroups).toBe(true);
    expect(await quadKernelsAgree(ctx)).toBe(true);
    expect(ctx.arena.stats().current.workspace).toBe(0);
  });

  it('a cached choice dispatches nothing and times nothing', async () => {
    const ctx = await testGpu({ allFeatures: true });
    const cache = new MemoryCache();
    const stored = Object.fromEntries(MATMUL_CLASSES.map((c) => [matmulVariantKey(c), 'skinny']));
    cache.map.set(autotuneKey(ctx), JSON.stringify(stored));
    const { timer, asked } = fakeTimer({});
    const dispatches = ctx.dispatches;
    const result = await autotune(ctx, cache, { timer });
    expect(result).toEqual(stored);
    expect(asked).toEqual([]);
    expect(ctx.dispatches).toBe(dispatches);
    expect(ctx.variants.get('matmul/square')).toBe('skinny');
    clearMatmulVariants(ctx.variants);
  });

  it('ignores unusable cached values (old format, unknown variant, a class missing, not JSON) and re-measures', async () => {
    const ctx = await testGpu({ allFeatures: true });
    const full = Object.fromEntries(MATMUL_CLASSES.map((c) => [matmulVariantKey(c), 'regblock']));
    const bad = [
      JSON.stringify({ matmul: 'regblock' }),
      JSON.stringify({ ...full, 'matmul/square': 'bogus' }),
      JSON.stringify({ ...full, 'matmul/transA': undefined }),
      JSON.stringify({ ...full, attention: 3 }),
      '{not json',
      JSON.stringify([full]),
    ];
    for (const value of bad) {
      expect(parseCached(value)).toBeNull();
      const cache = new MemoryCache();
      cache.map.set(autotuneKey(ctx), value);
      const { timer, asked } = fakeTimer({});
      await autotune(ctx, cache, { timer });
      expect(asked.length).toBeGreaterThan(0);
      expect(parseCached(cache.map.get(autotuneKey(ctx)) ?? null)).not.toBeNull();
    }
    // Extra string entries (another op's choice) are kept.
    expect(parseCached(JSON.stringify({ ...full, attention: 'rows' }))).toEqual({
      ...full,
      attention: 'rows',
    });
    expect(autotuneKey(ctx)).toContain(`/v${AUTOTUNE_VERSION}/`);
    clearMatmulVariants(ctx.variants);
  });

  it('the real tune chooses a candidate per class, caches it, and frees what it allocated', async () => {
    const ctx = await testGpu({ allFeatures: true });
    const cache = new MemoryCache();
    const t0 = performance.now();
    const first = await autotune(ctx, cache);
    const seconds = (performance.now() - t0) / 1000;
    for (const p of tuneProbes(ctx.adapter.software, ctx.features.subgroups)) {
      expect(p.candidates).toContain(first[matmulVariantKey(p.cls)]);
      expect(ctx.variants.get(matmulVariantKey(p.cls))).toBe(first[matmulVariantKey(p.cls)]);
    }
    const key = autotuneKey(ctx);
    expect(key).toContain(ctx.adapter.description);
    expect(JSON.parse(cache.map.get(key) ?? 'null')).toEqual(first);
    expect(ctx.arena.stats().current.workspace).toBe(0);
    clearMatmulVariants(ctx.variants);
    const dispatches = ctx.dispatches;
    expect(await autotune(ctx, cache)).toEqual(first);
    expect(ctx.dispatches).toBe(dispatches);
    console.log(
      `autotune chose ${JSON.stringify(first)} in ${seconds.toFixed(2)} s on ${ctx.adapter.description}`,
    );
    clearMatmulVariants(ctx.variants);
  });

  it('the GPU timer runs warm-up plus reps × runs calls, with timestamps when the device has them', async () => {
    const ctx = await testGpu({ allFeatures: true });
    const timer = createGpuTimer(ctx, { reps: 3, runs: 2 });
    // Real work between the marks: an empty interval can read as zero on a coarse clock, and a figure that
    // is not positive makes the timer fall back to wall clock (timing that batch once more).
    const n = 64;
    const a = ctx.upload(new Float32Array(n * n).fill(0.5), 'workspace', 'timer-a');
    const out = ctx.arena.alloc(n * n * 4, 'workspace', 'timer-out');
    let calls = 0;
    const s = await timer.timeSeconds(() => {
      calls++;
      matmul(ctx, { a, b: a, out, M: n, N: n, K: n, variant: 'naive' });
    });
    ctx.arena.free(a);
    ctx.arena.free(out);
    expect(calls).toBe(1 + 3 * 2);
    expect(s).toBeGreaterThanOrEqual(0);
    expect(Number.isFinite(s)).toBe(true);
    expect(timer.usesTimestamps).toBe(ctx.features.timestampQuery);
    timer.dispose();
    expect(timer.usesTimestamps).toBe(false);
  });
});

describe('autotune caches', () => {
  it('fileCache round-trips through a JSON file and reads a missing or corrupt file as empty', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'autotune-'));
    try {
      const path = join(dir, 'sub', 'autotune.json');
      const cache = fileCache(path);
      expect(await cache.get('k')).toBeNull();
      await cache.set('k', '{"matmul":"tiled"}');
      await cache.set('other', 'x');
      expect(await fileCache(path).get('k')).toBe('{"matmul":"tiled"}');
      expect(JSON.parse(await readFile(path, 'utf8'))).toEqual({ k: '{"matmul":"tiled"}', other: 'x' });
      const bad = join(dir, 'bad.json');
      await (await import('node:fs/promises')).writeFile(bad, '{not json');
      expect(await fileCache(bad).get('k')).toBeNull();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('localStorageCache is a harmless no-op without localStorage, and uses it when present', async () => {
    const g = globalThis as { localStorage?: unknown };
    expect(g.localStorage).toBeUndefined();
    const none = localStorageCache();
    none.set('k', 'v');
    expect(none.get('k')).toBeNull();
    const store = new Map<string, string>();
    g.localStorage = {
      getItem: (k: string) => store.get(k) ?? null,
      setItem: (k: string, v: string) => void store.set(k, v),
    };
    try {
      const cache = localStorageCache();
      cache.set('k', 'v');
      expect(cache.get('k')).toBe('v');
    } finally {
      delete g.localStorage;
    }
  });
});
