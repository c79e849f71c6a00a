// Models from the Hugging Face Hub in Node (the CLI's --model ORG/NAME[@REVISION]): the model's files are
// downloaded by @huggingface/hub's downloadFileToCacheDir into huggingface_hub's own cache layout
// (HF_HUB_CACHE, else HF_HOME/hub, else ~/.cache/huggingface/hub: blobs/, snapshots/<commit>/, refs/<branch>,
// .no_exist/<commit>/<file>), so Python's transformers and this CLI share one copy. The revision is resolved
// to a commit once (model info) and written to refs/, so the next load works offline (no network, or
// HF_HUB_OFFLINE=1) from the snapshot folder, as huggingface_hub does. Only the model's files are fetched
// (see hub.ts), not the whole repo (snapshotDownload would also take pytorch_model.bin, ONNX exports, ...).
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { downloadFileToCacheDir, getHFHubCachePath, getRepoFolderName, pathsInfo } from '@huggingface/hub';
import {
  COMMIT_RE,
  collectModelFiles,
  describeHubError,
  formatHubModelId,
  HubError,
  type HubFetch,
  type HubModelId,
  hubFetch,
  normalizeEndpoint,
  resolveHubCommit,
} from './hub';
import { CONFIG_FILE, type FileProgress } from './open';

export interface NodeHubOptions {
  /** Default: DEFAULT_HF_ENDPOINT. */
  endpoint?: string;
  /** Default: @huggingface/hub's getHFHubCachePath() (HF_HUB_CACHE, HF_HOME, ~/.cache/huggingface/hub). */
  cacheDir?: string;
  accessToken?: string;
  /** Never ask the network (HF_HUB_OFFLINE=1): only the cache answers. */
  offline?: boolean;
  onProgress?: (p: FileProgress) => void;
  /** Only these files (e.g. config.json for a plan); default: the whole model (collectModelFiles). */
  only?: readonly string[];
  /** Default METADATA_TIMEOUT_MS. */
  metadataTimeoutMs?: number;
}

export interface NodeHubModel {
  /** The snapshot folder: a model folder in Hugging Face layout (symlinks into blobs/). */
  dir: string;
  commit: string;
  /** True when the network was not asked or did not answer and the cache served everything. */
  offline: boolean;
}

const TOKEN_HINT = 'set HF_TOKEN to a token that has access';

/** The environment's Hub settings, as huggingface_hub reads them. */
export function hubEnv(
  env: NodeJS.ProcessEnv = process.env,
): Pick<NodeHubOptions, 'endpoint' | 'accessToken' | 'offline'> {
  const offline = (env.HF_HUB_OFFLINE ?? '').trim().toLowerCase();
  return {
    endpoint: env.HF_ENDPOINT,
    accessToken: env.HF_TOKEN || env.HUGGING_FACE_HUB_TOKEN || undefined,
    offline: offline === '1' || offline === 'true' || offline === 'yes' || offline === 'on',
  };
}

/** Runs `fn` with console.debug silenced: downloadFileToCacheDir logs each file with it, to stdout, where the
 * CLI writes its JSON lines. */
async function quietly<T>(fn: () => Promise<T>): Promise<T> {
  const debug = console.debug;
  console.debug = () => {};
  try {
    return await fn();
  } finally {
    console.debug = debug;
  }
}

