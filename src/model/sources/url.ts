// Models from a URL base: a Hugging Face `.../resolve/main/` URL, or our own `/models/<name>/` that Vite
// serves from public/. Each file is fetched once, streamed with progress (bytes and total per file) into
// a persistent cache keyed by its URL (the Cache API in the browser; any CacheLike in tests), and read
// from there by Blob.slice; a second load asks the cache first and touches no network, so it is instant
// and works offline. A file found absent (404) is remembered in the cache too, or an offline second load
// could not tell "not sharded" from "offline". A download that breaks off, or whose first bytes are not a
// valid safetensors header, is refused and never cached: the header is checked as soon as it arrives,
// so a wrong or truncated checkpoint fails in its first kilobytes, not after the whole download. A cache
// that refuses a file (its quota, storage turned off) costs only the caching: the file is fetched again
// without it and used from memory for this page.
import { FormatError } from '../../formats/errors';
import { blobSource, parseHeader, readHeaderLength } from '../../formats/safetensors';
import { type ModelFileProvider, type ModelSource, type OpenOptions, openModelFiles } from './open';

/** The part of the Cache API this uses (window.caches.open(...) gives one). */
export interface CacheLike {
  match(url: string): Promise<Response | undefined>;
  put(url: string, response: Response): Promise<void>;
  delete(url: string): Promise<boolean>;
}

export const MODEL_CACHE_NAME = 'peft-playground-models-v1';

/** The browser's persistent Cache API store, or null where there is none (Node, insecure contexts). */
export async function defaultModelCache(): Promise<CacheLike | null> {
  const cs = (globalThis as { caches?: CacheStorage }).caches;
  if (!cs) return null;
  try {
    return await cs.open(MODEL_CACHE_NAME);
  } catch {
    return null; // e.g. storage disabled: work uncached rather than fail
  }
}

/** A CacheLike in memory (tests, and Node where there is no Cache API). */
export class MemoryCache implements CacheLike {
  private readonly entries = new Map<string, { body: Blob; status: number; headers: [string, string][] }>();

  async match(url: string): Promise<Response | undefined> {
    const e = this.entries.get(url);
    return e
      ? new Response(e.status === 404 ? null : e.body, { status: e.status, headers: e.headers })
      : undefined;
  }

  async put(url: string, response: Response): Promise<void> {
    const body = await response.blob();
    this.entries.set(url, { body, status: response.status, headers: [...response.headers] });
  }

  async delete(url: string): Promise<boolean> {
    return this.entries.delete(url);
  }

  keys(): string[] {
    return [...this.entries.keys()];
  }
}

export interface UrlSourceOptions {
  /** Default: the browser's Cache API store `MODEL_CACHE_NAME` where there is one, else none. */
  cache?: CacheLike | null;
  /** Default: globalThis.fetch. */
  fetch?: typeof fetch;
  /** Extra request headers (e.g. an Authorization header for gated Hugging Face models). */
  headers?: Record<string, string>;
}

// Remembers "this URL has no such file" (HTTP 404) so that an offline reload can answer too.
const ABSENT_HEADER = 'x-peft-playground-absent';

/** The directory URL files resolve against: relative bases resolve against the page. */
export function resolveBase(base: string): string {
  const withSlash = base.endsWith('/') ? base : `${base}/`;
  const loc = (globalThis as { location?: { href: string } }).location;
  try {
    return new URL(withSlash, loc?.href).href;
  } catch {
    throw new FormatError(base, 'is not a URL (expected e.g. https://huggingface.co/<repo>/resolve/main/)');
  }
}

