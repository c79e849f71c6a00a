// The benchmark page: our engine, TF.js's WebGPU backend and jax-js (WebGPU, jit) in one page, on the same
// adapter, timed the same way. run.ts (Node) opens it and calls window.peftBench.run(options). Cases are listed in `plan`:
// a new case is one function (env) => Promise<CaseResult> added there.
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-webgpu';
import type { WebGPUBackend } from '@tensorflow/tfjs-backend-webgpu';
import { autotune } from '../src/gpu/autotune';
import type { GpuContext } from '../src/gpu/context';
import { acquireBrowserGpu } from '../src/gpu/device';
import { blockCase, blockName } from './cases/block';
import type { BenchEnv } from './cases/env';
import { initJaxJs } from './cases/jaxjs';
import { matmulCase } from './cases/matmul';
import { attentionCase, loraMlpCase } from './cases/training';
import { measure } from './timing';
import type { BenchApi, BenchOptions, BenchReport, CaseResult } from './types';

interface BenchCase {
  name: string;
  run(env: BenchEnv): Promise<CaseResult>;
}

/** Sizes asked for, or by default 256…1024, plus 2048 on a hardware adapter (on SwiftShader 2048 alone
 * would take the better part of an hour across all variants). */
function matmulSizes(o: BenchOptions, software: boolean): number[] {
  if (o.sizes.length) return o.sizes;
  return software ? [256, 512, 1024] : [256, 512, 1024, 2048];
}

function plan(o: BenchOptions, software: boolean): BenchCase[] {
  const list: BenchCase[] = [];
  if (o.cases.includes('matmul'))
    for (const n of matmulSizes(o, software))
      list.push({ name: `matmul_${n}`, run: (env) => matmulCase(env, n, o.variants) });
  if (o.cases.includes('lora_mlp')) list.push({ name: 'lora_mlp', run: loraMlpCase });
  if (o.cases.includes('attention')) list.push({ name: 'attention', run: attentionCase });
  if (o.cases.includes('block'))
    for (const c of o.blocks) list.push({ name: blockName(c), run: (env) => blockCase(env, c) });
  return list;
}

async function runAutotune(ctx: GpuContext, log: (m: string) => void): Promise<string> {
  // As the page's worker does (src/worker/model.ts): a software adapter keeps the untuned defaults, the
  // measured best there, which a two-run tune on a loaded 2-core machine can miss.
  if (ctx.adapter.software) {
    const note = 'software adapter: untuned defaults (matmul untunedVariant), as the page runs';
    log(note);
    return note;
  }
  const t0 = performance.now();
  // No cache: every bench run tunes afresh, so the choice reflects this adapter under this load.
  const choice = await autotune(ctx);
  const note = `autotune chose ${JSON.stringify(choice)} in ${((performance.now() - t0) / 1000).toFixed(1)} s`;
  log(note);
  return note;
}

const log = (m: string) => console.log(m);

async function run(options: BenchOptions): Promise<BenchReport> {
  const ctx = await acquireBrowserGpu();
  log(`ours:  ${ctx.adapter.description}${ctx.adapter.software ? ' (software)' : ''}`);
  if (!(await tf.setBackend('webgpu'))) throw new Error('TF.js could not start its WebGPU backend');
  await tf.ready();
  const backend = tf.backend() as WebGPUBackend;
  // GPUDevice.adapterInfo: TF.js keeps its own AdapterInfo private.
  const info = backend.device.adapterInfo as GPUAdapterInfo | undefined;
  const tfjsAdapter = [info?.vendor, info?.architecture].filter(Boolean).join(' ') || 'unknown';
  log(`TF.js: ${tfjsAdapter} (tfjs-core ${tf.version_core})`);
  const jax = await initJaxJs(log);
  const jaxjs = `jax-js 0.1.25 (${jax ? 'webgpu' : 'not started'})`;
  log(jaxjs);
  const env: BenchEnv = {
    ctx,
    tf,
    jax,
    timing: options.timing,
    log,
    async tfSync() {
      // What TF.js does itself before a read: an encoder must exist (empty is fine), its open compute
      // pass must be ended, then submit.
      backend.ensureCommandEncoderReady();
      backend.endComputePassEncoder();
      backend.submitQueue();
      await backend.device.queue.onSubmittedWorkDone();
    },
  };
  const autotuneNote = await runAutotune(ctx, log);
  // The fixed cost each side pays per timed run, so small sizes can be read in its light.
  const syncTiming = { warmup: 2, minRuns: 10, maxRuns: 10, budgetMs: 0 };
  const syncOurs = await measure(() => ctx.sync(), syncTiming);
  const syncTfjs = await measure(() => env.tfSync(), syncTiming);
  const syncNote = `an empty sync costs ours ${syncOurs.medianMs.toFixed(2)} ms, TF.js ${syncTfjs.medianMs.toFixed(2)} ms`;
  log(syncNote);
  const results: CaseResult[] = [];
  try {
    for (const c of plan(options, ctx.adapter.software)) {
      log(`case ${c.name}`);
      const r = await c.run(env);
      results.push(r);
    }
  } finally {
    ctx.destroy();
  }
  if (results.length) results[0].notes = [autotuneNote, syncNote, ...(results[0].notes ?? [])];
  return {
    adapter: ctx.adapter.description,
    software: ctx.adapter.software,
    tfjsAdapter,
    jaxjs,
    results,
  };
}

const api: BenchApi = { run };
window.peftBench = api;
