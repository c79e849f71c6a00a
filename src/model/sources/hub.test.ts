// Hub models against a local stand-in for the Hub (test/helpers/hub-server.ts), through @huggingface/hub's
// requests: the Node download into huggingface_hub's cache layout (snapshots/<commit>, blobs by sha256 for
// LFS files, refs/<branch>, .no_exist markers) and the page's download through a CacheLike keyed by commit.
// Each checks bytes against the fixture folder, the redirect for large files followed, the second load with
// the server stopped served from the cache, revision pinning, and the named errors.
import { createHash } from 'node:crypto';
import { copyFileSync, mkdtempSync, readdirSync, readFileSync, realpathSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type HubServer, startHubServer } from '../../../test/helpers/hub-server';
import { filesModelSource } from './files';
import { HubError, HubModel, parseHubModelId } from './hub';
import { downloadHubModel } from './hub-node';
import type { FileProgress } from './open';
import { MemoryCache } from './url';

const LLAMA = 'test/fixtures/models/llama-tiny'; // sharded: an index and two shards
const GPT2 = 'test/fixtures/models/gpt2-tiny'; // one model.safetensors
const MAIN = 'a'.repeat(40);
const OLD = 'b'.repeat(40);
const MODEL_FILES = [
  'config.json',
  'model-00001-of-00002.safetensors',
  'model-00002-of-00002.safetensors',
  'model.safetensors.index.json',
  'tokenizer.json',
  'tokenizer_config.json',
];

let hub: HubServer;
let noWeights: string;

beforeAll(async () => {
  noWeights = mkdtempSync(join(tmpdir(), 'hub-noweights-'));
  for (const f of ['config.json', 'tokenizer.json']) copyFileSync(join(GPT2, f), join(noWeights, f));
  hub = await startHubServer({
    'org/tiny': { commits: { [MAIN]: LLAMA, [OLD]: GPT2 }, refs: { main: MAIN, v1: OLD } },
    'org/gated': { commits: { [MAIN]: GPT2 }, refs: { main: MAIN }, token: 'hf_test' },
    'org/noweights': { commits: { [MAIN]: noWeights }, refs: { main: MAIN } },
    'org/xet': { commits: { [MAIN]: LLAMA }, refs: { main: MAIN }, xet: true },
  });
});
afterAll(() => hub.close());

async function expectHubError(p: Promise<unknown>, kind: HubError['kind'], text: RegExp): Promise<void> {
  const e = await p.then(
    () => null,
    (x: unknown) => x,
  );
  expect(e).toBeInstanceOf(HubError);
  expect((e as HubError).kind).toBe(kind);
  expect((e as HubError).message).toMatch(text);
}

describe('parseHubModelId', () => {
  it('reads ORG/NAME and ORG/NAME@REVISION, refuses what is not a repo id', () => {
    expect(parseHubModelId('HuggingFaceTB/SmolLM2-135M')).toEqual({
      repo: 'HuggingFaceTB/SmolLM2-135M',
      revision: 'main',
    });
    expect(parseHubModelId('Qwen/Qwen2.5-0.5B@v1.0')).toEqual({
      repo: 'Qwen/Qwen2.5-0.5B',
      revision: 'v1.0',
    });
    for (const bad of ['gpt2', './models/x', '/abs/dir', 'a/b/c', 'org/name@', '../x', 'org/..']) {
      expect(parseHubModelId(bad), bad).toBeNull();
    }
  });
});

