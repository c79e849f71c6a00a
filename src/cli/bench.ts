// `npm run cli -- bench [--model DIR] [--methods a,b] [--sizes 256,512] [--batch B --seq T --steps N]`:
// the engine measured in Node, each figure next to a peer from the same process — matmul variants as
// GFLOP/s with ratios to the naive kernel, and training throughput of fine-tuning methods on a model as
// tokens/s with ratios to full fine-tuning, timed over the SFT runner's own steps (what the page trains with).
// `--compare selective` instead measures the seed's structured-versus-unstructured claim: unstructured
// sparse, N:M sparse, rows and LoRA at (nearly) equal trainable counts on one model — ms/step, peak memory
// and all-reduce bytes, with ratios against LoRA from the same process. One JSON line per measurement;
// the last line holds the ratios.

import type { ModelConfig } from '../formats/model-config';
import { counterDelta, type GpuContext, type GpuCounters } from '../gpu/context';
import { loraFusedPays } from '../gpu/kernels/lora-linear';
import { MATMUL_VARIANTS, matmul, matmulClass, matmulFlops, matmulVariantKey } from '../gpu/kernels/matmul';
import { acquireNodeGpu } from '../gpu/node';
import { loadCheckpointSpecs } from '../model/load';
import { allreduceBytesOf } from '../peft/allreduce';
import { selectSites } from '../peft/targets';
import type { RawOptions } from '../peft/types';
import { SftRunner } from '../train/sft';
import { sftRunConfig } from '../train/sft-config';
import type { Args } from './args';
import { type ModelDir, openModelDir } from './model-dir';

export const BENCH_USAGE = `  bench [--model DIR] [--methods full,lora,...] [--sizes 256,512] [--batch B] [--seq T] [--steps N]
        GFLOP/s of each matmul variant (ratio to naive); tokens/s of each method (ratio to full)
  bench --model DIR --compare selective [--nm 1:8] [--batch B] [--seq T] [--steps N]
        sparse, N:M sparse, rows and LoRA at equal trainable counts: ms/step, peak memory, all-reduce
        bytes, each as a ratio to LoRA`;

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

interface Measured {
  trainable: number;
  tokensPerS: number;
  msPerStep: number;
  peakBytes: number;
  /** GPU recording counters per timed step. */
  perStep: StepCost;
}

/** Fixed rows, every token a target: each step is one full [B, T] batch, whatever the shuffle. */
function benchRows(c: ModelConfig, B: number, T: number) {
  return Array.from({ length: B }, (_, b) => {
    const ids = Array.from({ length: T }, (_, t) => ((b * T + t) * 13 + 5) % c.vocabSize);
    return { inputIds: ids, labels: ids };
  });
}

/**
 * The runner's own steps for one method (two warm-ups, then the timed ones, the loss read only after the
 * last), with the arena's peak taken over this run alone.
 */
/** Untimed steps first: two, so the pool's hand-back order has settled (see the loop below). */
const WARMUP_STEPS = 2;
/** Extra steps timed for the recording alone (queue held), after the timed ones. */
const HELD_STEPS = 5;

