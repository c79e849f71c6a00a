// User-written JavaScript rewards, run in a sandbox with time and memory limits: in Node a worker_threads
// worker with resourceLimits holding the code in a vm context with no host globals (sandbox-node.ts), in the
// browser a Web Worker with its network, storage and code-loading globals removed (sandbox-web.ts). The
// user's file defines `function reward({ prompt, completion, reference })` returning a number. Errors (syntax,
// a throw, a non-number, a call to what the sandbox lacks, such as process.exit) come back as sentences
// naming the user's line; a batch that runs past the time limit or the memory limit ends the worker (a
// fresh one starts for the next batch), and a worker that dies otherwise is reported as that.

import type { RewardFn, RewardItem } from './builtin';
import { IMPORT_IN_SOURCE } from './import-rule';
import { NODE_SANDBOX_SOURCE } from './sandbox-node';
import { WEB_SANDBOX_SOURCE } from './sandbox-web';

export type WorkerReply =
  | { type: 'ready' }
  | { type: 'scores'; scores: number[] }
  | { type: 'timeout' }
  | { type: 'error'; message: string; at: { line: number; column: number } | null; item?: number };

/** The minimal worker surface both platforms give. */
export interface RewardWorker {
  post(msg: unknown): void;
  onReply(f: (r: WorkerReply) => void): void;
  onFail(f: (e: Error) => void): void;
  /** The worker ended without being asked (Node only: a browser worker cannot end itself once locked). */
  onExit?(f: (code: number) => void): void;
  terminate(): void;
}

export interface SandboxLimits {
  /** The worker's heap in MB (Node; the browser gives none). */
  memoryMb: number;
}

export type WorkerFactory = (limits: SandboxLimits) => RewardWorker;

/** Node: a worker_threads worker with a bounded heap, running sandbox-node.ts's source. */
export const nodeWorkerFactory: WorkerFactory = (limits) => {
  // Loaded lazily so browser bundles never see node:worker_threads.
  const req = (globalThis as { process?: { getBuiltinModule?: (m: string) => unknown } }).process
    ?.getBuiltinModule;
  const wt = req?.('node:worker_threads') as typeof import('node:worker_threads') | undefined;
  if (!wt) throw new Error('JavaScript rewards in Node need node:worker_threads (Node 20.16 or newer)');
  const w = new wt.Worker(NODE_SANDBOX_SOURCE, {
    eval: true,
    env: {},
    stdout: true,
    stderr: true,
    resourceLimits: {
      maxOldGenerationSizeMb: limits.memoryMb,
      maxYoungGenerationSizeMb: Math.min(32, Math.max(4, limits.memoryMb / 8)),
      stackSizeMb: 4,
    },
  });
  let stopping = false;
  return {
    post: (m) => w.postMessage(m),
    onReply: (f) => w.on('message', (m: WorkerReply) => f(m)),
    onFail: (f) => w.on('error', (e) => f(e instanceof Error ? e : new Error(String(e)))),
    onExit: (f) => w.on('exit', (code) => stopping || f(code)),
    terminate: () => {
      stopping = true;
      void w.terminate();
    },
  };
};

/** Browser: a Web Worker from a Blob URL (no DOM, no access to the page's objects). */
export const webWorkerFactory: WorkerFactory = () => {
  const url = URL.createObjectURL(new Blob([WEB_SANDBOX_SOURCE], { type: 'text/javascript' }));
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

/** Where the source uses `import` (1-based line and column), or null: checked before any worker starts, on
 * both platforms, since a dynamic import is the one way left to load code or, in Node, to get an object of
 * the host's realm. */
export function importInSource(code: string): { line: number; column: number } | null {
  const m = IMPORT_IN_SOURCE.exec(code);
  if (!m) return null;
  const at = m.index + m[1].length;
  return { line: code.slice(0, at).split('\n').length, column: at - code.lastIndexOf('\n', at - 1) };
}

export interface JsRewardOptions {
  /** Milliseconds a batch may take (default 2000). */
  timeoutMs?: number;
  /** The worker's heap limit in MB (Node; default 256). */
  memoryMb?: number;
  /** Shown in messages (the file's name). */
  name?: string;
  factory?: WorkerFactory;
}

/** A reward function from user code; the returned function scores batches in the worker. */
export function jsReward(code: string, opts: JsRewardOptions = {}): RewardFn & { dispose(): void } {
  const timeoutMs = opts.timeoutMs ?? 2000;
  const name = opts.name ?? 'reward.js';
  const memoryMb = opts.memoryMb ?? 256;
  const factory = opts.factory ?? (typeof Worker !== 'undefined' ? webWorkerFactory : nodeWorkerFactory);
  let worker: RewardWorker | null = null;
  let handler: ((r: WorkerReply) => void) | null = null;
  let failer: ((e: Error) => void) | null = null;
  const explain = (r: Extract<WorkerReply, { type: 'error' }>) => {
    const at = r.at ? `:${r.at.line}:${r.at.column}` : '';
    const item = r.item !== undefined ? ` (item ${r.item})` : '';
    return `${name}${at}: ${r.message}${item}`;
  };
  const pastTime = () => new Error(`${name}: the reward function ran past ${timeoutMs} ms; it was stopped`);
  const stop = () => {
    worker?.terminate();
    worker = null;
  };
  const call = (msg: unknown): Promise<WorkerReply> =>
    new Promise((resolve, reject) => {
      // Node's worker stops the user code itself at the limit (vm timeout) and says so; this timer is the
      // bound in the browser and the backstop in Node.
      const timer = setTimeout(() => {
        stop();
        reject(pastTime());
      }, timeoutMs);
      handler = (r) => {
        clearTimeout(timer);
        if (r.type === 'timeout') {
          stop();
          reject(pastTime());
        } else resolve(r);
      };
      failer = (e) => {
        clearTimeout(timer);
        stop();
        const code = (e as { code?: string }).code;
        reject(
          new Error(
            code === 'ERR_WORKER_OUT_OF_MEMORY'
              ? `${name}: the reward function ran out of its ${memoryMb} MB memory limit; it was stopped`
              : `${name}: ${e.message}`,
          ),
        );
      };
      worker?.post(msg);
    });
  const start = async () => {
    const imported = importInSource(code);
    if (imported)
      throw new Error(
        explain({
          type: 'error',
          message: 'import is not available to a reward (no module can be loaded)',
          at: imported,
        }),
      );
    worker = factory({ memoryMb });
    worker.onReply((r) => handler?.(r));
    worker.onFail((e) => failer?.(e));
    worker.onExit?.((code) =>
      failer?.(new Error(`the reward worker ended unexpectedly (exit code ${code})`)),
    );
    const r = await call({ type: 'compile', code, file: name, timeoutMs });
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
