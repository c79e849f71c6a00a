// The browser side of the JavaScript reward sandbox: the source of the Web Worker that runs a user's reward
// in the page. A worker has no DOM and no access to the page's objects; before the user code runs, this
// one compiles it (the last use of code from strings), then takes away every global through which it
// could reach the network, storage, other contexts or more code: fetch, importScripts, XMLHttpRequest,
// WebSocket, EventSource, BroadcastChannel, WebTransport, nested workers, indexedDB, caches, navigator
// (storage, locks), FontFace and fonts (a font loads from a URL), postMessage and close (the worker keeps
// its own bound copy), eval and the Function constructors, string-bodied timers and WebAssembly. `import`
// is refused in the source as in Node (with eval gone it cannot be built at run time) wherever what
// follows it, spaces skipped, could open a call or a comment: `(`, `.`, `/`, and the `<!--` and `-->`
// comments a script allows (js.ts checks the same before any worker starts). The browser gives a worker
// no memory limit, so the time limit (the host terminates the worker) is the bound.
// Each escape is tried in e2e/reward-sandbox.spec.ts.

import { IMPORT_IN_SOURCE } from './import-rule';

/** Globals removed from the worker (own properties and along the global's prototype chain). */
export const WEB_GLOBALS_REMOVED = [
  'fetch',
  'importScripts',
  'XMLHttpRequest',
  'WebSocket',
  'WebSocketStream',
  'EventSource',
  'BroadcastChannel',
  'WebTransport',
  'Worker',
  'SharedWorker',
  'ServiceWorker',
  'indexedDB',
  'caches',
  'navigator',
  'Notification',
  'FontFace',
  'fonts',
  'FileReaderSync',
  'RTCPeerConnection',
  'RTCDataChannel',
  'MessageChannel',
  'postMessage',
  'close',
  'eval',
  'Function',
  'WebAssembly',
  'Request',
  'Response',
  'storageBuckets',
  'cookieStore',
  'requestFileSystem',
  'webkitRequestFileSystem',
  'webkitRequestFileSystemSync',
];

export const WEB_SANDBOX_SOURCE = `'use strict';
const post = self.postMessage.bind(self);
const listen = self.addEventListener.bind(self);
const IMPORT = ${IMPORT_IN_SOURCE};
const where = (e) => {
  const m = /<anonymous>:(\\d+):(\\d+)/.exec(String(e && e.stack));
  return m ? { line: Number(m[1]) - 2, column: Number(m[2]) } : null;
};
const lineOf = (code, index) => code.slice(0, index).split('\\n').length;
const text = (e) => { try { return String(e && typeof e === 'object' && 'message' in e ? e.message : e); } catch { return 'an unprintable error'; } };
const lockdown = () => {
  for (const k of ${JSON.stringify(WEB_GLOBALS_REMOVED)}) {
    for (let o = self; o; o = Object.getPrototypeOf(o)) { try { delete o[k]; } catch {} }
    try { Object.defineProperty(self, k, { value: undefined, writable: false, configurable: false }); } catch {}
  }
  // Every function's constructor compiles strings: cut them all.
  const kinds = [function () {}, async function () {}, function* () {}, async function* () {}];
  for (const f of kinds) {
    try { Object.defineProperty(Object.getPrototypeOf(f), 'constructor', { value: undefined, writable: false, configurable: false }); } catch {}
  }
  for (const k of ['setTimeout', 'setInterval']) {
    const t = self[k];
    if (typeof t !== 'function') continue;
    const safe = (f, ms, ...rest) => { if (typeof f !== 'function') throw new TypeError(k + ' takes a function in a reward'); return t.call(self, f, ms, ...rest); };
    try { Object.defineProperty(self, k, { value: safe, writable: false, configurable: false }); } catch {}
  }
};
let fn = null;
listen('message', (ev) => {
  const msg = ev.data;
  if (msg.type === 'compile') {
    const im = IMPORT.exec(msg.code);
    if (im) {
      const at = im.index + im[1].length;
      post({ type: 'error', message: 'import is not available to a reward (no module can be loaded)', at: { line: lineOf(msg.code, at), column: at - msg.code.lastIndexOf('\\n', at - 1) } });
      return;
    }
    let outer;
    try { outer = new Function(msg.code + '\\n;return typeof reward === "function" ? reward : undefined;'); }
    catch (e) { post({ type: 'error', message: text(e), at: where(e) }); return; }
    lockdown();
    try { fn = outer(); }
    catch (e) { post({ type: 'error', message: text(e), at: where(e) }); return; }
    if (typeof fn !== 'function') post({ type: 'error', message: 'the file defines no function named reward', at: null });
    else post({ type: 'ready' });
    return;
  }
  const out = [];
  for (let i = 0; i < msg.items.length; i++) {
    let v;
    try { v = fn(msg.items[i]); }
    catch (e) { post({ type: 'error', message: text(e), at: where(e), item: i }); return; }
    if (typeof v !== 'number' || !Number.isFinite(v)) {
      post({ type: 'error', message: 'reward() returned ' + (typeof v === 'object' && v !== null ? 'an object' : String(v)) + ', not a finite number', at: null, item: i });
      return;
    }
    out.push(v);
  }
  post({ type: 'scores', scores: out });
});
`;
