// The Node side of the JavaScript reward sandbox: the source of the worker_threads worker that runs a user's
// reward. The worker is started with resourceLimits (its heap is the memory limit) and holds the user code
// in a vm context created with no globals but the ECMAScript built-ins, with code generation from strings
// and WebAssembly off, and with the buffer types removed (their memory lies outside the heap limit). Only
// strings cross between the worker and the context (items in as a JSON literal, the answer out as a JSON
// string), so no object of the worker's realm, whose Function constructor would reach `process`, is ever
// handed to the user. The one such object V8 can still create is the error of a dynamic `import()`, so
// the word `import` is refused in the source (with eval off it cannot be built at run time). As a second
// wall, the worker deletes `process`, `fetch` and the other host globals from its own realm before any
// user code runs, and is strict, so stack frames expose no function of it.

import { IMPORT_IN_SOURCE } from './import-rule';

/** Messages to the worker. */
export type NodeSandboxRequest =
  | { type: 'compile'; code: string; file: string; timeoutMs: number }
  | { type: 'score'; items: unknown[] };

/** Globals taken from the worker's own realm before user code runs (the second wall). */
export const HOST_GLOBALS_REMOVED = [
  'process',
  'fetch',
  'Request',
  'Response',
  'Headers',
  'WebSocket',
  'EventSource',
  'BroadcastChannel',
  'MessageChannel',
  'MessagePort',
  'Buffer',
  'navigator',
  'require',
  'module',
  'global',
];

/** The built-ins removed inside the context: allocations outside the heap limit, and WebAssembly. */
export const CONTEXT_GLOBALS_REMOVED = [
  'ArrayBuffer',
  'SharedArrayBuffer',
  'DataView',
  'Int8Array',
  'Uint8Array',
  'Uint8ClampedArray',
  'Int16Array',
  'Uint16Array',
  'Int32Array',
  'Uint32Array',
  'Float32Array',
  'Float64Array',
  'BigInt64Array',
  'BigUint64Array',
  'WebAssembly',
  'Atomics',
];

/**
 * Inside the context, before the user code: the stack-trace hook locked (it could otherwise be handed the
 * frames of the worker's code), the removed built-ins deleted, and the driver defined as a frozen global
 * whose functions take and return strings only. The user function's lines are reported as the file's.
 */
const CONTEXT_PRELUDE = `'use strict';
Object.defineProperty(Error, 'prepareStackTrace', { value: undefined, writable: false, configurable: false });
for (const k of ${JSON.stringify(CONTEXT_GLOBALS_REMOVED)}) delete globalThis[k];
(() => {
  const parse = JSON.parse, stringify = JSON.stringify, finite = Number.isFinite, str = String, exec = RegExp.prototype.exec;
  let fn = null, file = '';
  const text = (e) => { try { return str(e && typeof e === 'object' && 'message' in e ? e.message : e); } catch { return 'an unprintable error'; } };
  const where = (e) => {
    let stack = '';
    try { stack = str(e && e.stack); } catch {}
    const m = exec.call(new RegExp(file.replace(/[.*+?^\${}()|[\\]\\\\]/g, '\\\\$&') + ':(\\\\d+):(\\\\d+)'), stack);
    return m ? { line: Number(m[1]), column: Number(m[2]) } : null;
  };
  const driver = Object.freeze({
    init(user, name) {
      file = name;
      let r;
      try { r = user(); }
      catch (e) { return stringify({ type: 'error', message: text(e), at: where(e) }); }
      if (typeof r !== 'function') return stringify({ type: 'error', message: 'the file defines no function named reward', at: null });
      fn = r;
      return stringify({ type: 'ready' });
    },
    score(input) {
      const items = parse(input);
      const out = [];
      for (let i = 0; i < items.length; i++) {
        let v;
        try { v = fn(items[i]); }
        catch (e) { return stringify({ type: 'error', message: text(e), at: where(e), item: i }); }
        if (typeof v !== 'number' || !finite(v))
          return stringify({ type: 'error', message: 'reward() returned ' + (typeof v === 'object' && v !== null ? 'an object' : str(v)) + ', not a finite number', at: null, item: i });
        out.push(v);
      }
      return stringify({ type: 'scores', scores: out });
    },
  });
  Object.defineProperty(globalThis, '__driver', { value: driver, writable: false, configurable: false });
})();
`;

/** The worker's source (run with `eval: true`). */
export const NODE_SANDBOX_SOURCE = `'use strict';
const { parentPort } = require('node:worker_threads');
const vm = require('node:vm');
const post = (m) => parentPort.postMessage(m);
const on = (f) => parentPort.on('message', f);
for (const k of ${JSON.stringify(HOST_GLOBALS_REMOVED)}) { try { delete globalThis[k]; } catch {} }
let ctx = null;
let sandbox = null;
let timeoutMs = 2000;
const IMPORT = ${IMPORT_IN_SOURCE};
const lineOf = (code, index) => code.slice(0, index).split('\\n').length;
const run = (source) => {
  try {
    const r = new vm.Script(source).runInContext(ctx, { timeout: timeoutMs });
    return typeof r === 'string' ? JSON.parse(r) : { type: 'error', message: 'the sandbox answered no string', at: null };
  } catch (e) {
    if (e && e.code === 'ERR_SCRIPT_EXECUTION_TIMEOUT') return { type: 'timeout' };
    return { type: 'error', message: 'the sandbox failed: ' + String(e && e.message), at: null };
  }
};
on((msg) => {
  if (msg.type === 'compile') {
    timeoutMs = msg.timeoutMs;
    const im = IMPORT.exec(msg.code);
    if (im) {
      const at = im.index + im[1].length;
      post({ type: 'error', message: 'import is not available to a reward (no module can be loaded)', at: { line: lineOf(msg.code, at), column: at - msg.code.lastIndexOf('\\n', at - 1) } });
      return;
    }
    sandbox = Object.create(null);
    ctx = vm.createContext(sandbox, { codeGeneration: { strings: false, wasm: false }, microtaskMode: 'afterEvaluate' });
    new vm.Script(${JSON.stringify(CONTEXT_PRELUDE)}).runInContext(ctx);
    let user;
    try {
      user = vm.compileFunction(msg.code + '\\n;return typeof reward === "function" ? reward : undefined;', [], { parsingContext: ctx, filename: msg.file });
    } catch (e) {
      // A syntax error: V8's message starts "file:line" and marks the column with a caret.
      const lines = String(e && e.stack).split('\\n');
      const m = /:(\\d+)$/.exec(lines[0] || '');
      const caret = (lines[2] || '').indexOf('^');
      post({ type: 'error', message: String(e && e.message), at: m ? { line: Number(m[1]), column: caret >= 0 ? caret + 1 : 0 } : null });
      return;
    }
    sandbox.__user = user;
    const r = run('__driver.init(__user, ' + JSON.stringify(msg.file) + ')');
    delete sandbox.__user;
    post(r);
    return;
  }
  post(run('__driver.score(' + JSON.stringify(JSON.stringify(msg.items)) + ')'));
});
`;
