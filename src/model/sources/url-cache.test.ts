// A cache that refuses a model file (a full quota on put, a failing match) costs only the caching: the
// download still completes and gives the same weights as the folder; and the refusal is not remembered as a
// file that is absent.

import { readdirSync, readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dirModelSource } from './node-dir';
import { type CacheLike, MemoryCache, urlModelSource } from './url';

const ROOT = join(import.meta.dirname, '..', '..', '..', 'test', 'fixtures', 'models', 'llama-tiny');
let base = '';
let server: ReturnType<typeof createServer>;

beforeAll(async () => {
  const files = new Map(
    readdirSync(ROOT).map((f) => [`/m/${f}`, new Uint8Array(readFileSync(join(ROOT, f)))]),
  );
  server = createServer((req, res) => {
    const b = files.get(new URL(req.url ?? '/', 'http://x').pathname);
    if (!b) res.writeHead(404).end('not found');
    else res.writeHead(200, { 'content-length': b.length }).end(b);
  });
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/m/`;
  setTimeout(() => server.close(), 60_000).unref();
});
afterAll(() => {
  server.closeAllConnections();
  server.close();
});

/** A cache whose put of a model file fails as a full quota does, after reading part of the body. */
class FullCache extends MemoryCache {
  puts = 0;
  override async put(url: string, response: Response): Promise<void> {
    this.puts++;
    if (url.endsWith('.safetensors')) {
      await response.body?.getReader().read();
      throw new DOMException('quota', 'QuotaExceededError');
    }
    return super.put(url, response);
  }
}

describe('a cache that fails', () => {
  it('a refused put does not abort the download: same weights as the folder', async () => {
    const cache = new FullCache();
    const warn = console.warn;
    const warned: string[] = [];
    console.warn = (m: string) => warned.push(m);
    try {
      const m = await urlModelSource(base, { cache }).open();
      const ref = await dirModelSource(ROOT).open();
      for (const key of ref.match.keyMap.values())
        expect(await m.reader.readF32(key)).toEqual(await ref.reader.readF32(key));
    } finally {
      console.warn = warn;
    }
    expect(cache.puts).toBeGreaterThan(0);
    expect(
      warned.some((w) =>
        /model-00001-of-00002\.safetensors: not cached \(quota\); loading it without the cache/.test(w),
      ),
    ).toBe(true);
    // Nothing half-written stays behind.
    expect(cache.keys().some((k) => k.endsWith('.safetensors'))).toBe(false);
  });

  it('a cache that cannot be read is a miss', async () => {
    const broken: CacheLike = {
      match: () => Promise.reject(new Error('storage off')),
      put: () => Promise.reject(new Error('storage off')),
      delete: () => Promise.reject(new Error('storage off')),
    };
    const warn = console.warn;
    console.warn = () => undefined;
    try {
      const m = await urlModelSource(base, { cache: broken }).open();
      expect(m.layout).toEqual({ shards: 2 });
    } finally {
      console.warn = warn;
    }
  });
});
