// Two small training steps timed on all three sides (ours on the tape, TF.js with tf.grads, jax-js with
// jit(valueAndGrad) in jaxjs.ts), same shapes and inputs:
// - lora_mlp: x [N,d] → relu(x·W1 + s·(x·A1)·B1) → ·W2 + s·(·A2)·B2, MSE against a target; W1, W2 frozen
//   d×d, rank-r adapters on both, gradients of the four adapter matrices. Ours is the engine's LoRA
//   (loraAddInto: the fused kernels) and seeds backward with the MSE gradient 2(y−t)/(N·d) (two
//   elementwise dispatches) instead of reducing the loss value.
// - attention: x [B,T,d] → q, k, v projections, causal multi-head attention, output projection; backward
//   seeded with a fixed dy, gradients of the four projection weights.
import type * as tfjs from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-core/dist/register_all_gradients';
import type { GpuRegion } from '../../src/gpu/arena';
import { gpuBackend } from '../../src/tensor/gpu-backend';
import * as op from '../../src/tensor/ops';
import { activation, loraAddInto } from '../../src/tensor/ops-peft';
import { Tape, Tensor } from '../../src/tensor/tape';
import { gflops, measure, type Timing } from '../timing';
import type { CaseResult } from '../types';
import { type BenchEnv, randomF32 } from './env';
import { jaxAttention, jaxLoraMlp } from './jaxjs';

type T = tfjs.Tensor;

/** A side's timing and, from one more untimed run, the gradient of its first trainable matrix (A1, Wq). */
export interface Side {
  t: Timing;
  grad: Float32Array;
}

export const LORA_MLP = { N: 512, d: 256, r: 8, alpha: 16 };
export const ATTENTION = { B: 8, T: 128, d: 64, heads: 1 };

/** Matmul flops of the LoRA MLP step (forward 2 frozen + 4 adapter matmuls; backward: adapter grads and the
 * data gradients that reach them), for a GFLOP/s column; ratios use time. */
export function loraMlpFlops(s = LORA_MLP): number {
  const { N, d, r } = s;
  const big = 2 * N * d * d;
  const small = 2 * N * d * r;
  return 2 * big + 4 * small + /* dh through W2 */ big + /* grads A,B ×2 + dx paths */ 8 * small;
}

export function attentionFlops(s = ATTENTION): number {
  const { B, T, d } = s;
  const proj = 4 * 2 * B * T * d * d;
  const att = 2 * 2 * B * T * T * d;
  return 3 * (proj + att);
}

const scaled = (n: number, seed: number, s: number) => randomF32(n, seed).map((v) => v * s);

export async function tfjsLoraMlp(env: BenchEnv, s = LORA_MLP): Promise<Side> {
  const { tf } = env;
  const { N, d, r, alpha } = s;
  const x = tf.tensor2d(randomF32(N * d, 30), [N, d]);
  const target = tf.tensor2d(randomF32(N * d, 31), [N, d]);
  const w1 = tf.tensor2d(scaled(d * d, 32, 0.05), [d, d]);
  const w2 = tf.tensor2d(scaled(d * d, 33, 0.05), [d, d]);
  const ad = [
    tf.tensor2d(scaled(d * r, 34, 0.05), [d, r]),
    tf.tensor2d(scaled(r * d, 35, 0.05), [r, d]),
    tf.tensor2d(scaled(d * r, 36, 0.05), [d, r]),
    tf.tensor2d(scaled(r * d, 37, 0.05), [r, d]),
  ];
  const k = alpha / r;
  const f = (a1: T, b1: T, a2: T, b2: T): T => {
    const h = tf.relu(tf.add(tf.matMul(x, w1), tf.mul(tf.matMul(tf.matMul(x, a1), b1), k)));
    const y = tf.add(tf.matMul(h, w2), tf.mul(tf.matMul(tf.matMul(h, a2), b2), k));
    return tf.mean(tf.square(tf.sub(y, target)));
  };
  const grads = tf.valueAndGrads(f as (...a: T[]) => T);
  try {
    const t = await measure(async () => {
      const { value, grads: gs } = grads(ad);
      await env.tfSync();
      tf.dispose([value, ...gs]);
    }, env.timing);
    const { value, grads: gs } = grads(ad);
    const grad = (await gs[0].data()) as Float32Array;
    tf.dispose([value, ...gs]);
    return { t, grad };
  } finally {
    tf.dispose([x, target, w1, w2, ...ad]);
  }
}

