// Model sources end to end on the tiny fixtures (test/fixtures/models): a folder on disk, dropped files
// (a picked folder with a decoy subfolder, loose files), and a URL base served by a local HTTP server on
// 127.0.0.1 (bounded: it closes itself after a minute) with an in-memory cache: progress per file, a
// second load with no request at all and after the server is gone, sharded vs single detection, a server
// that answers missing files with a page, and a download that breaks off. Then malformed checkpoints
// refused through the URL path with the file and tensor named: truncated, wrong dtype, shape against the
// config, missing tensor, bad index, and a model too large for the budget refused before its weights
// are fetched.
import { readdirSync, readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SafetensorsFile, type TensorToWrite, writeSafetensors } from '../../formats/safetensors';
import { filesModelSource } from './files';
import { dirModelSource } from './node-dir';
import type { FileProgress, OpenedModel } from './open';
import { MemoryCache, urlModelSource } from './url';

const ROOT = join(import.meta.dirname, '..', '..', '..', 'test', 'fixtures', 'models');
const read = (model: string, file: string) => new Uint8Array(readFileSync(join(ROOT, model, file)));
const MODEL_FILES = (m: string) => readdirSync(join(ROOT, m)).filter((f) => !f.startsWith('reference'));

// ---- a bounded local server: routes are path → bytes (or a handler), every request is logged ----

type Route = Uint8Array | ((req: IncomingMessage, res: ServerResponse) => void);
const routes = new Map<string, Route>();
const requests: string[] = [];
let base = '';
let server: ReturnType<typeof createServer>;

function serveModel(prefix: string, model: string, replace: Record<string, Uint8Array | null> = {}): string {
  for (const f of MODEL_FILES(model)) if (!(f in replace)) routes.set(`/${prefix}/${f}`, read(model, f));
  for (const [f, b] of Object.entries(replace)) {
    if (b) routes.set(`/${prefix}/${f}`, b);
    else routes.delete(`/${prefix}/${f}`);
  }
  return `${base}/${prefix}/`;
}

beforeAll(async () => {
  server = createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    requests.push(path);
    const r = routes.get(path);
    if (!r) {
      res.writeHead(404).end('not found');
      return;
    }
    if (typeof r === 'function') return r(req, res);
    res.writeHead(200, { 'content-length': r.length, 'content-type': 'application/octet-stream' }).end(r);
  });
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  // A test run that hangs must not leave the port open.
  setTimeout(() => server.close(), 60_000).unref();
});

afterAll(() => {
  server.closeAllConnections();
  server.close();
});

async function refusal(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (e) {
    return e instanceof Error ? e.message : String(e);
  }
  throw new Error('expected a refusal');
}

async function sameWeights(a: OpenedModel, b: OpenedModel): Promise<void> {
  expect(a.config).toEqual(b.config);
  expect([...a.match.keyMap]).toEqual([...b.match.keyMap]);
  for (const key of a.match.keyMap.values())
    expect(await a.reader.readF32(key)).toEqual(await b.reader.readF32(key));
}

// ---- folder and dropped files ----

describe('folder source (Node)', () => {
  it('opens all three fixtures: single, sharded, F16; tokenizer and config checked', async () => {
    const g = await dirModelSource(join(ROOT, 'gpt2-tiny')).open();
    expect(g.layout).toBe('single');
    expect(g.config.family).toBe('gpt2');
    // Unprefixed GPT-2 keys map to canonical ones; the mask buffers are skipped, not errors.
    expect(g.match.keyMap.get('transformer.wte.weight')).toBe('wte.weight');
    expect(g.match.ignored).toEqual(['h.0.attn.bias', 'h.1.attn.bias']);
    const l = await dirModelSource(join(ROOT, 'llama-tiny')).open();
    expect(l.layout).toEqual({ shards: 2 });
    expect(l.reader.fileOf('lm_head.weight')).toMatch(/model-00002-of-00002\.safetensors$/);
    const q = await dirModelSource(join(ROOT, 'qwen2-tiny')).open();
    expect(q.reader.info('model.embed_tokens.weight').dtype).toBe('F16');
    expect(q.tokenizer.decode(q.tokenizer.encode('hello there', { addSpecialTokens: false }))).toBe(
      'hello there',
    );
  });

  it('names a folder that is not there', async () => {
    expect(await refusal(dirModelSource(join(ROOT, 'nope')).open())).toMatch(/nope: no such folder/);
  });
});