describe('downloadHubModel (Node, huggingface_hub cache layout)', () => {
  it('downloads a sharded model at main, follows the redirect, then loads it again offline', async () => {
    const cacheDir = mkdtempSync(join(tmpdir(), 'hub-cache-'));
    const done: FileProgress[] = [];
    const before = hub.requests.length;
    const m = await downloadHubModel(parseHubModelId('org/tiny')!, {
      endpoint: hub.url,
      cacheDir,
      onProgress: (p) => p.done && done.push(p),
    });
    expect(m.commit).toBe(MAIN);
    expect(m.offline).toBe(false);
    const storage = join(cacheDir, 'models--org--tiny');
    expect(m.dir).toBe(join(storage, 'snapshots', MAIN));
    expect(readdirSync(m.dir).sort()).toEqual(MODEL_FILES);
    for (const f of MODEL_FILES)
      expect(readFileSync(join(m.dir, f)), f).toEqual(readFileSync(join(LLAMA, f)));
    // A shard's blob is named by its sha256 (the LFS oid), as huggingface_hub names it.
    const shard = readFileSync(join(LLAMA, 'model-00001-of-00002.safetensors'));
    const sha256 = createHash('sha256').update(shard).digest('hex');
    expect(realpathSync(join(m.dir, 'model-00001-of-00002.safetensors'))).toBe(
      realpathSync(join(storage, 'blobs', sha256)),
    );
    expect(readFileSync(join(storage, 'refs', 'main'), 'utf8')).toBe(MAIN);
    // generation_config.json is not in the repo: remembered, so an offline load does not ask for it.
    expect(readdirSync(join(storage, '.no_exist', MAIN))).toEqual(['generation_config.json']);
    const asked = hub.requests.slice(before);
    expect(
      asked.some((r) => r.startsWith(`GET /org/tiny/resolve/${MAIN}/model-00001-of-00002.safetensors`)),
    ).toBe(true);
    expect(asked.filter((r) => r.startsWith(`GET /lfs-cdn/${sha256}`)).length).toBeGreaterThanOrEqual(1);
    expect(done.map((p) => p.file).sort()).toEqual(MODEL_FILES);
    expect(done.find((p) => p.file === 'model-00001-of-00002.safetensors')?.loadedBytes).toBe(shard.length);

    // Offline: a server that does not answer at all; the ref and the snapshot answer.
    const dead = 'http://127.0.0.1:9'; // the discard port: nothing listens
    const again = await downloadHubModel(parseHubModelId('org/tiny')!, { endpoint: dead, cacheDir });
    expect(again).toEqual({ dir: m.dir, commit: MAIN, offline: true });
    // A Hub that takes connections and never answers: after the metadata timeout the cache answers.
    const silent = createServer(() => {});
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
    try {
      const hung = await downloadHubModel(parseHubModelId('org/tiny')!, {
        endpoint: `http://127.0.0.1:${(silent.address() as AddressInfo).port}`,
        cacheDir,
        metadataTimeoutMs: 300,
      });
      expect(hung).toEqual({ dir: m.dir, commit: MAIN, offline: true });
    } finally {
      silent.closeAllConnections();
      silent.close();
    }
    const envOffline = await downloadHubModel(parseHubModelId('org/tiny')!, {
      endpoint: hub.url,
      cacheDir,
      offline: true,
    });
    expect(envOffline.dir).toBe(m.dir);
  });

  it('pins a revision (a tag or a commit) to its own snapshot', async () => {
    const cacheDir = mkdtempSync(join(tmpdir(), 'hub-cache-'));
    const tag = await downloadHubModel(parseHubModelId('org/tiny@v1')!, { endpoint: hub.url, cacheDir });
    expect(tag.commit).toBe(OLD);
    expect(readFileSync(join(tag.dir, 'model.safetensors'))).toEqual(
      readFileSync(join(GPT2, 'model.safetensors')),
    );
    expect(JSON.parse(readFileSync(join(tag.dir, 'config.json'), 'utf8')).model_type).toBe('gpt2');
    expect(readFileSync(join(cacheDir, 'models--org--tiny', 'refs', 'v1'), 'utf8')).toBe(OLD);
    // A commit sha already in the cache needs no network at all.
    const bySha = await downloadHubModel(parseHubModelId(`org/tiny@${OLD}`)!, {
      endpoint: 'http://127.0.0.1:9',
      cacheDir,
    });
    expect(bySha.dir).toBe(tag.dir);
  });

  it('names what went wrong: unknown repo, gated, unknown revision, missing file, network', async () => {
    const cacheDir = mkdtempSync(join(tmpdir(), 'hub-cache-'));
    const o = { endpoint: hub.url, cacheDir };
    await expectHubError(
      downloadHubModel(parseHubModelId('org/nope')!, o),
      'unknown-repo',
      /org\/nope: no such model on/,
    );
    await expectHubError(
      downloadHubModel(parseHubModelId('org/gated')!, o),
      'gated',
      /org\/gated is gated.*HF_TOKEN/,
    );
    const ok = await downloadHubModel(parseHubModelId('org/gated')!, { ...o, accessToken: 'hf_test' });
    expect(readFileSync(join(ok.dir, 'model.safetensors'))).toEqual(
      readFileSync(join(GPT2, 'model.safetensors')),
    );
    await expectHubError(
      downloadHubModel(parseHubModelId('org/tiny@nobranch')!, o),
      'unknown-revision',
      /org\/tiny has no revision "nobranch"/,
    );
    await expectHubError(
      downloadHubModel(parseHubModelId('org/noweights')!, o),
      'missing-file',
      /org\/noweights \(commit aaaaaaaa\) has no model.safetensors/,
    );
    await expectHubError(
      downloadHubModel(parseHubModelId('org/tiny')!, { endpoint: 'http://127.0.0.1:9', cacheDir }),
      'network',
      /org\/tiny: revision "main" is not in the cache .*cannot be reached/,
    );
  });
});

