// Tests of the worker's IndexedDB autotune cache (fake-indexeddb in Node): values survive a new cache
// object on the same database (a reload), keys stay apart, a second autotune start reads the choice and
// times nothing, and a broken database reads as "not cached" instead of failing the start.
import 'fake-indexeddb/auto';
import { describe, expect, it } from 'vitest';
import { testGpu } from '../../test/helpers/gpu';
import { autotune, autotuneKey } from '../gpu/autotune';
import { indexedDbAutotuneCache } from './autotune-cache';

describe('indexedDbAutotuneCache', () => {
  it('keeps values per key across cache objects on one database', async () => {
    const a = indexedDbAutotuneCache('tune-test-1');
    expect(await a.get('k1')).toBeNull();
    await a.set('k1', '{"matmul/square":"quad"}');
    await a.set('k2', '{"matmul/square":"regblock"}');
    const b = indexedDbAutotuneCache('tune-test-1');
    expect(await b.get('k1')).toBe('{"matmul/square":"quad"}');
    expect(await b.get('k2')).toBe('{"matmul/square":"regblock"}');
    expect(await indexedDbAutotuneCache('tune-test-other').get('k1')).toBeNull();
  });

  it('lets a second start skip the tune: the stored choice is applied and nothing is timed', async () => {
    const ctx = await testGpu();
    const labels: string[] = [];
    const timer = async (_run: () => void, label?: string) => {
      labels.push(label ?? '?');
      // Makes 'regblock' the fastest of every class's candidates, whatever they are.
      return label?.endsWith('/regblock') ? 0.5 : 1;
    };
    const first = await autotune(ctx, indexedDbAutotuneCache('tune-test-2'), { timer, attention: false });
    expect(Object.values(first).every((v) => v === 'regblock')).toBe(true);
    const timed = labels.length;
    expect(timed).toBeGreaterThan(0);
    for (const k of Object.keys(first)) ctx.variants.delete(k);
    const second = await autotune(ctx, indexedDbAutotuneCache('tune-test-2'), { timer, attention: false });
    expect(second).toEqual(first);
    expect(labels.length).toBe(timed);
    expect(ctx.variants.get('matmul/square')).toBe('regblock');
    expect(JSON.parse((await indexedDbAutotuneCache('tune-test-2').get(autotuneKey(ctx))) ?? 'null')).toEqual(
      first,
    );
    for (const k of Object.keys(first)) ctx.variants.delete(k);
  });

  it('reads as empty and stores nothing when the database cannot open', async () => {
    const saved = globalThis.indexedDB;
    const broken = {
      open: () => {
        throw new DOMException('storage disabled', 'SecurityError');
      },
    } as unknown as IDBFactory;
    Object.defineProperty(globalThis, 'indexedDB', { value: broken, configurable: true });
    try {
      const c = indexedDbAutotuneCache('tune-test-3');
      await expect(c.set('k', 'v')).resolves.toBeUndefined();
      expect(await c.get('k')).toBeNull();
    } finally {
      Object.defineProperty(globalThis, 'indexedDB', { value: saved, configurable: true });
    }
  });
});