async function timeTraining(
  ctx: GpuContext,
  md: ModelDir,
  base: Awaited<ReturnType<typeof loadCheckpointSpecs>>,
  method: string,
  options: RawOptions,
  shape: { B: number; T: number; steps: number },
): Promise<Measured> {
  const { B, T, steps } = shape;
  const run = sftRunConfig({
    method,
    options,
    lr: 1e-4,
    schedule: 'constant',
    steps: steps + WARMUP_STEPS + Math.min(steps, HELD_STEPS),
    batch: B,
    seqLen: T,
    logEvery: steps + WARMUP_STEPS + Math.min(steps, HELD_STEPS),
    evalEvery: 0,
  });
  ctx.arena.resetPeak();
  const runner = await SftRunner.create(
    ctx,
    md.config,
    md.reader,
    { train: benchRows(md.config, B, T), eval: [], padId: 0 },
    run,
    {
      baseSpecs: base,
      methodCtx: { tokenizer: { encode: (t: string) => md.tokenizer.encode(t) } },
    },
  );
  let recordMs: number[] = [];
  const step = async (held = false) => {
    // Held steps start on an idle device: the previous step's work, released at its end, would otherwise
    // execute on these cores while this one records.
    if (held) await ctx.sync();
    const r0 = performance.now();
    if (held) ctx.holdQueue();
    runner.stepOnce(); // records and submits the step's GPU work; nothing waits for the GPU in it
    recordMs.push(performance.now() - r0);
    ctx.releaseQueue();
    await runner.settle(0);
  };
  // Two warm-up steps: pipelines compiled, buffers pooled, and the pool's hand-back order settled, so
  // the bind groups the timed steps need are the cached ones (per_step counts a steady step).
  for (let i = 0; i < WARMUP_STEPS; i++) await step();
  const c0 = ctx.counters();
  recordMs = [];
  const t0 = performance.now();
  for (let i = 0; i < steps; i++) await step();
  const secs = (performance.now() - t0) / 1000;
  const counters = countersPerStep(c0, ctx.counters(), steps);
  const live = recordMs;
  // Then the recording alone: a few more steps with the queue held until each is recorded, so the device
  // executing earlier submits (on a software adapter, on these same cores) is not in the figure.
  recordMs = [];
  for (let i = 0; i < Math.min(steps, HELD_STEPS); i++) await step(true);
  const perStep = {
    ...counters,
    record_ms: round(median(recordMs), 1),
    record_ms_min: round(Math.min(...recordMs), 1),
    record_ms_live: round(median(live), 1),
  };
  await runner.flush();
  const out = {
    trainable: runner.adapter.plan.count,
    tokensPerS: (B * T * steps) / secs,
    msPerStep: (secs / steps) * 1000,
    peakBytes: ctx.arena.stats().peakTotal,
    perStep,
  };
  runner.dispose();
  return out;
}

const round = (v: number, d = 2) => Math.round(v * 10 ** d) / 10 ** d;

/**
 * The four selective variants at one trainable budget: N:M fixes it (out·in·N/M per target), unstructured
 * sparse and rows take density N/M (equal counts where out is a multiple of M), LoRA the rank whose
 * r·(in+out) comes nearest. All over every linear layer.
 */
export function selectiveVariants(
  c: ModelConfig,
  nm: string,
): { label: string; method: string; options: RawOptions }[] {
  const hit = /^(\d+):(\d+)$/.exec(nm);
  if (!hit) throw new Error(`--nm must be N:M, got "${nm}"`);
  const p = Number(hit[1]) / Number(hit[2]);
  const sites = selectSites(c, 'all-linear');
  const budget = sites.reduce((n, s) => n + s.outFeatures * s.inFeatures * p, 0);
  const perRank = sites.reduce((n, s) => n + s.inFeatures + s.outFeatures, 0);
  const r = Math.max(1, Math.round(budget / perRank));
  return [
    { label: 'sparse', method: 'sparse', options: { mask: 'random', density: p } },
    { label: `sparse_nm_${nm.replace(':', '_')}`, method: 'sparse', options: { mask: 'nm', nm } },
    { label: 'rows', method: 'rows', options: { mask: 'random', density: p } },
    { label: 'lora', method: 'lora', options: { r, lora_alpha: 2 * r, target_modules: 'all-linear' } },
  ];
}

async function compareSelective(ctx: GpuContext, md: ModelDir, a: Args): Promise<Record<string, number>> {
  const base = await loadCheckpointSpecs(md.config, md.reader);
  const shape = { B: a.int('batch', 2), T: a.int('seq', 32), steps: Math.max(2, a.int('steps', 3)) };
  const got = new Map<string, Measured & { allreduce: number }>();
  for (const v of selectiveVariants(md.config, a.opt('nm') ?? '1:8')) {
    const m = await timeTraining(ctx, md, base, v.method, v.options, shape);
    const allreduce = allreduceBytesOf(m.trainable);
    got.set(v.label, { ...m, allreduce });
    print({
      bench: 'selective',
      variant: v.label,
      method: v.method,
      options: v.options,
      trainable_params: m.trainable,
      ms_per_step: round(m.msPerStep, 1),
      tokens_per_s: round(m.tokensPerS, 1),
      mem_peak_bytes: m.peakBytes,
      allreduce_bytes: allreduce,
      per_step: m.perStep,
    });
  }
  const lora = got.get('lora')!;
  const ratios: Record<string, number> = {};
  for (const [label, m] of got) {
    if (label === 'lora') continue;
    ratios[`${label}_ms_per_step_vs_lora`] = m.msPerStep / lora.msPerStep;
    ratios[`${label}_mem_peak_vs_lora`] = m.peakBytes / lora.peakBytes;
    ratios[`${label}_allreduce_vs_lora`] = m.allreduce / lora.allreduce;
    ratios[`${label}_trainable_vs_lora`] = m.trainable / lora.trainable;
  }
  return ratios;
}

