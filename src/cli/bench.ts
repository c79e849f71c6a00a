// `npm run cli -- bench [--model DIR] [--methods a,b] [--sizes 256,512] [--batch B --seq T --steps N]`:
// the engine measured in Node, each figure next to a peer from the same process — matmul variants as
// GFLOP/s with ratios to the naive kernel, and training throughput of fine-tuning methods on a model as
// tokens/s with ratios to full fine-tuning, timed over the SFT runner's own steps (what the page trains with). One JSON line per measurement; the last line holds the ratios.

import { counterDelta, type GpuContext, type GpuCounters } from '../gpu/context';
import { MATMUL_VARIANTS, matmul, matmulFlops } from '../gpu/kernels/matmul';
import { acquireNodeGpu } from '../gpu/node';
import { loadCheckpointSpecs } from '../model/load';
import { SftRunner } from '../train/sft';
import { sftRunConfig } from '../train/sft-config';
import type { Args } from './args';
import { openModelDir } from './model-dir';

export const BENCH_USAGE = `  bench [--model DIR] [--methods full,lora,...] [--sizes 256,512] [--batch B] [--seq T] [--steps N]
        GFLOP/s of each matmul variant (ratio to naive); tokens/s of each method (ratio to full)`;

const print = (o: object) => process.stdout.write(`${JSON.stringify(o)}\n`);

async function timeMatmul(
  ctx: GpuContext,
  n: number,
  variant: (typeof MATMUL_VARIANTS)[number],
): Promise<number> {
  const data = Float32Array.from({ length: n * n }, (_, i) => Math.sin(i));
  const a = ctx.upload(data, 'workspace', 'bench-a');
  const b = ctx.upload(data, 'workspace', 'bench-b');
  const out = ctx.arena.alloc(n * n * 4, 'workspace', 'bench-out');
  const run = () => matmul(ctx, { out, a, b, M: n, N: n, K: n, variant });
  run();
  await ctx.sync();
  let best = Number.POSITIVE_INFINITY;
  for (let trial = 0; trial < 3; trial++) {
    const t0 = performance.now();
    run();
    await ctx.sync();
    best = Math.min(best, (performance.now() - t0) / 1000);
  }
  for (const x of [a, b, out]) ctx.arena.free(x);
  return matmulFlops(n, n, n) / best / 1e9;
}

export async function benchCommand(a: Args): Promise<void> {
  const ctx = await acquireNodeGpu({ tune: true });
  const ratios: Record<string, number> = {};
  const sizes = (a.opt('sizes') ?? '256,512')
    .split(',')
    .map(Number)
    .filter((n) => n > 0);
  for (const n of sizes) {
    const rates: Record<string, number> = {};
    for (const v of MATMUL_VARIANTS) rates[v] = await timeMatmul(ctx, n, v);
    print({ bench: 'matmul', size: n, gflops: rates, chosen: ctx.variants.get('matmul') ?? 'regblock' });
    for (const v of MATMUL_VARIANTS)
      if (v !== 'naive') ratios[`matmul_${n}_${v}_vs_naive`] = rates[v] / rates.naive;
  }
  const modelDir = a.opt('model');
  if (modelDir) {
    const md = await openModelDir(modelDir);
    const base = await loadCheckpointSpecs(md.config, md.reader);
    const B = a.int('batch', 2);
    const T = a.int('seq', 32);
    const steps = Math.max(2, a.int('steps', 3));
    const methods = (a.opt('methods') ?? 'full,lora').split(',').filter(Boolean);
    // Fixed rows, every token a target: each step is one full [B, T] batch, whatever the shuffle.
    const rows = Array.from({ length: B }, (_, b) => {
      const ids = Array.from({ length: T }, (_, t) => ((b * T + t) * 13 + 5) % md.config.vocabSize);
      return { inputIds: ids, labels: ids };
    });
    const tokensPerS: Record<string, number> = {};
    for (const name of methods) {
      // The runner's own steps (a warm-up, then the timed ones), with the loss read only after the last.
      const run = sftRunConfig({
        method: name,
        options: {},
        lr: 1e-4,
        schedule: 'constant',
        steps: steps + 1,
        batch: B,
        seqLen: T,
        logEvery: steps + 1,
        evalEvery: 0,
      });
      const runner = await SftRunner.create(
        ctx,
        md.config,
        md.reader,
        { train: rows, eval: [], padId: 0 },
        run,
        {
          baseSpecs: base,
          methodCtx: { tokenizer: { encode: (t: string) => md.tokenizer.encode(t) } },
        },
      );
      const step = async () => {
        runner.stepOnce();
        await runner.settle(0);
      };
      await step(); // warm-up: pipelines compiled, buffers pooled
      const c0 = ctx.counters();
      const t0 = performance.now();
      for (let i = 0; i < steps; i++) await step();
      const secs = (performance.now() - t0) / 1000;
      const perStep = countersPerStep(c0, ctx.counters(), steps);
      tokensPerS[name] = (B * T * steps) / secs;
      print({
        bench: 'train_step',
        method: name,
        trainable_params: runner.adapter.plan.count,
        tokens_per_s: Math.round(tokensPerS[name] * 10) / 10,
        ms_per_step: Math.round((secs / steps) * 1000),
        mem_peak_bytes: ctx.arena.stats().peakTotal,
        per_step: perStep,
      });
      await runner.flush();
      runner.dispose();
    }
    if (tokensPerS.full)
      for (const n of methods)
        if (n !== 'full') ratios[`train_${n}_vs_full`] = tokensPerS[n] / tokensPerS.full;
  }
  print(Object.fromEntries(Object.entries(ratios).map(([k, v]) => [k, Math.round(v * 100) / 100])));
  ctx.destroy();
}

/** The GPU context's recording counters over `steps` timed steps, per step (dispatches, bind groups
 * created, uniform writes, error scopes, copies, submits): what a step costs the CPU besides the kernels. */
export function countersPerStep(before: GpuCounters, after: GpuCounters, steps: number): GpuCounters {
  const d = counterDelta(before, after);
  for (const k of Object.keys(d) as Array<keyof GpuCounters>) d[k] = Math.round((d[k] / steps) * 10) / 10;
  return d;
}
