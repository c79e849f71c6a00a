// onnxruntime-web for the page (deploy preview, e2e): the wasm-only build, with its .wasm and glue .mjs
// imported as asset URLs so Vite serves them in dev and copies them into the build — no CDN, works
// offline. One thread: several need cross-origin isolation (SharedArrayBuffer), which the page lacks.

import mjsUrl from 'onnxruntime-web/ort-wasm-simd-threaded.mjs?url';
import wasmUrl from 'onnxruntime-web/ort-wasm-simd-threaded.wasm?url';
import * as ort from 'onnxruntime-web/wasm';

ort.env.wasm.wasmPaths = { mjs: mjsUrl, wasm: wasmUrl };
ort.env.wasm.numThreads = 1;

export { ort };