export async function benchCommand(a: Args): Promise<void> {
  const ctx = await acquireNodeGpu({ tune: true });
  const ratios: Record<string, number> = {};
  const compare = a.choice('compare', ['selective'] as const);
  const modelDir = a.opt('model');
  if (compare && !modelDir) throw new Error('--compare selective needs --model DIR');
  // The selective comparison skips the matmul sweep unless sizes are asked for.
  const sizes = (a.opt('sizes') ?? (compare ? '' : '256,512'))
    .split(',')
    .map(Number)
    .filter((n) => n > 0);
  for (const n of sizes) {
    const rates: Record<string, number> = {};
    for (const v of MATMUL_VARIANTS) rates[v] = await timeMatmul(ctx, n, v);
    print({
      bench: 'matmul',
      size: n,
      gflops: rates,
      chosen: ctx.variants.get(matmulVariantKey(matmulClass(n, n, n))) ?? 'regblock',
    });
    for (const v of MATMUL_VARIANTS)
      if (v !== 'naive') ratios[`matmul_${n}_${v}_vs_naive`] = rates[v] / rates.naive;
  }
  if (modelDir && compare) {
    Object.assign(ratios, await compareSelective(ctx, await openModelDir(modelDir), a));
  } else if (modelDir) {
    const md = await openModelDir(modelDir);
    const base = await loadCheckpointSpecs(md.config, md.reader);
    const shape = { B: a.int('batch', 2), T: a.int('seq', 32), steps: Math.max(2, a.int('steps', 3)) };
    const methods = (a.opt('methods') ?? 'full,lora').split(',').filter(Boolean);
    const tokensPerS: Record<string, number> = {};
    for (const name of methods) {
      // LoRA once per path (ops-peft.ts loraAddInto): the device's default, then the other one forced,
      // so the dispatch and recording figures of both show on any machine.
      const paths =
        name === 'lora'
          ? [null, loraFusedPays(ctx, { M: shape.B * shape.T, r: 8 }) ? 'matmul' : 'fused']
          : [null];
      for (const forced of paths) {
        if (forced) ctx.variants.set('lora', forced);
        const m = await timeTraining(ctx, md, base, name, {}, shape);
        const path =
          name === 'lora'
            ? { lora_path: forced ?? (loraFusedPays(ctx, { M: 1, r: 8 }) ? 'fused' : 'matmul') }
            : {};
        ctx.variants.delete('lora');
        if (!forced) tokensPerS[name] = m.tokensPerS;
        print({
          bench: 'train_step',
          method: name,
          ...path,
          trainable_params: m.trainable,
          tokens_per_s: round(m.tokensPerS, 1),
          ms_per_step: Math.round(m.msPerStep),
          mem_peak_bytes: m.peakBytes,
          per_step: m.perStep,
        });
      }
    }
    if (tokensPerS.full)
      for (const n of methods)
        if (n !== 'full') ratios[`train_${n}_vs_full`] = tokensPerS[n] / tokensPerS.full;
  }
  print(Object.fromEntries(Object.entries(ratios).map(([k, v]) => [k, round(v)])));
  ctx.destroy();
}

/**
 * What a step costs the CPU: the context's counters and the wall time of recording it (stepOnce; nothing
 * in it waits for the GPU). `record_ms` (median) and `record_ms_min` time the recording alone, with the
 * queue held until the step is recorded (GpuContext.holdQueue); `record_ms_live` is the timed steps' own,
 * submitting as they go, where a software adapter's execution of earlier submits shares the cores. On a
 * loaded machine the medians carry other processes' time and V8's collections.
 */
type StepCost = GpuCounters & { record_ms: number; record_ms_min: number; record_ms_live: number };

export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const h = s.length >> 1;
  return s.length % 2 ? s[h] : (s[h - 1] + s[h]) / 2;
}

/** The GPU context's recording counters over `steps` timed steps, per step (dispatches, bind groups
 * created, uniform writes, error scopes, copies, submits): what a step costs the CPU besides the kernels. */
export function countersPerStep(before: GpuCounters, after: GpuCounters, steps: number): GpuCounters {
  const d = counterDelta(before, after);
  for (const k of Object.keys(d) as Array<keyof GpuCounters>) d[k] = Math.round((d[k] / steps) * 10) / 10;
  return d;
}
