// User-written JavaScript rewards, run in a separate worker with a time limit: Node's worker_threads in the
// CLI and tests, a Web Worker (no DOM, no page access) in the browser; the worker's source is the same
// string. The user's file defines `function reward({ prompt, completion, reference })` returning a number.
// Errors (syntax, a throw, a non-number) come back as sentences naming the user's line, and a batch that
// runs past the limit ends the worker (a fresh one starts for the next batch).

import type { RewardFn, RewardItem } from './builtin';

/**
 * The worker's source. The user code is compiled with `new Function`, whose body starts two lines after
 * the function's own first line in V8's numbering, hence the −2 on reported lines. Network globals are
 * removed before the user code runs.
 */
export const WORKER_SOURCE = `
const port = typeof self !== 'undefined' && typeof self.postMessage === 'function' && typeof require === 'undefined'
  ? { on: (f) => { self.onmessage = (e) => f(e.data); }, post: (m) => self.postMessage(m) }
  : (() => { const { parentPort } = require('node:worker_threads');
      return { on: (f) => parentPort.on('message', f), post: (m) => parentPort.postMessage(m) }; })();
for (const k of ['fetch', 'XMLHttpRequest', 'WebSocket', 'EventSource', 'importScripts', 'indexedDB', 'caches'])
  { try { globalThis[k] = undefined; } catch {} }
const where = (e) => {
  const m = /<anonymous>:(\\d+):(\\d+)/.exec(String(e && e.stack));
  return m ? { line: Number(m[1]) - 2, column: Number(m[2]) } : null;
};
let fn = null;
port.on((msg) => {
  if (msg.type === 'compile') {
    try {
      fn = new Function(msg.code + '\\n;return typeof reward === "function" ? reward : undefined;')();
      if (typeof fn !== 'function') port.post({ type: 'error', message: 'the file defines no function named reward', at: null });
      else port.post({ type: 'ready' });
    } catch (e) {
      port.post({ type: 'error', message: String(e && e.message), at: where(e) });
    }
    return;
  }
  const out = [];
  for (let i = 0; i < msg.items.length; i++) {
    let v;
    try { v = fn(msg.items[i]); }
    catch (e) { port.post({ type: 'error', message: String(e && e.message), at: where(e), item: i }); return; }
    if (typeof v !== 'number' || !Number.isFinite(v)) {
      port.post({ type: 'error', message: 'reward() returned ' + String(v) + ', not a finite number', at: null, item: i });
      return;
    }
    out.push(v);
  }
  port.post({ type: 'scores', scores: out });
});
`;

export type WorkerReply =
  | { type: 'ready' }
  | { type: 'scores'; scores: number[] }
  | { type: 'error'; message: string; at: { line: number; column: number } | null; item?: number };

/** The minimal worker surface both platforms give. */
export interface RewardWorker {
  post(msg: unknown): void;
  onReply(f: (r: WorkerReply) => void): void;
  onFail(f: (e: Error) => void): void;
  terminate(): void;
}

export type WorkerFactory = (source: string) => RewardWorker;

/** Node: worker_threads running the source as a script. */
export const nodeWorkerFactory: WorkerFactory = (source) => {
  // Loaded lazily so browser bundles never see node:worker_threads.
  const req = (globalThis as { process?: { getBuiltinModule?: (m: string) => unknown } }).process
    ?.getBuiltinModule;
  const wt = req?.('node:worker_threads') as typeof import('node:worker_threads') | undefined;
  if (!wt) throw new Error('JavaScript rewards in Node need node:worker_threads (Node 20.16 or newer)');
  const w = new wt.Worker(source, { eval: true });
  return {
    post: (m) => w.postMessage(m),
    onReply: (f) => w.on('message', (m: WorkerReply) => f(m)),
    onFail: (f) => w.on('error', (e) => f(e instanceof Error ? e : new Error(String(e)))),
    terminate: () => void w.terminate(),
  };
};

/** Browser: a Web Worker from a Blob URL (no DOM, no access to the page's objects). */
export const webWorkerFactory: WorkerFactory = (source) => {
  const url = URL.createObjectURL(new Blob([source], { type: 'text/javascript' }));
  const w = new Worker(url);
  URL.revokeObjectURL(url);
  return {
    post: (m) => w.postMessage(m),
    onReply: (f) => {
      w.onmessage = (e: MessageEvent<WorkerReply>) => f(e.data);
    },
    onFail: (f) => {
      w.onerror = (e) => f(new Error(e.message));
    },
    terminate: () => w.terminate(),
  };
};

export interface JsRewardOptions {
  /** Milliseconds a batch may take (default 2000). */
  timeoutMs?: number;
  /** Shown in messages (the file's name). */
  name?: string;
  factory?: WorkerFactory;
}

/** A reward function from user code; the returned function scores batches in the worker. */
export function jsReward(code: string, opts: JsRewardOptions = {}): RewardFn & { dispose(): void } {
  const timeoutMs = opts.timeoutMs ?? 2000;
  const name = opts.name ?? 'reward.js';
  const factory = opts.factory ?? (typeof Worker !== 'undefined' ? webWorkerFactory : nodeWorkerFactory);
  let worker: RewardWorker | null = null;
  let handler: ((r: WorkerReply) => void) | null = null;
  let failer: ((e: Error) => void) | null = null;
  const explain = (r: Extract<WorkerReply, { type: 'error' }>) => {
    const at = r.at ? `:${r.at.line}:${r.at.column}` : '';
    const item = r.item !== undefined ? ` (item ${r.item})` : '';
    return `${name}${at}: ${r.message}${item}`;
  };
  const call = (msg: unknown): Promise<WorkerReply> =>
    new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        worker?.terminate();
        worker = null;
        reject(new Error(`${name}: the reward function ran past ${timeoutMs} ms; it was stopped`));
      }, timeoutMs);
      handler = (r) => {
        clearTimeout(timer);
        resolve(r);
      };
      failer = (e) => {
        clearTimeout(timer);
        worker?.terminate();
        worker = null;
        reject(new Error(`${name}: ${e.message}`));
      };
      worker?.post(msg);
    });
  const start = async () => {
    worker = factory(WORKER_SOURCE);
    worker.onReply((r) => handler?.(r));
    worker.onFail((e) => failer?.(e));
    const r = await call({ type: 'compile', code });
    if (r.type === 'error') {
      worker?.terminate();
      worker = null;
      throw new Error(explain(r));
    }
  };
  const fn = async (items: readonly RewardItem[]): Promise<number[]> => {
    if (!worker) await start();
    const r = await call({ type: 'score', items: items.map((x) => ({ ...x })) });
    if (r.type === 'error') throw new Error(explain(r));
    if (r.type !== 'scores' || r.scores.length !== items.length)
      throw new Error(
        `${name}: the worker answered ${r.type === 'scores' ? r.scores.length : r.type} for ${items.length} items`,
      );
    return r.scores;
  };
  return Object.assign(fn, {
    dispose: () => {
      worker?.terminate();
      worker = null;
    },
  });
}
