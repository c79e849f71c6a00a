// The three measurements of the real-GPU bundle (bench.ts runs them): matmul GFLOP/s with the autotuned
// kernel, checked against a float64 reference on sampled entries; a LoRA training step's tokens/s through
// the SFT runner (what the page and the CLI train with); and decode ms/token through the engine's KV-cache
// generation. Each returns one plain object for the bench's JSON, shapes included, so torch_ref.py can
// time the same work on the same GPU.

import { bestSecondsPerCall } from '../../bench/timing';
import type { ModelConfig } from '../../src/formats/model-config';
import type { TensorReader } from '../../src/formats/safetensors';
import { counterDelta, type GpuContext, type GpuCounters } from '../../src/gpu/context';
import { matmul, matmulFlops } from '../../src/gpu/kernels/matmul';
import { generate } from '../../src/model/generate';
import { baseSpecsOf, checkpointBaseSource } from '../../src/model/load';
import { FrozenBase } from '../../src/tensor/frozen-base';
import { gpuBackend } from '../../src/tensor/gpu-backend';
import { ParamSet } from '../../src/tensor/params';
import { SftRunner } from '../../src/train/sft';
import { sftRunConfig } from '../../src/train/sft-config';

const round = (v: number, d = 2) => Math.round(v * 10 ** d) / 10 ** d;

/** Inputs of the matmul bench: deterministic, in [-1, 1], different for A and B. */
export const matA = (i: number) => Math.sin(i * 0.37 + 0.1);
export const matB = (i: number) => Math.cos(i * 0.53 + 0.2);

export interface MatmulResult {
  size: number;
  gflops: number;
  ms: number;
  variant: string;
  /** Entries compared with the float64 reference (every one up to 256², else a fixed sample). */
  checked: number;
  max_abs_err: number;
  /** Largest |ours − ref| / Σ_k |a_ik·b_kj|: the error relative to what f32 accumulation can be held to. */
  max_rel_err: number;
}

/** Entries (row, col) to check: all of a small output, else 1024 spread over every tile by a fixed LCG. */
function sampleEntries(n: number): [number, number][] {
  if (n <= 256) return Array.from({ length: n * n }, (_, k) => [Math.floor(k / n), k % n]);
  const out: [number, number][] = [
    [0, 0],
    [n - 1, n - 1],
    [0, n - 1],
    [n - 1, 0],
  ];
  let s = 12345;
  const next = () => {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    return s % n;
  };
  while (out.length < 1024) out.push([next(), next()]);
  return out;
}

/** C = A·B at n³ with the context's chosen matmul variant: best-of-three timing, then the check. */
export async function benchMatmul(ctx: GpuContext, n: number): Promise<MatmulResult> {
  const a = Float32Array.from({ length: n * n }, (_, i) => matA(i));
  const b = Float32Array.from({ length: n * n }, (_, i) => matB(i));
  const ga = ctx.upload(a, 'workspace', 'bundle-a');
  const gb = ctx.upload(b, 'workspace', 'bundle-b');
  const out = ctx.arena.alloc(n * n * 4, 'workspace', 'bundle-out');
  const run = () => matmul(ctx, { out, a: ga, b: gb, M: n, N: n, K: n });
  const secs = await bestSecondsPerCall(run, () => ctx.sync());
  const got = await ctx.readF32(out, n * n);
  let maxAbs = 0;
  let maxRel = 0;
  const entries = sampleEntries(n);
  for (const [i, j] of entries) {
    let ref = 0;
    let mag = 0;
    for (let k = 0; k < n; k++) {
      const p = a[i * n + k] * b[k * n + j];
      ref += p;
      mag += Math.abs(p);
    }
    const err = Math.abs(got[i * n + j] - ref);
    maxAbs = Math.max(maxAbs, err);
    maxRel = Math.max(maxRel, err / Math.max(mag, 1e-30));
  }
  for (const x of [ga, gb, out]) ctx.arena.free(x);
  return {
    size: n,
    gflops: round(matmulFlops(n, n, n) / secs / 1e9, 3),
    ms: round(secs * 1000, 3),
    // The autotune's pick for square shapes (per shape class since issue 12; one 'matmul' entry before).
    variant: ctx.variants.get('matmul/square') ?? ctx.variants.get('matmul') ?? 'default',
    checked: entries.length,
    max_abs_err: maxAbs,
    max_rel_err: maxRel,
  };
}

/** A model the bench trains and decodes: its config, its weights, and config.json for torch_ref.py. */
export interface BenchModel {
  name: string;
  config: ModelConfig;
  reader: TensorReader;
  /** config.json as published (torch_ref.py builds the same model from it). */
  hfConfig: Record<string, unknown>;
  /** A folder holding the checkpoint, when it has one (torch_ref.py loads its weights from it). */
  dir: string | null;
}