function reason(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/** Content-Length as the file size, unless the transfer is compressed (then it is the wire size). */
function declaredSize(r: Response): number | null {
  const enc = r.headers.get('content-encoding');
  if (enc && enc !== 'identity') return null;
  const n = Number(r.headers.get('content-length'));
  return r.headers.has('content-length') && Number.isSafeInteger(n) && n >= 0 ? n : null;
}

/**
 * Counts bytes for progress and, for a safetensors file, parses the header the moment its bytes are in,
 * erroring the stream (and so the download) on the first problem.
 */
function watch(
  file: string,
  url: string,
  total: number | null,
  checkHeader: boolean,
  opts: OpenOptions,
  fail: (e: unknown) => void,
): TransformStream<Uint8Array, Uint8Array> {
  let loaded = 0;
  let head: Uint8Array | null = checkHeader ? new Uint8Array(0) : null;
  let need = 8;
  return new TransformStream({
    transform(chunk, controller) {
      loaded += chunk.length;
      if (head) {
        const merged = new Uint8Array(head.length + chunk.length);
        merged.set(head);
        merged.set(chunk, head.length);
        head = merged;
        try {
          if (need === 8 && head.length >= 8)
            need = 8 + readHeaderLength(head, total ?? Number.MAX_SAFE_INTEGER, url);
          if (need > 8 && head.length >= need) {
            if (total !== null) parseHeader(head.subarray(8, need), total, url);
            head = null; // checked; stop copying
          }
        } catch (e) {
          fail(e);
          controller.error(e);
          return;
        }
      }
      if (total !== null && loaded > total) {
        const e = new FormatError(url, `sent more than its Content-Length of ${total} bytes`);
        fail(e);
        controller.error(e);
        return;
      }
      opts.onProgress?.({ file, loadedBytes: loaded, totalBytes: total, cached: false, done: false });
      controller.enqueue(chunk);
    },
    flush(controller) {
      if (total !== null && loaded !== total) {
        const e = new FormatError(
          url,
          `download ended after ${loaded} of ${total} bytes (connection lost or file truncated)`,
        );
        fail(e);
        controller.error(e);
      }
    },
  });
}

export function urlProvider(base: string, options: UrlSourceOptions = {}): ModelFileProvider {
  const root = resolveBase(base);
  const doFetch = options.fetch ?? ((...a: Parameters<typeof fetch>) => globalThis.fetch(...a));
  let cachePromise: Promise<CacheLike | null> | null = null;
  const cache = () => {
    if (!cachePromise)
      cachePromise = options.cache !== undefined ? Promise.resolve(options.cache) : defaultModelCache();
    return cachePromise;
  };
  const urlOf = (file: string) => new URL(file, root).href;

  /** The cached response, a network response stored then re-read from the cache, or null if absent. */
  async function get(
    file: string,
    kind: 'text' | 'json' | 'safetensors',
    opts: OpenOptions,
    useCache = true,
  ): Promise<Blob | null> {
    const url = urlOf(file);
    const c = useCache ? await cache() : null;
    // A cache that cannot be read is a miss, not a failed load.
    const hit = await c?.match(url).catch(() => undefined);
    if (hit) {
      if (hit.headers.has(ABSENT_HEADER)) return null;
      const blob = await hit.blob();
      opts.onProgress?.({ file, loadedBytes: blob.size, totalBytes: blob.size, cached: true, done: true });
      return blob;
    }
    let res: Response;
    try {
      // An explicit Accept keeps single-page-app servers (Vite's dev server among them) from answering
      // a missing file with index.html and status 200.
      res = await doFetch(url, {
        headers: {
          Accept: kind === 'safetensors' ? 'application/octet-stream' : 'application/json',
          ...options.headers,
        },
      });
    } catch (e) {
      throw new FormatError(url, `cannot be fetched (${reason(e)}); offline, and not in the cache`);
    }
    if (res.status === 404 || res.status === 410) {
      await res.body?.cancel();
      await c
        ?.put(url, new Response(null, { status: 404, headers: { [ABSENT_HEADER]: '1' } }))
        .catch(() => undefined);
      return null;
    }
    if (!res.ok) {
      await res.body?.cancel();
      const hint =
        res.status === 401 || res.status === 403 ? ' (a gated or private model needs a token)' : '';
      throw new FormatError(url, `HTTP ${res.status} ${res.statusText}${hint}`);
    }
    if (kind === 'json' && (res.headers.get('content-type') ?? '').includes('text/html')) {
      // A server that answers every path with its page: the file is not there.
      await res.body?.cancel();
      return null;
    }
    const total = declaredSize(res);
    let failure: unknown = null;
    const body = (res.body ?? new Response(new Uint8Array(0)).body!).pipeThrough(
      watch(file, url, total, kind === 'safetensors', opts, (e) => {
        failure ??= e;
      }),
    );
    const headers = { 'content-type': res.headers.get('content-type') ?? 'application/octet-stream' };
    let blob: Blob;
    try {
      if (c) {
        await c.put(url, new Response(body, { headers }));
        const back = await c.match(url);
        if (!back) throw new Error('the cache did not keep it');
        blob = await back.blob();
      } else {
        blob = await new Response(body).blob();
      }
    } catch (e) {
      await c?.delete(url).catch(() => false);
      if (failure) throw failure;
      if (c) {
        // The download was sound as far as it went; the cache refused it (or the stream broke while it
        // wrote). Once more without the cache: a model that cannot be cached still loads.
        console.warn(`${url}: not cached (${reason(e)}); loading it without the cache`);
        return get(file, kind, opts, false);
      }
      throw new FormatError(url, `download failed (${reason(e)})`);
    }
    if (total !== null && blob.size !== total) {
      await c?.delete(url).catch(() => false);
      throw new FormatError(url, `download ended after ${blob.size} of ${total} bytes`);
    }
    opts.onProgress?.({ file, loadedBytes: blob.size, totalBytes: blob.size, cached: false, done: true });
    return blob;
  }

  return {
    label: root,
    where: urlOf,
    text: async (file, opts) => {
      const b = await get(file, 'json', opts);
      return b ? b.text() : null;
    },
    bytes: async (file, opts) => {
      const b = await get(file, 'safetensors', opts);
      return b ? blobSource(b, urlOf(file)) : null;
    },
  };
}

/** A model under a URL base, cached persistently by URL. */
export function urlModelSource(base: string, options: UrlSourceOptions = {}): ModelSource {
  const p = urlProvider(base, options);
  return { label: p.label, open: (opts) => openModelFiles(p, opts) };
}

/** Forgets the cached files of a model (every file the loader may have asked for). */
export async function clearCachedModel(
  base: string,
  files: readonly string[],
  cache?: CacheLike | null,
): Promise<void> {
  const c = cache !== undefined ? cache : await defaultModelCache();
  if (!c) return;
  const root = resolveBase(base);
  for (const f of files) await c.delete(new URL(f, root).href);
}