export async function tfjsAttention(env: BenchEnv, s = ATTENTION): Promise<Side> {
  const { tf } = env;
  const { B, T: S, d, heads: H } = s;
  const hd = d / H;
  const x = tf.tensor2d(randomF32(B * S * d, 40), [B * S, d]);
  const dy = tf.tensor2d(randomF32(B * S * d, 41), [B * S, d]);
  const ws = [0, 1, 2, 3].map((i) => tf.tensor2d(scaled(d * d, 42 + i, 0.1), [d, d]));
  const maskVals = new Float32Array(S * S);
  for (let i = 0; i < S; i++) for (let j = i + 1; j < S; j++) maskVals[i * S + j] = -1e9;
  const mask = tf.tensor2d(maskVals, [S, S]);
  const toHeads = (t: T) => tf.transpose(tf.reshape(t, [B, S, H, hd]), [0, 2, 1, 3]);
  const f = (wq: T, wk: T, wv: T, wo: T): T => {
    const q = toHeads(tf.matMul(x, wq));
    const k = toHeads(tf.matMul(x, wk));
    const v = toHeads(tf.matMul(x, wv));
    const sc = tf.add(tf.mul(tf.matMul(q, k, false, true), 1 / Math.sqrt(hd)), mask);
    const o = tf.reshape(tf.transpose(tf.matMul(tf.softmax(sc), v), [0, 2, 1, 3]), [B * S, d]);
    return tf.matMul(o, wo);
  };
  const grads = tf.grads(f as (...a: T[]) => T);
  try {
    const t = await measure(async () => {
      const gs = grads(ws, dy);
      await env.tfSync();
      tf.dispose(gs);
    }, env.timing);
    const gs = grads(ws, dy);
    const grad = (await gs[0].data()) as Float32Array;
    tf.dispose(gs);
    return { t, grad };
  } finally {
    tf.dispose([x, dy, mask, ...ws]);
  }
}

/** Leaf tensors for ours: uploaded once, gradients (when asked) allocated by each run's tape. */
function leaves(env: BenchEnv, specs: Array<[string, number[], Float32Array, boolean]>) {
  const be = gpuBackend(env.ctx);
  const bufs: GpuRegion[] = [];
  const ts = specs.map(([name, shape, data, grad]) => {
    const b = be.upload(data, 'workspace', `bench.${name}`);
    bufs.push(b);
    return new Tensor<GpuRegion>(shape, b, grad, name);
  });
  const free = () => {
    for (const b of bufs) be.free(b);
  };
  /** Each run's tape allocates (and frees) the leaves' gradients: a new tape starts them afresh. */
  const fresh = () => {
    for (const t of ts) {
      t.grad = null;
      t.gradInit = false;
    }
  };
  return { be, ts, free, fresh };
}

/** [rows, cols] row-major → [cols, rows]: the peers' in_out adapters in PEFT's nn.Linear layouts. */
function transposed(a: Float32Array, rows: number, cols: number): Float32Array {
  const t = new Float32Array(a.length);
  for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) t[j * rows + i] = a[i * cols + j];
  return t;
}

export async function oursLoraMlp(env: BenchEnv, s = LORA_MLP): Promise<Side> {
  const { N, d, r, alpha } = s;
  // The engine's LoRA (loraAddInto, fused kernels): A [r, d] and B [d, r], the transposes of the peers'
  // A [d, r] and B [r, d] holding the same values; the gradient compared is read back transposed.
  const { be, ts, free, fresh } = leaves(env, [
    ['x', [N, d], randomF32(N * d, 30), false],
    ['negT', [N, d], randomF32(N * d, 31).map((v) => -v), false],
    ['w1', [d, d], scaled(d * d, 32, 0.05), false],
    ['w2', [d, d], scaled(d * d, 33, 0.05), false],
    ['a1', [r, d], transposed(scaled(d * r, 34, 0.05), d, r), true],
    ['b1', [d, r], transposed(scaled(r * d, 35, 0.05), r, d), true],
    ['a2', [r, d], transposed(scaled(d * r, 36, 0.05), d, r), true],
    ['b2', [d, r], transposed(scaled(r * d, 37, 0.05), r, d), true],
  ]);
  const [x, negT, w1, w2, a1, b1, a2, b2] = ts;
  const k = alpha / r;
  const n = N * d;
  const dy = be.alloc(n, 'workspace', 'bench.dy');
  try {
    const run = async (keep: boolean): Promise<Float32Array | null> => {
      fresh();
      const tp = new Tape(be, true);
      const lora = (
        inp: Tensor<GpuRegion>,
        w: Tensor<GpuRegion>,
        a: Tensor<GpuRegion>,
        b: Tensor<GpuRegion>,
        nm: string,
      ) => loraAddInto(tp, op.linear(tp, inp, w, null, 'in_out', `${nm}.base`), inp, a, b, k, `${nm}.lora`);
      const h = activation(tp, lora(x, w1, a1, b1, 'l1'), 'relu', 'h');
      const y = lora(h, w2, a2, b2, 'l2');
      // d(mean (y−t)²)/dy = 2(y−t)/n
      be.add({ out: dy, a: y.store, b: negT.store, n });
      be.scale({ out: dy, x: dy, n, alpha: 2 / n });
      tp.seedGrad(y, dy);
      tp.backward();
      await env.ctx.sync();
      const grad = keep ? await env.ctx.readF32(tp.gradOf(a1) as GpuRegion, a1.size) : null;
      tp.dispose();
      return grad && transposed(grad, r, d);
    };
    const t = await measure(async () => {
      await run(false);
    }, env.timing);
    return { t, grad: (await run(true)) as Float32Array };
  } finally {
    be.free(dy);
    free();
  }
}

