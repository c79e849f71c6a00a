// In-page half of e2e/onnx.spec.ts, loaded through Vite's dev server: builds or loads a model, runs our
// engine's forward on the page's WebGPU adapter, exports the same weights to ONNX and runs them in
// onnxruntime-web (wasm), and returns both logits for the spec to compare in Node.
import { exportOnnx, weightsFromParamSet } from '../src/export/onnx/export';
import { inspectOnnx } from '../src/export/onnx/inspect';
import { ort } from '../src/export/onnx/ort-browser';
import { createOnnxSession, runOnnxLogits } from '../src/export/onnx/ort-run';
import { type ModelConfig, parseModelConfig } from '../src/formats/model-config';
import { bytesSource, SafetensorsFile } from '../src/formats/safetensors';
import { acquireBrowserGpu } from '../src/gpu/device';
import { randomModelParams } from '../src/model/init';
import { loadCheckpointSpecs } from '../src/model/load';
import { TINY_GPT2, TINY_LLAMA } from '../src/model/testing';
import { forward } from '../src/model/transformer';
import { gpuBackend } from '../src/tensor/gpu-backend';
import { ParamSet, type ParamSpec } from '../src/tensor/params';
import { Tape } from '../src/tensor/tape';

export interface OnnxPageResult {
  engine: number[];
  onnx: number[];
  vocab: number;
  onnxBytes: number;
  opCounts: Record<string, number>;
  /** Milliseconds: engine forward (with readback), export, ORT session creation, ORT run. */
  ms: { engine: number; export: number; session: number; run: number };
}

async function compare(
  config: ModelConfig,
  specs: ParamSpec[],
  ids: number[],
  B: number,
): Promise<OnnxPageResult> {
  const T = ids.length / B;
  const ctx = await acquireBrowserGpu();
  try {
    const be = gpuBackend(ctx);
    const ps = new ParamSet(be, specs);
    let t0 = performance.now();
    const tp = new Tape(be, false);
    const { logits } = forward(tp, config, ps, { ids: Int32Array.from(ids), B, T });
    const engine = Array.from(await ctx.readF32(logits.store, logits.size));
    const msEngine = performance.now() - t0;
    tp.dispose();
    // Export from the GPU-resident ParamSet, the way the playground will after training and merging.
    t0 = performance.now();
    const bytes = exportOnnx(config, await weightsFromParamSet(ps));
    const msExport = performance.now() - t0;
    ps.dispose();
    t0 = performance.now();
    const session = await createOnnxSession(ort, bytes);
    const msSession = performance.now() - t0;
    t0 = performance.now();
    const onnx = Array.from(await runOnnxLogits(ort, session, { ids, B, T }));
    const msRun = performance.now() - t0;
    await session.release();
    return {
      engine,
      onnx,
      vocab: config.vocabSize,
      onnxBytes: bytes.length,
      opCounts: inspectOnnx(bytes).opCounts,
      ms: { engine: msEngine, export: msExport, session: msSession, run: msRun },
    };
  } finally {
    ctx.destroy();
  }
}

/** A tiny random model of either family (randomised norms and biases, so every path carries signal). */
export function tinyRandom(family: 'gpt2' | 'qwen2', ids: number[], B: number): Promise<OnnxPageResult> {
  const c = family === 'gpt2' ? TINY_GPT2 : TINY_LLAMA;
  return compare(
    c,
    randomModelParams(c, 5, () => false, 0.2, true),
    ids,
    B,
  );
}

/** The built-in model, fetched from public/ as the playground does. */
export async function builtin(ids: number[]): Promise<OnnxPageResult> {
  const base = `${import.meta.env.BASE_URL}models/tiny-llama-brown`;
  const config = parseModelConfig(await (await fetch(`${base}/config.json`)).text(), `${base}/config.json`);
  const res = await fetch(`${base}/model.safetensors`);
  if (!res.ok) throw new Error(`${base}/model.safetensors: HTTP ${res.status}`);
  const reader = await SafetensorsFile.open(
    bytesSource(new Uint8Array(await res.arrayBuffer()), 'model.safetensors'),
  );
  return compare(config, await loadCheckpointSpecs(config, reader), ids, 1);
}
