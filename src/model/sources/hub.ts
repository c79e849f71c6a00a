// Models from the Hugging Face Hub, the parts every runtime shares: what `ORG/NAME[@REVISION]` means, which
// files of a repo make a model (and in which order they are fetched: config.json first, so a plan can be
// shown before a weight byte moves), the Hub's errors turned into sentences that name the repo (unknown
// repo, gated, unknown revision, missing file, network lost), and the page's download: the requests are
// @huggingface/hub's (model info for the commit a revision names, the resolve endpoint with its redirects
// for large files), the bytes go through a CacheLike (the Cache API in the browser) keyed by the resolved
// commit, so a second load, or an offline one, never asks the network for a file. The Node download into
// huggingface_hub's cache folder is ./hub-node (kept apart: node:fs).
import { downloadFile, HubApiError, modelInfo } from '@huggingface/hub';
import { parseShardIndex, SHARD_INDEX_FILE } from '../../formats/sharded';
import { CONFIG_FILE, type FileProgress, SINGLE_FILE, TOKENIZER_CONFIG_FILE, TOKENIZER_FILE } from './open';
import { type CacheLike, defaultModelCache } from './url';

/** How long the revision → commit question waits before the cache answers instead (huggingface_hub's
 * HF_HUB_ETAG_TIMEOUT default). Downloads themselves have no limit. */
export const METADATA_TIMEOUT_MS = 10_000;

/** huggingface_hub's default; HF_ENDPOINT (CLI) or ?hf_endpoint= (page) changes it. */
export const DEFAULT_HF_ENDPOINT = 'https://huggingface.co';
export const GENERATION_CONFIG_FILE = 'generation_config.json';

export interface HubModelId {
  /** "ORG/NAME". */
  repo: string;
  /** A branch, a tag or a commit sha; "main" when none was given. */
  revision: string;
}

const REPO_RE = /^[A-Za-z0-9][\w.-]*\/[A-Za-z0-9][\w.-]*$/;
export const COMMIT_RE = /^[0-9a-f]{40}$/;

/** `ORG/NAME` or `ORG/NAME@REVISION` as a Hub model id, or null when the text is not one. */
export function parseHubModelId(text: string): HubModelId | null {
  const at = text.indexOf('@');
  const repo = at < 0 ? text : text.slice(0, at);
  const revision = at < 0 ? 'main' : text.slice(at + 1);
  if (!REPO_RE.test(repo) || repo.includes('..') || revision === '' || /\s/.test(revision)) return null;
  return { repo, revision };
}

export function formatHubModelId(id: HubModelId): string {
  return id.revision === 'main' ? id.repo : `${id.repo}@${id.revision}`;
}