function fileLike(bytes: Uint8Array, name: string, rel?: string): File {
  const f = new File([new Uint8Array(bytes)], name);
  if (rel) Object.defineProperty(f, 'webkitRelativePath', { value: rel });
  return f;
}

describe('dropped files (browser File objects)', () => {
  it('a picked folder: files by name, the top level winning over a subfolder, same tensors as from disk', async () => {
    const files = MODEL_FILES('llama-tiny').map((f) => fileLike(read('llama-tiny', f), f, `llama-tiny/${f}`));
    // A decoy config in a subfolder (e.g. checkpoint-500/) must not shadow the model's own.
    files.unshift(
      fileLike(
        new TextEncoder().encode('{"model_type": "bert"}'),
        'config.json',
        'llama-tiny/ckpt/config.json',
      ),
    );
    const progress: FileProgress[] = [];
    const m = await filesModelSource(files).open({ onProgress: (p) => progress.push(p) });
    expect(m.label).toBe('folder "llama-tiny"');
    expect(m.layout).toEqual({ shards: 2 });
    await sameWeights(m, await dirModelSource(join(ROOT, 'llama-tiny')).open());
    expect(progress.map((p) => p.file).sort()).toEqual([
      'model-00001-of-00002.safetensors',
      'model-00002-of-00002.safetensors',
    ]);
  });

  it('loose files, and a missing one named', async () => {
    const loose = MODEL_FILES('gpt2-tiny').map((f) => fileLike(read('gpt2-tiny', f), f));
    const m = await filesModelSource(loose).open();
    expect(m.label).toBe('the dropped files');
    expect(m.config.modelType).toBe('gpt2');
    const noTok = loose.filter((f) => f.name !== 'tokenizer.json');
    expect(await refusal(filesModelSource(noTok).open())).toMatch(
      /the dropped files: has no tokenizer\.json/,
    );
    const noWeights = loose.filter((f) => f.name !== 'model.safetensors');
    expect(await refusal(filesModelSource(noWeights).open())).toMatch(
      /has no model\.safetensors or model\.safetensors\.index\.json/,
    );
    const noConfig = loose.filter((f) => f.name !== 'config.json');
    expect(await refusal(filesModelSource(noConfig).open())).toMatch(/has no config\.json/);
  });
});

// ---- URL base with a cache ----