/** The rows a training step sees: fixed ids, every token a target (torch_ref.py uses the same formula). */
export function benchIds(vocab: number, B: number, T: number): number[][] {
  return Array.from({ length: B }, (_, b) =>
    Array.from({ length: T }, (_, t) => ((b * T + t) * 13 + 5) % vocab),
  );
}

export interface TrainResult {
  model: string;
  method: 'lora';
  /** PEFT's defaults (r 8, alpha 8, dropout 0, its per-architecture targets), as torch_ref.py's LoraConfig. */
  lora: { r: number; lora_alpha: number; lora_dropout: number };
  batch: number;
  seq: number;
  steps: number;
  lr: number;
  trainable_params: number;
  tokens_per_s: number;
  ms_per_step: number;
  first_loss: number | null;
  mem_peak_bytes: number;
  per_step: GpuCounters & { record_ms: number };
  hf_config: Record<string, unknown>;
  model_dir: string | null;
}

const WARMUP_STEPS = 2;

/** LoRA steps through the SFT runner: two untimed (pipelines compiled, pool settled), then `steps` timed. */
export async function benchTrain(
  ctx: GpuContext,
  m: BenchModel,
  shape: { B: number; T: number; steps: number },
): Promise<TrainResult> {
  const { B, T, steps } = shape;
  const lora = { r: 8, lora_alpha: 8, lora_dropout: 0 };
  const lr = 1e-4;
  const run = sftRunConfig({
    method: 'lora',
    options: { ...lora },
    lr,
    schedule: 'constant',
    steps: steps + WARMUP_STEPS,
    batch: B,
    seqLen: T,
    logEvery: 1,
    evalEvery: 0,
  });
  ctx.arena.resetPeak();
  const ids = benchIds(m.config.vocabSize, B, T);
  const rows = ids.map((x) => ({ inputIds: x, labels: x }));
  const runner = await SftRunner.create(ctx, m.config, m.reader, { train: rows, eval: [], padId: 0 }, run);
  let recordMs = 0;
  const step = async () => {
    const r0 = performance.now();
    runner.stepOnce();
    recordMs += performance.now() - r0;
    await runner.settle(0);
  };
  for (let i = 0; i < WARMUP_STEPS; i++) await step();
  const c0 = ctx.counters();
  recordMs = 0;
  const t0 = performance.now();
  for (let i = 0; i < steps; i++) await step();
  const secs = (performance.now() - t0) / 1000;
  const d = counterDelta(c0, ctx.counters());
  for (const k of Object.keys(d) as Array<keyof GpuCounters>) d[k] = round(d[k] / steps, 1);
  const points = await runner.flush();
  const first = points.find((p) => Number.isFinite(p.loss));
  const result: TrainResult = {
    model: m.name,
    method: 'lora',
    lora,
    batch: B,
    seq: T,
    steps,
    lr,
    trainable_params: runner.adapter.plan.count,
    tokens_per_s: round((B * T * steps) / secs, 1),
    ms_per_step: round((secs / steps) * 1000, 2),
    first_loss: first ? first.loss : null,
    mem_peak_bytes: ctx.arena.stats().peakTotal,
    per_step: { ...d, record_ms: round(recordMs / steps, 2) },
    hf_config: m.hfConfig,
    model_dir: m.dir,
  };
  runner.dispose();
  return result;
}

export interface DecodeResult {
  model: string;
  prompt_tokens: number;
  new_tokens: number;
  prefill_ms: number;
  ms_per_token: number;
}

/** Greedy decoding of one prompt with the KV cache, no EOS stop: ms per token after the prefill. */
export async function benchDecode(
  ctx: GpuContext,
  m: BenchModel,
  shape: { prompt: number; tokens: number },
): Promise<DecodeResult> {
  const be = gpuBackend(ctx);
  const base = new FrozenBase(be, checkpointBaseSource(m.config, m.reader, 'f32'), 'f32');
  const specs = baseSpecsOf(base.source);
  const ps = new ParamSet(be, specs, { base: await base.lease(specs.map((s) => s.name)) });
  const prompt = benchIds(m.config.vocabSize, 1, shape.prompt)[0];
  const opts = { maxNewTokens: shape.tokens, eosIds: [] as number[], padId: 0 };
  // Once untimed: every pipeline of the prefill and decode shapes compiled before the timed run.
  await generate(be, m.config, ps, [prompt], { ...opts, maxNewTokens: 2 });
  const res = await generate(be, m.config, ps, [prompt], opts);
  // The lease goes back with the set: the base frees its tensors once no lease holds them.
  ps.dispose();
  return {
    model: m.name,
    prompt_tokens: shape.prompt,
    new_tokens: shape.tokens,
    prefill_ms: round(res.prefillMs, 2),
    ms_per_token: round(res.decodeMs / Math.max(1, res.forwards - 1), 3),
  };
}