describe('a repo whose large files are stored with Xet', () => {
  it('downloads them over plain HTTP (the redirect), in Node and in the page, never asking a Xet service', async () => {
    const before = hub.requests.length;
    const m = await downloadHubModel(parseHubModelId('org/xet')!, {
      endpoint: hub.url,
      cacheDir: mkdtempSync(join(tmpdir(), 'hub-cache-')),
    });
    for (const f of MODEL_FILES)
      expect(readFileSync(join(m.dir, f)), f).toEqual(readFileSync(join(LLAMA, f)));
    const h = await HubModel.open(parseHubModelId('org/xet')!, {
      endpoint: hub.url,
      cache: new MemoryCache(),
    });
    const files = await h.files();
    for (const f of files)
      expect(new Uint8Array(await f.arrayBuffer()), f.name).toEqual(
        new Uint8Array(readFileSync(join(LLAMA, f.name))),
      );
    const asked = hub.requests.slice(before);
    expect(asked.filter((r) => r.includes('/xet-'))).toEqual([]);
    expect(asked.filter((r) => r.startsWith('GET /lfs-cdn/')).length).toBe(4); // 2 shards × (Node, page)
  });
});

describe('a connection lost mid-download', () => {
  it('is named as the network, caches nothing, and a retry completes the model', async () => {
    const cacheDir = mkdtempSync(join(tmpdir(), 'hub-cache-'));
    const cache = new MemoryCache();
    hub.cutDownloads = true;
    try {
      await expectHubError(
        downloadHubModel(parseHubModelId('org/tiny')!, { endpoint: hub.url, cacheDir }),
        'network',
        /^org\/tiny\/model-0000\d-of-00002\.safetensors: the network was lost during the download \(the connection broke after \d+ bytes/,
      );
      const h = await HubModel.open(parseHubModelId('org/tiny')!, { endpoint: hub.url, cache });
      await expectHubError(
        h.files(),
        'network',
        /^org\/tiny\/model-0000\d-of-00002\.safetensors: the network was lost/,
      );
    } finally {
      hub.cutDownloads = false;
    }
    const blobs = join(cacheDir, 'models--org--tiny', 'blobs');
    const shard = readFileSync(join(LLAMA, 'model-00001-of-00002.safetensors'));
    const sha256 = createHash('sha256').update(shard).digest('hex');
    expect(readdirSync(blobs)).not.toContain(sha256);
    expect(cache.keys().filter((k) => k.endsWith('.safetensors'))).toEqual([]);
    const m = await downloadHubModel(parseHubModelId('org/tiny')!, { endpoint: hub.url, cacheDir });
    expect(readFileSync(join(m.dir, 'model-00001-of-00002.safetensors'))).toEqual(shard);
    const h = await HubModel.open(parseHubModelId('org/tiny')!, { endpoint: hub.url, cache });
    expect((await h.files()).find((f) => f.name === 'model-00001-of-00002.safetensors')?.size).toBe(
      shard.length,
    );
  });
});

describe('HubModel (the page: a CacheLike keyed by commit)', () => {
  it('loads the model files, validates them, then serves them from the cache with the server gone', async () => {
    const own = await startHubServer({ 'org/tiny': { commits: { [MAIN]: LLAMA }, refs: { main: MAIN } } });
    const cache = new MemoryCache();
    const progress: FileProgress[] = [];
    const h = await HubModel.open(parseHubModelId('org/tiny')!, {
      endpoint: own.url,
      cache,
      onProgress: (p) => progress.push(p),
    });
    expect(h.commit).toBe(MAIN);
    expect(JSON.parse((await h.text('config.json'))!).model_type).toBe('llama');
    const files = await h.files();
    expect(files.map((f) => f.name).sort()).toEqual(MODEL_FILES);
    for (const f of files)
      expect(new Uint8Array(await f.arrayBuffer()), f.name).toEqual(
        new Uint8Array(readFileSync(join(LLAMA, f.name))),
      );
    const opened = await filesModelSource(files).open();
    expect(opened.layout).toEqual({ shards: 2 });
    expect(opened.config.numLayers).toBe(2);
    const shardSize = readFileSync(join(LLAMA, 'model-00002-of-00002.safetensors')).length;
    const mid = progress.filter((p) => p.file === 'model-00002-of-00002.safetensors' && !p.done);
    expect(mid.length).toBeGreaterThan(0);
    expect(mid.every((p) => p.totalBytes === shardSize)).toBe(true);
    expect(mid.at(-1)?.loadedBytes).toBe(shardSize);
    expect(cache.keys()).toContain(`${own.url}/org/tiny/resolve/${MAIN}/model-00002-of-00002.safetensors`);
    expect(own.requests.some((r) => r.startsWith('GET /lfs-cdn/'))).toBe(true);

    // Offline: the branch's commit and every file come from the cache, each reported as cached.
    await own.close();
    const cachedProgress: FileProgress[] = [];
    const off = await HubModel.open(parseHubModelId('org/tiny')!, {
      endpoint: own.url,
      cache,
      onProgress: (p) => cachedProgress.push(p),
    });
    expect(off.offline).toBe(true);
    expect(off.commit).toBe(MAIN);
    const again = await off.files();
    expect(again.map((f) => f.size)).toEqual(files.map((f) => f.size));
    expect(cachedProgress.every((p) => p.cached && p.done)).toBe(true);
  });

  it('names the errors as the CLI does', async () => {
    const o = { endpoint: hub.url, cache: new MemoryCache(), tokenHint: 'open the page with a token' };
    await expectHubError(
      HubModel.open(parseHubModelId('org/nope')!, o),
      'unknown-repo',
      /org\/nope: no such model/,
    );
    await expectHubError(
      HubModel.open(parseHubModelId('org/gated')!, o),
      'gated',
      /gated.*open the page with a token/,
    );
    await expectHubError(
      HubModel.open(parseHubModelId('org/tiny@x')!, o),
      'unknown-revision',
      /no revision "x"/,
    );
    const nw = await HubModel.open(parseHubModelId('org/noweights')!, o);
    await expectHubError(nw.files(), 'missing-file', /has no model.safetensors/);
    await expectHubError(
      HubModel.open(parseHubModelId('org/tiny')!, { ...o, endpoint: 'http://127.0.0.1:9' }),
      'network',
      /cannot be reached.*offline, and org\/tiny is not in the cache/,
    );
  });
});