describe('URL source', () => {
  it('streams each file with progress into the cache; the second load makes no request, even offline', async () => {
    const url = serveModel('a/llama', 'llama-tiny');
    const cache = new MemoryCache();
    const progress: FileProgress[] = [];
    requests.length = 0;
    const first = await urlModelSource(url, { cache }).open({ onProgress: (p) => progress.push(p) });
    expect(first.layout).toEqual({ shards: 2 });
    // config, tokenizer, tokenizer_config, index, two shards; single-file probing never happens here.
    expect(requests.sort()).toEqual(
      [
        'config.json',
        'model-00001-of-00002.safetensors',
        'model-00002-of-00002.safetensors',
        'model.safetensors.index.json',
        'tokenizer.json',
        'tokenizer_config.json',
      ].map((f) => `/a/llama/${f}`),
    );
    const shard = progress.filter((p) => p.file === 'model-00001-of-00002.safetensors');
    const size = read('llama-tiny', 'model-00001-of-00002.safetensors').length;
    expect(shard.every((p) => p.totalBytes === size && !p.cached)).toBe(true);
    expect(shard.at(-1)).toMatchObject({ loadedBytes: size, done: true });
    // Loaded bytes only grow.
    expect(shard.map((p) => p.loadedBytes)).toEqual(
      [...shard.map((p) => p.loadedBytes)].sort((a, b) => a - b),
    );

    requests.length = 0;
    const progress2: FileProgress[] = [];
    const second = await urlModelSource(url, { cache }).open({ onProgress: (p) => progress2.push(p) });
    expect(requests).toEqual([]);
    expect(progress2.every((p) => p.cached && p.done)).toBe(true);
    await sameWeights(second, first);
    await sameWeights(second, await dirModelSource(join(ROOT, 'llama-tiny')).open());

    // Offline: a fetch that always fails, and the cache alone answers.
    const offline = urlModelSource(url, {
      cache,
      fetch: () => Promise.reject(new TypeError('fetch failed')),
    });
    await sameWeights(await offline.open(), first);
    // Without the cache, offline is a clear message naming the URL.
    const cold = urlModelSource(url, {
      cache: new MemoryCache(),
      fetch: () => Promise.reject(new TypeError('fetch failed')),
    });
    expect(await refusal(cold.open())).toMatch(
      /a\/llama\/config\.json: cannot be fetched \(fetch failed\); offline/,
    );
  });

  it('a single-file model: the absent index is remembered, so the reload is offline-safe too', async () => {
    const url = serveModel('b/gpt2', 'gpt2-tiny');
    const cache = new MemoryCache();
    const m = await urlModelSource(url, { cache }).open();
    expect(m.layout).toBe('single');
    requests.length = 0;
    await urlModelSource(url, { cache }).open();
    expect(requests).toEqual([]);
  });

  it('a server that answers every path with its page (an SPA fallback) does not fake an index', async () => {
    const url = serveModel('c/qwen', 'qwen2-tiny');
    routes.set('/c/qwen/model.safetensors.index.json', (_req, res) => {
      res.writeHead(200, { 'content-type': 'text/html' }).end('<!doctype html><title>app</title>');
    });
    const m = await urlModelSource(url, { cache: null }).open();
    expect(m.layout).toBe('single');
  });

  it('a download that breaks off is refused and not cached', async () => {
    const full = read('gpt2-tiny', 'model.safetensors');
    const url = serveModel('d/gpt2', 'gpt2-tiny');
    routes.set('/d/gpt2/model.safetensors', (_req, res) => {
      res.writeHead(200, { 'content-length': full.length });
      res.write(full.subarray(0, 20_000));
      setTimeout(() => res.destroy(), 20);
    });
    const cache = new MemoryCache();
    expect(await refusal(urlModelSource(url, { cache }).open())).toMatch(
      /d\/gpt2\/model\.safetensors: (download ended after \d+ of \d+ bytes|download failed)/,
    );
    expect(cache.keys().some((k) => k.endsWith('model.safetensors'))).toBe(false);
  });

  it('HTTP errors other than 404 are named', async () => {
    const url = serveModel('e/gpt2', 'gpt2-tiny');
    routes.set('/e/gpt2/config.json', (_req, res) => res.writeHead(401, 'Unauthorized').end());
    expect(await refusal(urlModelSource(url, { cache: null }).open())).toMatch(
      /e\/gpt2\/config\.json: HTTP 401 Unauthorized \(a gated or private model needs a token\)/,
    );
  });

  it('refuses a model that cannot fit before fetching its weights', async () => {
    const url = serveModel('f/llama', 'llama-tiny');
    requests.length = 0;
    const msg = await refusal(
      urlModelSource(url, { cache: null }).open({ budget: { maxBufferBytes: 1 << 30, budgetBytes: 10_000 } }),
    );
    expect(msg).toMatch(/weights need .* but the memory budget is/);
    expect(requests.some((r) => r.endsWith('.safetensors'))).toBe(false);
  });
});

// ---- malformed checkpoints through the URL source ----

async function tensorsOf(model: string, file: string): Promise<Map<string, TensorToWrite>> {
  const { bytesSource } = await import('../../formats/safetensors');
  const f = await SafetensorsFile.open(bytesSource(read(model, file), file));
  const m = new Map<string, TensorToWrite>();
  for (const k of f.keys()) {
    const i = f.info(k);
    m.set(k, { dtype: i.dtype === 'F16' ? 'F16' : 'F32', shape: i.shape, data: await f.readF32(k) });
  }
  return m;
}