export async function oursAttention(env: BenchEnv, s = ATTENTION): Promise<Side> {
  const { B, T, d, heads } = s;
  const { ts, free, fresh } = leaves(env, [
    ['x', [B * T, d], randomF32(B * T * d, 40), false],
    ['dy', [B * T, d], randomF32(B * T * d, 41), false],
    ...[0, 1, 2, 3].map((i): [string, number[], Float32Array, boolean] => [
      `w${i}`,
      [d, d],
      scaled(d * d, 42 + i, 0.1),
      true,
    ]),
  ]);
  const [x, dy, wq, wk, wv, wo] = ts;
  const dims = { B, T, S: T, Hq: heads, Hkv: heads, D: d / heads };
  try {
    const run = async (keep: boolean): Promise<Float32Array | null> => {
      fresh();
      const tp = new Tape(gpuBackend(env.ctx), true);
      const q = op.linear(tp, x, wq, null, 'in_out', 'q');
      const k = op.linear(tp, x, wk, null, 'in_out', 'k');
      const v = op.linear(tp, x, wv, null, 'in_out', 'v');
      const o = op.linear(tp, op.attention(tp, q, k, v, dims, null, 'att'), wo, null, 'in_out', 'o');
      tp.seedGrad(o, dy.store);
      tp.backward();
      await env.ctx.sync();
      const grad = keep ? await env.ctx.readF32(tp.gradOf(wq) as GpuRegion, wq.size) : null;
      tp.dispose();
      return grad;
    };
    const t = await measure(async () => {
      await run(false);
    }, env.timing);
    return { t, grad: (await run(true)) as Float32Array };
  } finally {
    free();
  }
}

/** A training-step case on all three sides; GFLOP/s from `flops`, the medians kept in ms too. */
async function stepCase(
  env: BenchEnv,
  name: string,
  flops: number,
  sides: { ours(): Promise<Side>; tfjs(): Promise<Side>; jaxjs(): Promise<Timing> },
): Promise<CaseResult> {
  const theirs = await sides.tfjs();
  const tf = theirs.t.medianMs;
  env.log(`  ${name} TF.js: ${tf.toFixed(1)} ms`);
  const mine = await sides.ours();
  const ours = mine.t.medianMs;
  env.log(`  ${name} ours:  ${ours.toFixed(1)} ms`);
  // A fast wrong step must not win: the first trainable matrix's gradient agrees with TF.js's.
  let maxDiff = 0;
  let maxRef = 0;
  for (let i = 0; i < theirs.grad.length; i++) {
    maxDiff = Math.max(maxDiff, Math.abs(mine.grad[i] - theirs.grad[i]));
    maxRef = Math.max(maxRef, Math.abs(theirs.grad[i]));
  }
  const rel = maxDiff / maxRef;
  if (!(maxRef > 0 && rel < 1e-3) || mine.grad.length !== theirs.grad.length)
    throw new Error(
      `${name}: our gradient and TF.js's differ (max |diff| = ${maxDiff}, max |TF.js| = ${maxRef})`,
    );
  let jax: number | null = null;
  if (env.jax) {
    jax = (await sides.jaxjs()).medianMs;
    env.log(`  ${name} jax-js: ${jax.toFixed(1)} ms`);
  }
  return {
    name,
    ours_gflops: gflops(flops, ours),
    tfjs_gflops: gflops(flops, tf),
    jaxjs_gflops: jax === null ? null : gflops(flops, jax),
    ms: { ours, tfjs: tf, jaxjs: jax },
    notes: [
      `${name}: first gradient, ours vs TF.js max |diff|/max |ref| = ${rel.toExponential(1)} (max |ref| ${maxRef.toExponential(2)}, ${theirs.grad.length} values)`,
    ],
  };
}

export const loraMlpCase = (env: BenchEnv): Promise<CaseResult> =>
  stepCase(env, 'lora_mlp', loraMlpFlops(), {
    ours: () => oursLoraMlp(env),
    tfjs: () => tfjsLoraMlp(env),
    jaxjs: () => jaxLoraMlp(LORA_MLP, env.timing),
  });

export const attentionCase = (env: BenchEnv): Promise<CaseResult> =>
  stepCase(env, 'attention', attentionFlops(), {
    ours: () => oursAttention(env),
    tfjs: () => tfjsAttention(env),
    jaxjs: () => jaxAttention(ATTENTION, env.timing),
  });
