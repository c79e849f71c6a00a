// A local stand-in for the Hugging Face Hub (there is no internet in tests): it serves model folders on
// disk as repos at fixed commits, answering the requests @huggingface/hub makes, as the Hub answers them:
// - GET  /api/models/<repo>/revision/<rev>        model info ({ id, sha, siblings, gated, ... })
// - POST /api/models/<repo>/paths-info/<rev>      the entries that exist ({ path, oid, size, lfs?, lastCommit })
// - GET  /<repo>/resolve/<rev>/<file>             small files: 200 or 206 (Range), ETag = git blob oid,
//                                                 X-Repo-Commit; LFS files (*.safetensors): 302 to another
//                                                 path (/lfs-cdn/<sha256>) with X-Linked-Size/X-Linked-Etag
// - GET  /lfs-cdn/<sha256>                        the large file's bytes, with Range
// Errors carry X-Error-Code as the Hub's do: RepoNotFound (401, as the Hub answers an anonymous caller),
// GatedRepo (401 without the repo's token), RevisionNotFound (404), EntryNotFound (404). CORS is open so the
// page (another origin) can use it. Every request is logged for tests that check what went over the wire.
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';

export interface HubRepo {
  /** Commit sha (40 hex) → the folder served at that commit. */
  commits: Record<string, string>;
  /** Branch or tag → commit sha; `main` is required. */
  refs: Record<string, string>;
  /** When set, every request needs `Authorization: Bearer <token>` (a gated repo). */
  token?: string;
  /** Large files stored with Xet, as most Hub repos now are: a client that asks for Xet file info (its
   * Accept header) gets it, with links to a Xet service that is not here (a client must not need it). */
  xet?: boolean;
}

export interface HubServer {
  /** Base URL, as HF_ENDPOINT takes it (no trailing slash). */
  url: string;
  /** Every request as "METHOD path" (path with query), in order. */
  requests: string[];
  /** While true, a large file's full download sends half its bytes and drops the connection (network lost). */
  cutDownloads: boolean;
  close(): Promise<void>;
}

interface Entry {
  path: string;
  bytes: Buffer;
  oid: string;
  lfs: { oid: string; size: number; pointerSize: number } | null;
}

const gitOid = (b: Buffer | string) =>
  createHash('sha1')
    .update(`blob ${Buffer.byteLength(b)}\0`)
    .update(b)
    .digest('hex');

/** Large files go through LFS on the Hub (a .gitattributes rule); here every safetensors file does. */
const isLfs = (path: string) => path.endsWith('.safetensors');

function readEntries(dir: string): Map<string, Entry> {
  const out = new Map<string, Entry>();
  for (const name of readdirSync(dir)) {
    if (!statSync(join(dir, name)).isFile()) continue;
    const bytes = readFileSync(join(dir, name));
    if (isLfs(name)) {
      const sha256 = createHash('sha256').update(bytes).digest('hex');
      const pointer = `version https://git-lfs.github.com/spec/v1\noid sha256:${sha256}\nsize ${bytes.length}\n`;
      out.set(name, {
        path: name,
        bytes,
        oid: gitOid(pointer),
        lfs: { oid: sha256, size: bytes.length, pointerSize: pointer.length },
      });
    } else {
      out.set(name, { path: name, bytes, oid: gitOid(bytes), lfs: null });
    }
  }
  return out;
}

const CORS = {
  'Access-Control-Allow-Origin': '*',
  'Access-Control-Expose-Headers':
    'ETag, Link, X-Xet-Hash, X-Linked-Etag, X-Linked-Size, X-Repo-Commit, X-Error-Code, X-Error-Message, Content-Range, Content-Length, Accept-Ranges',
};

function fail(res: ServerResponse, status: number, code: string, message: string): void {
  res.writeHead(status, {
    ...CORS,
    'Content-Type': 'application/json',
    'X-Error-Code': code,
    'X-Error-Message': message,
  });
  res.end(JSON.stringify({ error: message }));
}