/** An endpoint as typed (trailing slashes dropped), or a sentence saying why it is not one. */
export function normalizeEndpoint(endpoint: string | undefined | null): string {
  const e = (endpoint ?? '').trim() || DEFAULT_HF_ENDPOINT;
  let u: URL;
  try {
    u = new URL(e);
  } catch {
    throw new HubError('http', `${e}: not a URL (the Hub endpoint is e.g. ${DEFAULT_HF_ENDPOINT})`);
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:')
    throw new HubError('http', `${e}: the Hub endpoint must be an http(s) URL`);
  return e.replace(/\/+$/, '');
}

export type HubErrorKind =
  | 'unknown-repo'
  | 'gated'
  | 'unknown-revision'
  | 'missing-file'
  | 'network'
  | 'http';

/** A Hub failure, named: `kind` for code, `message` a sentence for people. */
export class HubError extends Error {
  readonly kind: HubErrorKind;
  constructor(kind: HubErrorKind, message: string) {
    super(message);
    this.name = 'HubError';
    this.kind = kind;
  }
}

/** The answer of the last failed request: HubApiError keeps the status, not the Hub's X-Error-Code. */
interface FailedAnswer {
  status: number;
  code: string | null;
  url: string;
}

/** A fetch that never throws a bare TypeError for a lost network, with the last failure's error code. */
export interface HubFetch {
  fetch: typeof fetch;
  lastFailure(): FailedAnswer | null;
  /** Set when a request got no answer or a body broke off: the network, not the Hub, failed. */
  broken(): NoAnswer | null;
}

/** Thrown where fetch itself failed (no answer), or a body broke off (`midway`): a network that is down. */
class NoAnswer extends Error {
  constructor(
    message: string,
    readonly midway = false,
  ) {
    super(message);
  }
}

const reasonOf = (e: unknown) =>
  e instanceof Error ? (e.cause instanceof Error ? e.cause.message : e.message) : String(e);

/** What a full-body download reports, for progress. */
export interface BodyWatch {
  file: string;
  /** The file's size once known (the probe's answer), else null. */
  total: () => number | null;
  onProgress?: (p: FileProgress) => void;
}

/**
 * Wraps `base` so errors can be named: remembers the last non-OK answer (status, X-Error-Code) and turns
 * "no answer at all" or a body that breaks off into NoAnswer. With `watch`, each full-body download (GET,
 * no Range) is counted for progress: @huggingface/hub fetches a file's bytes with exactly one such request,
 * after a `Range: bytes=0-0` probe that tells the size. With `timeoutMs`, a request that has no answer by then
 * counts as no answer (a network that hangs rather than refuses still falls back to the cache).
 */
export function hubFetch(base: typeof fetch, watch?: BodyWatch, timeoutMs?: number): HubFetch {
  let last: FailedAnswer | null = null;
  let broken: NoAnswer | null = null;
  const wrapped = async (input: RequestInfo | URL, init?: RequestInit): Promise<Response> => {
    let res: Response;
    try {
      res = await base(
        input,
        timeoutMs && !init?.signal ? { ...init, signal: AbortSignal.timeout(timeoutMs) } : init,
      );
    } catch (e) {
      broken = new NoAnswer(reasonOf(e));
      throw broken;
    }
    if (!res.ok) {
      last = { status: res.status, code: res.headers.get('x-error-code'), url: res.url || String(input) };
      return res;
    }
    const method = (init?.method ?? 'GET').toUpperCase();
    if (!watch || method !== 'GET' || new Headers(init?.headers).has('range') || !res.body) return res;
    const total = watch.total();
    // Only the file's own body: any other whole GET (a token, a JSON answer) has another length.
    const length = res.headers.get('content-length');
    const encoded = (res.headers.get('content-encoding') ?? 'identity') !== 'identity';
    if (total === null || (length !== null && !encoded && Number(length) !== total)) return res;
    const reader = res.body.getReader();
    let loaded = 0;
    const fail = (c: ReadableStreamDefaultController<Uint8Array>, why: string) => {
      broken = new NoAnswer(why, true);
      c.error(broken);
    };
    const counted = new ReadableStream<Uint8Array>({
      async pull(c) {
        let r: ReadableStreamReadResult<Uint8Array>;
        try {
          r = await reader.read();
        } catch (e) {
          fail(c, `the connection broke after ${loaded} bytes (${reasonOf(e)})`);
          return;
        }
        if (r.done) {
          if (total !== null && loaded !== total)
            fail(c, `the download ended after ${loaded} of ${total} bytes`);
          else c.close();
          return;
        }
        loaded += r.value.length;
        watch.onProgress?.({
          file: watch.file,
          loadedBytes: loaded,
          totalBytes: total,
          cached: false,
          done: false,
        });
        c.enqueue(r.value);
      },
      cancel: (why) => reader.cancel(why),
    });
    return new Response(counted, { status: res.status, statusText: res.statusText, headers: res.headers });
  };
  return { fetch: wrapped as typeof fetch, lastFailure: () => last, broken: () => broken };
}

/** A Hub failure as a sentence naming the repo, revision and file; `tokenHint` says how to pass a token. */
export function describeHubError(
  e: unknown,
  ctx: { id: HubModelId; endpoint: string; file?: string; failure: FailedAnswer | null; tokenHint: string },
): HubError {
  if (e instanceof HubError) return e;
  const name = formatHubModelId(ctx.id);
  if (e instanceof NoAnswer && e.midway)
    return new HubError(
      'network',
      `${name}${ctx.file ? `/${ctx.file}` : ''}: the network was lost during the download (${e.message}); ` +
        'nothing of it was kept, so loading again downloads it whole',
    );
  if (e instanceof NoAnswer || (e instanceof TypeError && /fetch|network/i.test(e.message)))
    return new HubError(
      'network',
      `${ctx.endpoint} cannot be reached (${e.message}): offline, and ${name} is not in the cache` +
        (ctx.file ? ` (${ctx.file})` : ''),
    );
  const status = e instanceof HubApiError ? e.statusCode : ctx.failure?.status;
  const code = ctx.failure?.code ?? null;
  if (code === 'GatedRepo' || ((status === 401 || status === 403) && code !== 'RepoNotFound' && !!code))
    return new HubError(
      'gated',
      `${ctx.id.repo} is gated or private: accept its conditions on the model's page, then ${ctx.tokenHint}`,
    );
  if (code === 'RepoNotFound' || ((status === 401 || status === 404) && !code))
    return new HubError(
      'unknown-repo',
      `${ctx.id.repo}: no such model on ${ctx.endpoint} (check the name; a private repo also needs a token: ${ctx.tokenHint})`,
    );
  if (code === 'RevisionNotFound')
    return new HubError('unknown-revision', `${ctx.id.repo} has no revision "${ctx.id.revision}"`);
  if (code === 'EntryNotFound' && ctx.file) return new HubError('missing-file', `${name} has no ${ctx.file}`);
  const msg = e instanceof Error ? e.message : String(e);
  return new HubError('http', `${name}${ctx.file ? `/${ctx.file}` : ''}: ${msg}`);
}

/**
 * The files of a model repo, in the order they are fetched; `get` answers one file or null when the repo
 * has none. config.json and tokenizer.json must be there, as must the weights (one file or the shards the
 * index names); tokenizer_config.json (the chat template) and generation_config.json are taken when present.
 */
export async function collectModelFiles<T>(
  get: (file: string) => Promise<T | null>,
  text: (t: T) => Promise<string>,
  name: string,
): Promise<Map<string, T>> {
  const out = new Map<string, T>();
  const need = async (file: string) => {
    const t = await get(file);
    if (t === null) throw new HubError('missing-file', `${name} has no ${file}`);
    out.set(file, t);
    return t;
  };
  const may = async (file: string) => {
    const t = await get(file);
    if (t !== null) out.set(file, t);
    return t;
  };
  await need(CONFIG_FILE);
  await need(TOKENIZER_FILE);
  await may(TOKENIZER_CONFIG_FILE);
  await may(GENERATION_CONFIG_FILE);
  const index = await may(SHARD_INDEX_FILE);
  if (index !== null) {
    const shards = parseShardIndex(await text(index), `${name}/${SHARD_INDEX_FILE}`).shards;
    for (const s of shards) await need(s);
  } else {
    const single = await get(SINGLE_FILE);
    if (single === null)
      throw new HubError(
        'missing-file',
        `${name} has no ${SINGLE_FILE} (nor ${SHARD_INDEX_FILE}): no safetensors weights`,
      );
    out.set(SINGLE_FILE, single);
  }
  return out;
}

/**
 * The commit a revision (branch or tag) names now, from the Hub's model info; a failure comes back as a
 * HubError that names the repo (kind 'network' when the Hub could not be reached: callers then try their
 * cache). Both front ends' downloads start here.
 */
export async function resolveHubCommit(
  id: HubModelId,
  endpoint: string,
  opts: { fetch: typeof fetch; accessToken?: string; metadataTimeoutMs?: number; tokenHint: string },
): Promise<string> {
  const hf = hubFetch(opts.fetch, undefined, opts.metadataTimeoutMs ?? METADATA_TIMEOUT_MS);
  try {
    const info = await modelInfo({
      name: id.repo,
      revision: id.revision,
      hubUrl: endpoint,
      additionalFields: ['sha'],
      fetch: hf.fetch,
      accessToken: opts.accessToken,
    });
    if (!info.sha || !COMMIT_RE.test(info.sha))
      throw new HubError('http', `${endpoint}: the model info of ${id.repo} names no commit`);
    return info.sha;
  } catch (e) {
    throw describeHubError(e, { id, endpoint, failure: hf.lastFailure(), tokenHint: opts.tokenHint });
  }
}

export interface HubSourceOptions {
  /** Default: DEFAULT_HF_ENDPOINT. */
  endpoint?: string | null;
  /** Default: the browser's Cache API store; null: no cache. */
  cache?: CacheLike | null;
  fetch?: typeof fetch;
  /** A Hugging Face token (hf_...) for gated or private repos. */
  accessToken?: string;
  /** How a user passes a token here, for the gated-repo message. */
  tokenHint?: string;
  onProgress?: (p: FileProgress) => void;
  /** Default METADATA_TIMEOUT_MS. */
  metadataTimeoutMs?: number;
}

// Marks "the repo has no such file at this commit" in the cache, so an offline load can answer too.
const ABSENT = 'x-peft-playground-hub-absent';

/**
 * One model repo at one commit, for the page: the commit a revision names (asked once; remembered in the
 * cache so an offline load of a branch answers from there), and its files through the cache.
 */
export class HubModel {
  private constructor(
    readonly id: HubModelId,
    readonly endpoint: string,
    /** The resolved commit sha: the cache key of every file. */
    readonly commit: string,
    /** True when the network did not answer and the commit came from the cache. */
    readonly offline: boolean,
    private readonly cache: CacheLike | null,
    private readonly opts: HubSourceOptions,
  ) {}

  get name(): string {
    return formatHubModelId(this.id);
  }

  static async open(id: HubModelId, opts: HubSourceOptions = {}): Promise<HubModel> {
    const endpoint = normalizeEndpoint(opts.endpoint);
    const cache = opts.cache !== undefined ? opts.cache : await defaultModelCache();
    if (COMMIT_RE.test(id.revision)) return new HubModel(id, endpoint, id.revision, false, cache, opts);
    const refKey = `${endpoint}/api/models/${id.repo}/revision/${encodeURIComponent(id.revision)}`;
    try {
      const sha = await resolveHubCommit(id, endpoint, {
        fetch: opts.fetch ?? globalThis.fetch.bind(globalThis),
        accessToken: opts.accessToken,
        metadataTimeoutMs: opts.metadataTimeoutMs,
        tokenHint: hint(opts),
      });
      await cache
        ?.put(
          refKey,
          new Response(JSON.stringify({ sha }), {
            headers: { 'content-type': 'application/json' },
          }),
        )
        .catch(() => undefined);
      return new HubModel(id, endpoint, sha, false, cache, opts);
    } catch (e) {
      if (!(e instanceof HubError) || e.kind !== 'network') throw e;
      const err = e;
      const hit = await cache?.match(refKey).catch(() => undefined);
      if (!hit) throw err;
      const { sha } = (await hit.json()) as { sha: string };
      return new HubModel(id, endpoint, sha, true, cache, opts);
    }
  }

  private key(file: string): string {
    return `${this.endpoint}/${this.id.repo}/resolve/${this.commit}/${file}`;
  }

  /** One file of the repo at this commit (from the cache when it is there), or null when it has none. */
  async blob(file: string): Promise<Blob | null> {
    const key = this.key(file);
    const hit = await this.cache?.match(key).catch(() => undefined);
    if (hit) {
      if (hit.headers.has(ABSENT)) return null;
      const b = await hit.blob();
      this.opts.onProgress?.({ file, loadedBytes: b.size, totalBytes: b.size, cached: true, done: true });
      return b;
    }
    let total: number | null = null;
    const hf = hubFetch(this.opts.fetch ?? globalThis.fetch.bind(globalThis), {
      file,
      total: () => total,
      onProgress: this.opts.onProgress,
    });
    const ctx = () => ({
      id: this.id,
      endpoint: this.endpoint,
      file,
      failure: hf.lastFailure(),
      tokenHint: hint(this.opts),
    });
    let blob: Blob | null;
    try {
      // xet: false: the bytes come by plain HTTP from the URL the resolve endpoint redirects to, one
      // streamed request that can be counted for progress and written to the cache as it arrives.
      blob = await downloadFile({
        repo: this.id.repo,
        path: file,
        revision: this.commit,
        hubUrl: this.endpoint,
        fetch: hf.fetch,
        accessToken: this.opts.accessToken,
        xet: false,
      });
    } catch (e) {
      throw describeHubError(e, ctx());
    }
    if (!blob) {
      await this.cache?.put(key, new Response(null, { headers: { [ABSENT]: '1' } })).catch(() => undefined);
      return null;
    }
    total = blob.size;
    let got: Blob;
    try {
      got = await this.store(key, blob, hf);
    } catch (e) {
      throw describeHubError(hf.broken() ?? e, ctx());
    }
    if (got.size !== total) {
      await this.cache?.delete(key).catch(() => false);
      throw new HubError(
        'network',
        `${this.name}/${file}: the download ended after ${got.size} of ${total} bytes`,
      );
    }
    this.opts.onProgress?.({ file, loadedBytes: got.size, totalBytes: got.size, cached: false, done: true });
    return got;
  }

  /** Streams the download into the cache and reads it back (disk-backed); in memory when there is none. */
  private async store(key: string, blob: Blob, hf: HubFetch): Promise<Blob> {
    const c = this.cache;
    if (!c) return new Response(blob.stream()).blob();
    try {
      await c.put(
        key,
        new Response(blob.stream(), { headers: { 'content-type': 'application/octet-stream' } }),
      );
      const back = await c.match(key);
      if (!back) throw new Error('the cache did not keep it');
      return await back.blob();
    } catch (e) {
      await c.delete(key).catch(() => false);
      // The download itself failed (the network, or the Hub's answer): not the cache's doing.
      if (hf.broken() || hf.lastFailure() || e instanceof HubApiError) throw e;
      // The cache refused the file (its quota, storage turned off): the model still loads, uncached.
      console.warn(`${key}: not cached (${e instanceof Error ? e.message : String(e)})`);
      return new Response(blob.stream()).blob();
    }
  }

  async text(file: string): Promise<string | null> {
    const b = await this.blob(file);
    return b ? b.text() : null;
  }

  /** Every file of the model (see collectModelFiles), as named Files for the 'files' model source. */
  async files(): Promise<File[]> {
    const got = await collectModelFiles(
      (f) => this.blob(f),
      (b) => b.text(),
      `${this.name} (commit ${this.commit.slice(0, 8)})`,
    );
    return [...got].map(([name, b]) => new File([b], name, { type: b.type }));
  }
}

function hint(opts: HubSourceOptions): string {
  return opts.tokenHint ?? 'pass a token';
}
