// Entry of the real-GPU bundle (built by build.ts into one file, run by run.sh with the bundle's own Node):
// on whatever GPU Dawn finds, matmul GFLOP/s at 1024/2048/4096 f32 with the autotuned kernel (one sampled
// set of outputs checked against float64), a LoRA training step's tokens/s on the built-in model and on a
// GPT-2 124M-shaped random model, and decode ms/token on both. One JSON line per measurement on stdout,
// the adapter first; the last line holds everything, with the shapes torch_ref.py needs to time the same
// work in PyTorch. `--quick` shrinks every shape so SwiftShader runs it in a test.
//
//   bench.mjs [--quick] [--sizes 1024,2048,4096] [--model DIR] [--batch 8 --seq 128]
//             [--gpt2-batch 8 --gpt2-seq 256] [--steps 5] [--decode-tokens 32] [--no-gpt2] [--no-tune]

import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { acquireNodeGpu } from '../../src/gpu/node';
import {
  benchDecode,
  benchMatmul,
  benchTrain,
  type DecodeResult,
  type MatmulResult,
  type TrainResult,
} from './measure';
import { builtinModel, randomGpt2 } from './models';

/** Format of the last line; torch_ref.py checks it. */
export const BENCH_VERSION = 1;

/** A sampled matmul entry off by more than this share of Σ|a·b| fails the check (f32 accumulate). */
export const MATMUL_REL_TOL = 1e-4;

function parseFlags(argv: string[]): Map<string, string> {
  const m = new Map<string, string>();
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (!a.startsWith('--')) throw new Error(`unexpected argument ${a}`);
    const next = argv[i + 1];
    if (next === undefined || next.startsWith('--')) m.set(a.slice(2), 'true');
    else m.set(a.slice(2), argv[++i]);
  }
  return m;
}

const print = (o: object) => process.stdout.write(`${JSON.stringify(o)}\n`);

/** The built-in model: beside the bundled file in the bundle, public/ when run from the checkout. */
function defaultModelDir(): string {
  const here = dirname(fileURLToPath(import.meta.url));
  const bundled = join(here, 'model');
  return existsSync(bundled) ? bundled : join(here, '..', '..', 'public', 'models', 'tiny-llama-brown');
}

async function main(argv: string[]): Promise<void> {
  const f = parseFlags(argv);
  const known = [
    'quick',
    'sizes',
    'model',
    'batch',
    'seq',
    'gpt2-batch',
    'gpt2-seq',
    'steps',
    'decode-tokens',
    'no-gpt2',
    'no-tune',
  ];
  for (const k of f.keys()) if (!known.includes(k)) throw new Error(`unknown flag --${k}`);
  const quick = f.has('quick');
  const int = (k: string, d: number) => {
    const v = f.has(k) ? Number(f.get(k)) : d;
    if (!Number.isInteger(v) || v < 1) throw new Error(`--${k} ${f.get(k)}: a whole number ≥ 1`);
    return v;
  };
  const sizes = (f.get('sizes') ?? (quick ? '64,96' : '1024,2048,4096')).split(',').map(Number);
  if (sizes.some((n) => !Number.isInteger(n) || n < 1)) throw new Error(`--sizes ${f.get('sizes')}`);
  const steps = int('steps', quick ? 2 : 5);
  const decodeTokens = int('decode-tokens', quick ? 4 : 32);

  const t0 = performance.now();
  const ctx = await acquireNodeGpu({ quiet: true, tune: !f.has('no-tune') });
  print({
    bench: 'adapter',
    ...ctx.adapter,
    features: ctx.features,
    max_buffer_bytes: ctx.limits.maxBufferSize,
    max_storage_binding_bytes: ctx.limits.maxStorageBufferBindingSize,
    variants: Object.fromEntries(ctx.variants),
    node: process.version,
    vk_icd_filenames: process.env.VK_ICD_FILENAMES ?? null,
  });

  const matmuls: MatmulResult[] = [];
  for (const n of sizes) {
    const r = await benchMatmul(ctx, n);
    matmuls.push(r);
    print({ bench: 'matmul', ...r });
  }

  const train: TrainResult[] = [];
  const decode: DecodeResult[] = [];
  const builtin = await builtinModel(f.get('model') ?? defaultModelDir());
  const bShape = { B: int('batch', quick ? 2 : 8), T: int('seq', quick ? 16 : 128), steps };
  train.push(await benchTrain(ctx, builtin, bShape));
  print({ bench: 'train', ...train[train.length - 1], hf_config: undefined });
  decode.push(await benchDecode(ctx, builtin, { prompt: 8, tokens: decodeTokens }));
  print({ bench: 'decode', ...decode[decode.length - 1] });

  let gpt2Params: number | null = null;
  if (!f.has('no-gpt2')) {
    const gpt2 = await randomGpt2(quick);
    gpt2Params = gpt2.params;
    const gShape = { B: int('gpt2-batch', quick ? 2 : 8), T: int('gpt2-seq', quick ? 16 : 256), steps };
    train.push(await benchTrain(ctx, gpt2, gShape));
    print({ bench: 'train', ...train[train.length - 1], hf_config: undefined });
    decode.push(await benchDecode(ctx, gpt2, { prompt: 8, tokens: decodeTokens }));
    print({ bench: 'decode', ...decode[decode.length - 1] });
  }

  const worst = Math.max(...matmuls.map((m) => m.max_rel_err));
  print({
    bench: 'gpu-bundle',
    version: BENCH_VERSION,
    quick,
    adapter: ctx.adapter.description || ctx.adapter.vendor,
    software: ctx.adapter.software,
    matmul: matmuls,
    matmul_ok: worst <= MATMUL_REL_TOL,
    matmul_rel_tol: MATMUL_REL_TOL,
    train,
    decode,
    gpt2_params: gpt2Params,
    seconds: Math.round((performance.now() - t0) / 100) / 10,
  });
  ctx.destroy();
  if (worst > MATMUL_REL_TOL) process.exitCode = 3;
}

main(process.argv.slice(2)).then(
  () => process.exit(process.exitCode ?? 0),
  (e: unknown) => {
    process.stderr.write(`error: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    process.exit(1);
  },
);