/** Writes `bytes` whole (200) or the asked range (206), as the Hub and its CDN do. */
function sendBytes(
  req: IncomingMessage,
  res: ServerResponse,
  bytes: Buffer,
  headers: Record<string, string>,
) {
  const range = /^bytes=(\d+)-(\d*)$/.exec(req.headers.range ?? '');
  const common = {
    ...CORS,
    ...headers,
    'Accept-Ranges': 'bytes',
    'Content-Type': 'application/octet-stream',
  };
  if (range) {
    const start = Number(range[1]);
    const end = Math.min(range[2] ? Number(range[2]) : bytes.length - 1, bytes.length - 1);
    res.writeHead(206, {
      ...common,
      'Content-Range': `bytes ${start}-${end}/${bytes.length}`,
      'Content-Length': String(end - start + 1),
    });
    res.end(bytes.subarray(start, end + 1));
    return;
  }
  res.writeHead(200, { ...common, 'Content-Length': String(bytes.length) });
  res.end(bytes);
}

async function body(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

/** Serves `repos` (repo id → commits and refs) on 127.0.0.1 at a free port. */
export async function startHubServer(repos: Record<string, HubRepo>): Promise<HubServer> {
  const entries = new Map<string, Map<string, Entry>>(); // "<repo>@<sha>" → files
  const blobs = new Map<string, Buffer>(); // sha256 → bytes (the CDN's store)
  for (const [id, repo] of Object.entries(repos)) {
    for (const [sha, dir] of Object.entries(repo.commits)) {
      if (!existsSync(dir)) throw new Error(`hub-server: ${dir} does not exist`);
      const files = readEntries(dir);
      entries.set(`${id}@${sha}`, files);
      for (const e of files.values()) if (e.lfs) blobs.set(e.lfs.oid, e.bytes);
    }
  }
  const requests: string[] = [];
  const state = { cutDownloads: false };

  /** The repo, the commit a revision names, and its files; or an error already sent. */
  function lookup(req: IncomingMessage, res: ServerResponse, id: string, rev: string) {
    const repo = repos[id];
    if (!repo) {
      fail(res, 401, 'RepoNotFound', 'Repository not found');
      return null;
    }
    if (repo.token && req.headers.authorization !== `Bearer ${repo.token}`) {
      fail(
        res,
        401,
        'GatedRepo',
        `Access to model ${id} is restricted. You must have access to it and be authenticated to access it. Please log in.`,
      );
      return null;
    }
    const sha = repo.refs[rev] ?? (rev === 'HEAD' ? repo.refs.main : repo.commits[rev] ? rev : undefined);
    const files = sha ? entries.get(`${id}@${sha}`) : undefined;
    if (!sha || !files) {
      fail(res, 404, 'RevisionNotFound', `Invalid rev id: ${rev}`);
      return null;
    }
    return { sha, files };
  }

  const lastCommit = (sha: string) => ({ id: sha, title: 'Upload', date: '2026-01-01T00:00:00.000Z' });

  const server = createServer((req, res) => {
    void (async () => {
      const url = new URL(req.url ?? '/', 'http://localhost');
      requests.push(`${req.method} ${url.pathname}${url.search}`);
      if (req.method === 'OPTIONS') {
        res.writeHead(204, {
          ...CORS,
          'Access-Control-Allow-Methods': 'GET, POST, HEAD, OPTIONS',
          'Access-Control-Allow-Headers': 'Authorization, Range, Content-Type, Accept',
        });
        res.end();
        return;
      }
      const path = decodeURIComponent(url.pathname);
      let m = /^\/api\/models\/([^/]+\/[^/]+)\/revision\/([^/]+)$/.exec(path);
      if (m && req.method === 'GET') {
        const hit = lookup(req, res, m[1], m[2]);
        if (!hit) return;
        res.writeHead(200, { ...CORS, 'Content-Type': 'application/json' });
        res.end(
          JSON.stringify({
            _id: `id-${m[1]}`,
            id: m[1],
            sha: hit.sha,
            private: false,
            gated: repos[m[1]].token ? 'auto' : false,
            downloads: 0,
            likes: 0,
            lastModified: '2026-01-01T00:00:00.000Z',
            siblings: [...hit.files.keys()].map((rfilename) => ({ rfilename })),
          }),
        );
        return;
      }
      m = /^\/api\/models\/([^/]+\/[^/]+)\/paths-info\/([^/]+)$/.exec(path);
      if (m && req.method === 'POST') {
        const hit = lookup(req, res, m[1], m[2]);
        if (!hit) return;
        const xet = repos[m[1]].xet;
        const asked = JSON.parse(await body(req)) as { paths: string[] };
        const found = asked.paths
          .map((p) => hit.files.get(p))
          .filter((e): e is Entry => e !== undefined)
          .map((e) => ({
            type: 'file',
            path: e.path,
            oid: e.oid,
            size: e.bytes.length,
            ...(e.lfs ? { lfs: e.lfs } : {}),
            ...(e.lfs && xet ? { xetHash: e.lfs.oid } : {}),
            lastCommit: lastCommit(hit.sha),
          }));
        res.writeHead(200, { ...CORS, 'Content-Type': 'application/json' });
        res.end(JSON.stringify(found));
        return;
      }
      m = /^\/([^/]+\/[^/]+)\/resolve\/([^/]+)\/(.+)$/.exec(path);
      if (m && (req.method === 'GET' || req.method === 'HEAD')) {
        const hit = lookup(req, res, m[1], m[2]);
        if (!hit) return;
        const e = hit.files.get(m[3]);
        if (!e) {
          fail(res, 404, 'EntryNotFound', `${m[3]} does not exist on "${m[2]}"`);
          return;
        }
        if (
          e.lfs &&
          repos[m[1]].xet &&
          (req.headers.accept ?? '').includes('application/vnd.xet-fileinfo+json')
        ) {
          const base = `http://${req.headers.host}`;
          res.writeHead(200, {
            ...CORS,
            'Content-Type': 'application/vnd.xet-fileinfo+json',
            'X-Repo-Commit': hit.sha,
            'X-Linked-Size': String(e.lfs.size),
            'X-Linked-Etag': `"${e.lfs.oid}"`,
            'X-Xet-Hash': e.lfs.oid,
            Link: `<${base}/xet-auth/${e.lfs.oid}>; rel="xet-auth", <${base}/xet-reconstruction/${e.lfs.oid}>; rel="xet-reconstruction-info"`,
          });
          res.end(JSON.stringify({ hash: e.lfs.oid, size: e.lfs.size }));
          return;
        }
        if (e.lfs) {
          res.writeHead(302, {
            ...CORS,
            Location: `/lfs-cdn/${e.lfs.oid}?repo=${encodeURIComponent(m[1])}`,
            'X-Repo-Commit': hit.sha,
            'X-Linked-Size': String(e.lfs.size),
            'X-Linked-Etag': `"${e.lfs.oid}"`,
            ETag: `"${e.oid}"`,
            'Content-Length': '0',
          });
          res.end();
          return;
        }
        sendBytes(req, res, e.bytes, { ETag: `"${e.oid}"`, 'X-Repo-Commit': hit.sha });
        return;
      }
      m = /^\/lfs-cdn\/([0-9a-f]{64})$/.exec(path);
      const blob = m ? blobs.get(m[1]) : undefined;
      if (blob && req.method === 'GET') {
        if (state.cutDownloads && !req.headers.range) {
          res.writeHead(200, { ...CORS, 'Content-Length': String(blob.length) });
          res.write(blob.subarray(0, blob.length >> 1), () => res.destroy());
          return;
        }
        sendBytes(req, res, blob, { ETag: `"${m![1]}"` });
        return;
      }
      fail(res, 404, 'NotFound', `no route for ${req.method} ${path}`);
    })().catch((e: unknown) => {
      res.writeHead(500, CORS);
      res.end(String(e));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    get cutDownloads() {
      return state.cutDownloads;
    },
    set cutDownloads(v: boolean) {
      state.cutDownloads = v;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
