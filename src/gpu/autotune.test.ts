// Tests of the per-adapter autotune: it picks one of the matmul variants, stores it under the adapter's
// key, and a second start with the cache dispatches nothing. Also the two cache backends. No timing
// assertions: which variant wins depends on the machine.
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { testGpu } from '../../test/helpers/gpu';
import { type AutotuneCache, autotune, autotuneKey, fileCache, localStorageCache } from './autotune';
import { MATMUL_VARIANTS } from './kernels/matmul';

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

describe('autotune', () => {
  it('chooses a variant, caches it per adapter, and skips timing on the second start', async () => {
    const ctx = await testGpu();
    const cache = new MemoryCache();
    const t0 = performance.now();
    const first = await autotune(ctx, cache);
    const seconds = (performance.now() - t0) / 1000;
    expect(MATMUL_VARIANTS).toContain(first.matmul);
    expect(ctx.variants.get('matmul')).toBe(first.matmul);
    const key = autotuneKey(ctx);
    expect(key).toContain(ctx.adapter.description);
    expect(key).toMatch(/\/v\d+\//);
    expect(JSON.parse(cache.map.get(key) ?? 'null')).toEqual(first);
    // Everything it allocated went back to the arena.
    expect(ctx.arena.stats().current.workspace).toBe(0);

    ctx.variants.delete('matmul');
    const dispatches = ctx.dispatches;
    const second = await autotune(ctx, cache);
    expect(ctx.dispatches).toBe(dispatches);
    expect(second).toEqual(first);
    expect(ctx.variants.get('matmul')).toBe(first.matmul);
    console.log(`autotune chose ${first.matmul} in ${seconds.toFixed(2)} s on ${ctx.adapter.description}`);
  });

  it('re-measures when the cached value is unusable', async () => {
    const ctx = await testGpu();
    const cache = new MemoryCache();
    cache.map.set(autotuneKey(ctx), JSON.stringify({ matmul: 'bogus' }));
    const dispatches = ctx.dispatches;
    const result = await autotune(ctx, cache);
    expect(ctx.dispatches).toBeGreaterThan(dispatches);
    expect(MATMUL_VARIANTS).toContain(result.matmul);
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
