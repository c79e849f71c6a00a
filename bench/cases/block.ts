// The transformer-block case: one GPT-2 block (LayerNorm, fused QKV projection, causal multi-head
// attention, output projection, residual, LayerNorm, MLP with tanh-GELU, residual), forward and backward
// with gradients for the input and every weight, as a full fine-tuning step computes them.
//
// The TF.js side is here (forward written with tf ops, backward by tf.grads); ours is the model's own block
// on the tape (block-ours.ts), jax-js's is jit(valueAndGrad) in jaxjs.ts, with the same shapes and flop count.
import type * as tfjs from '@tensorflow/tfjs-core';
// tf.grads needs the gradient registry, which tfjs-core leaves out of its main entry.
import '@tensorflow/tfjs-core/dist/register_all_gradients';
import { gflops, measure } from '../timing';
import type { BlockConfig, CaseResult } from '../types';
import { oursBlockGflops } from './block-ours';
import { type BenchEnv, randomF32 } from './env';
import { jaxBlock } from './jaxjs';

export const blockName = (c: BlockConfig): string => `block_d${c.d}_t${c.T}${c.B > 1 ? `_b${c.B}` : ''}`;

/** Flops of forward + backward, counting matmuls only (the norms and elementwise ops are O(B·T·d)):
 * forward 24·B·T·d² (QKV 6, projection 2, MLP 16) + 4·B·T²·d (scores and weighted sum, causal mask not
 * discounted); backward twice the forward (input and weight gradients). Use the same count for ours. */
export function blockFlops(c: BlockConfig): number {
  const fwd = 24 * c.B * c.T * c.d * c.d + 4 * c.B * c.T * c.T * c.d;
  return 3 * fwd;
}

type T = tfjs.Tensor;

/** Parameter shapes in GPT-2's Conv1D layout (W stored [in, out]). */
function paramShapes(d: number): Array<[string, number[]]> {
  return [
    ['ln1_g', [d]],
    ['ln1_b', [d]],
    ['attn_w', [d, 3 * d]],
    ['attn_b', [3 * d]],
    ['proj_w', [d, d]],
    ['proj_b', [d]],
    ['ln2_g', [d]],
    ['ln2_b', [d]],
    ['fc_w', [d, 4 * d]],
    ['fc_b', [4 * d]],
    ['mlp_proj_w', [4 * d, d]],
    ['mlp_proj_b', [d]],
  ];
}

function layerNorm(tf: typeof tfjs, x: T, g: T, b: T): T {
  const { mean, variance } = tf.moments(x, -1, true);
  return tf.add(tf.mul(tf.mul(tf.sub(x, mean), tf.rsqrt(tf.add(variance, 1e-5))), g), b);
}

/** GPT-2's "gelu_new": 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))). */
function geluTanh(tf: typeof tfjs, x: T): T {
  const inner = tf.mul(tf.add(x, tf.mul(tf.pow(x, 3), 0.044715)), Math.sqrt(2 / Math.PI));
  return tf.mul(tf.mul(x, 0.5), tf.add(tf.tanh(inner), 1));
}

/** x [B,T,d] → y [B,T,d]; `mask` [T,T] holds 0 on and below the diagonal and -1e9 above. */
function blockForward(tf: typeof tfjs, c: BlockConfig, x: T, p: T[], mask: T): T {
  const [ln1g, ln1b, attnW, attnB, projW, projB, ln2g, ln2b, fcW, fcB, mprojW, mprojB] = p;
  const { B, T: S, d, heads: H } = c;
  const hd = d / H;
  const rows = (t: T) => tf.reshape(t, [B * S, -1]);
  const toHeads = (t: T) => tf.transpose(tf.reshape(t, [B, S, H, hd]), [0, 2, 1, 3]);

  const h = layerNorm(tf, x, ln1g, ln1b);
  const qkv = tf.reshape(tf.add(tf.matMul(rows(h), attnW), attnB), [B, S, 3 * d]);
  const [q, k, v] = tf.split(qkv, 3, 2).map(toHeads);
  const scores = tf.add(tf.mul(tf.matMul(q, k, false, true), 1 / Math.sqrt(hd)), mask);
  const att = tf.matMul(tf.softmax(scores), v); // [B,H,T,hd]
  const merged = tf.reshape(tf.transpose(att, [0, 2, 1, 3]), [B * S, d]);
  const x1 = tf.add(x, tf.reshape(tf.add(tf.matMul(merged, projW), projB), [B, S, d]));

  const h2 = rows(layerNorm(tf, x1, ln2g, ln2b));
  const m = tf.add(tf.matMul(geluTanh(tf, tf.add(tf.matMul(h2, fcW), fcB)), mprojW), mprojB);
  return tf.add(x1, tf.reshape(m, [B, S, d]));
}

/** TF.js forward + backward of one block, GFLOP/s by blockFlops. */
export async function tfjsBlockGflops(env: BenchEnv, c: BlockConfig): Promise<number> {
  const { tf } = env;
  if (c.d % c.heads !== 0) throw new Error(`block: d = ${c.d} is not a multiple of heads = ${c.heads}`);
  const x = tf.tensor3d(randomF32(c.B * c.T * c.d, 10), [c.B, c.T, c.d]);
  const dy = tf.tensor3d(randomF32(c.B * c.T * c.d, 11), [c.B, c.T, c.d]);
  const params = paramShapes(c.d).map(([name, shape], i) => {
    const n = shape.reduce((s, v) => s * v, 1);
    const vals = randomF32(n, 20 + i);
    // Norm gains near 1, everything else small, as in a trained GPT-2.
    if (name.endsWith('_g')) for (let j = 0; j < n; j++) vals[j] = 1 + 0.1 * vals[j];
    else for (let j = 0; j < n; j++) vals[j] *= 0.02;
    return tf.tensor(vals, shape);
  });
  const maskVals = new Float32Array(c.T * c.T);
  for (let i = 0; i < c.T; i++) for (let j = i + 1; j < c.T; j++) maskVals[i * c.T + j] = -1e9;
  const mask = tf.tensor2d(maskVals, [c.T, c.T]);
  const grad = tf.grads((xx: T, ...pp: T[]) => blockForward(tf, c, xx, pp, mask));
  try {
    const t = await measure(async () => {
      const gs = grad([x, ...params], dy);
      await env.tfSync();
      tf.dispose(gs);
    }, env.timing);
    return gflops(blockFlops(c), t.medianMs);
  } finally {
    tf.dispose([x, dy, mask, ...params]);
  }
}

export async function blockCase(env: BenchEnv, c: BlockConfig): Promise<CaseResult> {
  const tfjs = await tfjsBlockGflops(env, c);
  env.log(`  ${blockName(c)} TF.js: ${tfjs.toFixed(2)} GFLOP/s`);
  const ours = await oursBlockGflops(env, c, blockFlops(c));
  env.log(`  ${blockName(c)} ours:  ${ours.toFixed(2)} GFLOP/s`);
  let jaxjs: number | null = null;
  if (env.jax) {
    jaxjs = gflops(blockFlops(c), (await jaxBlock(c, env.timing)).medianMs);
    env.log(`  ${blockName(c)} jax-js: ${jaxjs.toFixed(2)} GFLOP/s`);
  }
  const ms = (g: number) => blockFlops(c) / (g * 1e6);
  return {
    name: blockName(c),
    ours_gflops: ours,
    tfjs_gflops: tfjs,
    jaxjs_gflops: jaxjs,
    ms: { ours: ms(ours), tfjs: ms(tfjs), jaxjs: jaxjs === null ? null : ms(jaxjs) },
  };
}