describe('malformed checkpoints are refused with the file and tensor named', () => {
  const open = (prefix: string, model: string, replace: Record<string, Uint8Array | null>) =>
    refusal(urlModelSource(serveModel(prefix, model, replace), { cache: new MemoryCache() }).open());

  it('a truncated file (served short, Content-Length matching), refused from its header', async () => {
    const full = read('gpt2-tiny', 'model.safetensors');
    const msg = await open('m1', 'gpt2-tiny', { 'model.safetensors': full.subarray(0, full.length - 1000) });
    expect(msg).toMatch(
      /m1\/model\.safetensors: tensor ".*": data_offsets .* run past the data section .*truncated file\?/,
    );
  });

  it('an unknown dtype, and an integer dtype where a weight belongs', async () => {
    const full = read('qwen2-tiny', 'model.safetensors');
    const bad = full.slice();
    const text = new TextDecoder().decode(bad.subarray(0, 4096));
    const at = text.indexOf('"dtype":"F16"');
    bad.set(new TextEncoder().encode('"dtype":"F17"'), at);
    expect(await open('m2', 'qwen2-tiny', { 'model.safetensors': bad })).toMatch(
      /m2\/model\.safetensors: tensor ".*": unknown dtype "F17"/,
    );
    const t = await tensorsOf('gpt2-tiny', 'model.safetensors');
    const ln = t.get('h.1.ln_2.bias')!;
    t.set('h.1.ln_2.bias', { dtype: 'I32', shape: ln.shape, data: Array.from(ln.data, Math.round) });
    expect(await open('m3', 'gpt2-tiny', { 'model.safetensors': writeSafetensors(t) })).toMatch(
      /m3\/model\.safetensors: tensor "h\.1\.ln_2\.bias" is I32; weights must be F32, F16 or BF16/,
    );
  });

  it('a shape that disagrees with config.json', async () => {
    const t = await tensorsOf('gpt2-tiny', 'model.safetensors');
    t.set('h.0.mlp.c_fc.weight', { dtype: 'F32', shape: [64, 16], data: t.get('h.0.mlp.c_fc.weight')!.data });
    expect(await open('m4', 'gpt2-tiny', { 'model.safetensors': writeSafetensors(t) })).toMatch(
      /m4\/model\.safetensors: tensor "h\.0\.mlp\.c_fc\.weight" has shape \[64,16\] but .*m4\/config\.json implies \[16,64\]/,
    );
  });

  it('a missing tensor', async () => {
    const t = await tensorsOf('qwen2-tiny', 'model.safetensors');
    t.delete('model.layers.1.self_attn.k_proj.bias');
    expect(await open('m5', 'qwen2-tiny', { 'model.safetensors': writeSafetensors(t) })).toMatch(
      /m5\/model\.safetensors: is missing 1 tensor\(s\) that .*config\.json implies: "model\.layers\.1\.self_attn\.k_proj\.bias"/,
    );
  });

  it('bad indexes: invalid JSON, a shard that is not there, a key its shard lacks, a path in a shard name', async () => {
    const idx = JSON.parse(new TextDecoder().decode(read('llama-tiny', 'model.safetensors.index.json'))) as {
      weight_map: Record<string, string>;
    };
    const enc = (o: unknown) => new TextEncoder().encode(typeof o === 'string' ? o : JSON.stringify(o));
    expect(
      await open('i1', 'llama-tiny', { 'model.safetensors.index.json': enc('{"weight_map": {') }),
    ).toMatch(/i1\/model\.safetensors\.index\.json: invalid JSON at line 1, column \d+/);
    expect(await open('i2', 'llama-tiny', { 'model-00002-of-00002.safetensors': null })).toMatch(
      /i2\/model\.safetensors\.index\.json: names shard "model-00002-of-00002\.safetensors", which is not there/,
    );
    const moved = {
      ...idx,
      weight_map: { ...idx.weight_map, 'lm_head.weight': 'model-00001-of-00002.safetensors' },
    };
    expect(await open('i3', 'llama-tiny', { 'model.safetensors.index.json': enc(moved) })).toMatch(
      /i3\/model\.safetensors\.index\.json: lists tensor "lm_head\.weight" in model-00001-of-00002\.safetensors, which does not contain it/,
    );
    const escaping = { ...idx, weight_map: { ...idx.weight_map, 'lm_head.weight': '../secret.safetensors' } };
    expect(await open('i4', 'llama-tiny', { 'model.safetensors.index.json': enc(escaping) })).toMatch(
      /weight_map\["lm_head\.weight"\] = "\.\.\/secret\.safetensors" must be a plain file name/,
    );
  });

  it('a tokenizer larger than the config vocabulary', async () => {
    const cfg = JSON.parse(new TextDecoder().decode(read('gpt2-tiny', 'config.json'))) as Record<
      string,
      unknown
    >;
    cfg.vocab_size = 100;
    expect(
      await open('t1', 'gpt2-tiny', { 'config.json': new TextEncoder().encode(JSON.stringify(cfg)) }),
    ).toMatch(/t1\/tokenizer\.json: has 267 token ids but .*t1\/config\.json says vocab_size = 100/);
  });
});