/** Downloads (or finds in the cache) a model repo's files at a revision; answers its snapshot folder. */
export async function downloadHubModel(id: HubModelId, opts: NodeHubOptions = {}): Promise<NodeHubModel> {
  const endpoint = normalizeEndpoint(opts.endpoint);
  const cacheDir = opts.cacheDir ?? getHFHubCachePath();
  const storage = join(cacheDir, getRepoFolderName({ type: 'model', name: id.repo }));
  const refFile = join(storage, 'refs', id.revision);
  const ctx = (hf: HubFetch | null, file?: string) => ({
    id,
    endpoint,
    file,
    failure: hf?.lastFailure() ?? null,
    tokenHint: TOKEN_HINT,
  });
  const notCached = (what: string) =>
    new HubError(
      'network',
      `${formatHubModelId(id)}: ${what} is not in the cache (${cacheDir})` +
        (opts.offline ? ' and HF_HUB_OFFLINE is set' : `, and ${endpoint} cannot be reached`),
    );

  let offline = !!opts.offline;
  let commit: string;
  if (COMMIT_RE.test(id.revision)) commit = id.revision;
  else {
    const cached = () => {
      if (!existsSync(refFile)) throw notCached(`revision "${id.revision}"`);
      return readFileSync(refFile, 'utf8').trim();
    };
    if (offline) commit = cached();
    else {
      try {
        commit = await resolveHubCommit(id, endpoint, {
          fetch: globalThis.fetch.bind(globalThis),
          accessToken: opts.accessToken,
          metadataTimeoutMs: opts.metadataTimeoutMs,
          tokenHint: TOKEN_HINT,
        });
        mkdirSync(dirname(refFile), { recursive: true });
        writeFileSync(refFile, commit);
      } catch (e) {
        if (!(e instanceof HubError) || e.kind !== 'network') throw e;
        offline = true;
        commit = cached();
      }
    }
  }

  const snapshot = join(storage, 'snapshots', commit);
  const absentMark = (file: string) => join(storage, '.no_exist', commit, file);
  const get = async (file: string): Promise<string | null> => {
    const pointer = join(snapshot, file);
    if (existsSync(pointer)) {
      opts.onProgress?.({ file, loadedBytes: 0, totalBytes: null, cached: true, done: true });
      return pointer;
    }
    if (existsSync(absentMark(file))) return null;
    if (offline) throw notCached(file);
    let total: number | null = null;
    const hf = hubFetch(globalThis.fetch.bind(globalThis), {
      file,
      total: () => total,
      onProgress: opts.onProgress,
    });
    try {
      const [info] = await pathsInfo({
        repo: { type: 'model', name: id.repo },
        paths: [file],
        revision: commit,
        hubUrl: endpoint,
        fetch: hf.fetch,
        accessToken: opts.accessToken,
      });
      if (!info) {
        // huggingface_hub's marker for "no such file at this commit", read by the offline path above.
        mkdirSync(dirname(absentMark(file)), { recursive: true });
        writeFileSync(absentMark(file), '');
        return null;
      }
      total = info.lfs?.size ?? info.size;
      // xet: false reaches downloadFile (downloadFileToCacheDir passes its params on): the bytes come by
      // plain HTTP from where the resolve endpoint redirects, one streamed body that progress can count,
      // rather than reassembled from Xet chunks.
      const params: Parameters<typeof downloadFileToCacheDir>[0] & { xet: false } = {
        repo: { type: 'model', name: id.repo },
        path: file,
        revision: commit,
        hubUrl: endpoint,
        cacheDir,
        fetch: hf.fetch,
        accessToken: opts.accessToken,
        xet: false,
      };
      const path = await quietly(() => downloadFileToCacheDir(params));
      opts.onProgress?.({ file, loadedBytes: total, totalBytes: total, cached: false, done: true });
      return path;
    } catch (e) {
      throw describeHubError(hf.broken() ?? e, ctx(hf, file));
    }
  };

  const name = `${formatHubModelId(id)} (commit ${commit.slice(0, 8)})`;
  if (opts.only) {
    for (const f of opts.only)
      if ((await get(f)) === null) throw new HubError('missing-file', `${name} has no ${f}`);
  } else {
    await collectModelFiles(get, async (p) => readFileSync(p, 'utf8'), name);
  }
  return { dir: snapshot, commit, offline };
}

/** config.json alone (a plan before any weight is downloaded): its text and where it came from. */
export async function hubConfigText(
  id: HubModelId,
  opts: NodeHubOptions = {},
): Promise<{ text: string; file: string }> {
  const m = await downloadHubModel(id, { ...opts, only: [CONFIG_FILE] });
  const file = join(m.dir, CONFIG_FILE);
  return { text: readFileSync(file, 'utf8'), file };
}
