// The jax-js side of every benchmark case (jax-js 0.1.25 on its own WebGPU device in the same page): each
// function builds the work with `jit` (and `valueAndGrad` for the training steps), warms it up and times
// it the way timing.ts times ours and TF.js's: one call, then `blockUntilReady` on every output, which
// waits for jax-js's GPU queue without reading anything back.
//
// jax-js passes arrays by ownership (a call consumes its arguments): inputs that live across runs are
// handed in as `.ref`, and every output is disposed after the run.
import { blockUntilReady, defaultDevice, init, jit, nn, numpy as np, valueAndGrad } from '@jax-js/jax';
import { measure, type Timing } from '../timing';
import type { BlockConfig, TimingOptions } from '../types';
import { randomF32 } from './env';

type Arr = np.Array;

/** Starts jax-js's WebGPU backend once; false (with the reason logged) when it cannot. */
export async function initJaxJs(log: (m: string) => void): Promise<boolean> {
  const got = await init('webgpu');
  if (!got.includes('webgpu')) {
    log('jax-js: no WebGPU device; its columns stay empty');
    return false;
  }
  defaultDevice('webgpu');
  return true;
}

const arr = (n: number, shape: number[], seed: number, scale = 1): Arr => {
  const v = randomF32(n, seed);
  if (scale !== 1) for (let i = 0; i < n; i++) v[i] *= scale;
  return np.array(v).reshape(shape);
};

function disposeTree(x: unknown): void {
  if (x instanceof np.Array) x.dispose();
  else if (Array.isArray(x)) for (const e of x) disposeTree(e);
  else if (x && typeof x === 'object') for (const e of Object.values(x)) disposeTree(e);
}

/** Times `step` (which returns fresh outputs) to a full wait on the device, disposing outputs each run. */
async function timeJax(step: () => unknown, timing: TimingOptions): Promise<Timing> {
  return measure(async () => {
    const out = step();
    await blockUntilReady(out as Arr);
    disposeTree(out);
  }, timing);
}

/** n×n·n×n; also returns the product of the benchmark's inputs so the caller can compare. */
export async function jaxMatmul(n: number, timing: TimingOptions): Promise<{ t: Timing; c: Float32Array }> {
  const a = arr(n * n, [n, n], 1);
  const b = arr(n * n, [n, n], 2);
  const f = jit((x: Arr, y: Arr) => np.matmul(x, y));
  try {
    const t = await timeJax(() => f(a.ref, b.ref), timing);
    const c = f(a.ref, b.ref);
    const data = (await c.data()) as Float32Array;
    return { t, c: data };
  } finally {
    a.dispose();
    b.dispose();
    f.dispose();
  }
}

/** The LoRA MLP step: see lora.ts for the shapes and the loss. */
export async function jaxLoraMlp(
  s: { N: number; d: number; r: number; alpha: number },
  timing: TimingOptions,
): Promise<Timing> {
  const { N, d, r, alpha } = s;
  const x = arr(N * d, [N, d], 30);
  const target = arr(N * d, [N, d], 31);
  const w1 = arr(d * d, [d, d], 32, 0.05);
  const w2 = arr(d * d, [d, d], 33, 0.05);
  const adapters = [arr(d * r, [d, r], 34, 0.05), arr(r * d, [r, d], 35, 0.05)];
  adapters.push(arr(d * r, [d, r], 36, 0.05), arr(r * d, [r, d], 37, 0.05));
  const loss = (p: Arr[], xx: Arr, tt: Arr, W1: Arr, W2: Arr): Arr => {
    const [a1, b1, a2, b2] = p;
    const h = nn.relu(np.matmul(xx.ref, W1).add(np.matmul(np.matmul(xx, a1), b1).mul(alpha / r)));
    const y = np.matmul(h.ref, W2).add(np.matmul(np.matmul(h, a2), b2).mul(alpha / r));
    return np.mean(np.square(y.sub(tt)));
  };
  const step = jit(valueAndGrad(loss));
  try {
    return await timeJax(
      () =>
        step(
          adapters.map((p) => p.ref),
          x.ref,
          target.ref,
          w1.ref,
          w2.ref,
        ),
      timing,
    );
  } finally {
    step.dispose();
    disposeTree([x, target, w1, w2, adapters]);
  }
}

/** Causal self-attention with four projections, forward and backward: see attention.ts. */
export async function jaxAttention(
  s: { B: number; T: number; d: number; heads: number },
  timing: TimingOptions,
): Promise<Timing> {
  const { B, T, d, heads } = s;
  const hd = d / heads;
  const x = arr(B * T * d, [B, T, d], 40);
  const dy = arr(B * T * d, [B, T, d], 41);
  const ws = [0, 1, 2, 3].map((i) => arr(d * d, [d, d], 42 + i, 0.1));
  const loss = (p: Arr[], xx: Arr, g: Arr): Arr => {
    const [wq, wk, wv, wo] = p;
    const split = (w: Arr, inp: Arr) => np.matmul(inp, w).reshape([B, T, heads, hd]);
    const q = split(wq, xx.ref);
    const k = split(wk, xx.ref);
    const v = split(wv, xx);
    const o = nn.dotProductAttention(q, k, v, { isCausal: true }).reshape([B, T, d]);
    // Σ out·dy: its gradient seeds backward with dy, as tf.grads(…, dy) and our seedGrad do.
    return np.sum(np.matmul(o, wo).mul(g));
  };
  const step = jit(valueAndGrad(loss));
  try {
    return await timeJax(
      () =>
        step(
          ws.map((w) => w.ref),
          x.ref,
          dy.ref,
        ),
      timing,
    );
  } finally {
    step.dispose();
    disposeTree([x, dy, ws]);
  }
}

/** One GPT-2 block forward + backward (gradients of x and every weight), as block.ts does in TF.js. */
export async function jaxBlock(c: BlockConfig, timing: TimingOptions): Promise<Timing> {
  const { B, T, d, heads } = c;
  const hd = d / heads;
  const shapes: number[][] = [[d], [d], [d, 3 * d], [3 * d], [d, d], [d], [d], [d], [d, 4 * d], [4 * d]];
  shapes.push([4 * d, d], [d]);
  const params = shapes.map((shape, i) => {
    const n = shape.reduce((s, v) => s * v, 1);
    const v = randomF32(n, 20 + i);
    // Same values as block.ts: gains near 1 (indices 0 and 6), everything else small.
    if (i === 0 || i === 6) for (let j = 0; j < n; j++) v[j] = 1 + 0.1 * v[j];
    else for (let j = 0; j < n; j++) v[j] *= 0.02;
    return np.array(v).reshape(shape);
  });
  const x = arr(B * T * d, [B, T, d], 10);
  const dy = arr(B * T * d, [B, T, d], 11);
  const layerNorm = (h: Arr, g: Arr, b: Arr): Arr => {
    const mu = np.mean(h.ref, -1, { keepdims: true });
    const xc = h.sub(mu);
    const v = np.mean(np.square(xc.ref), -1, { keepdims: true });
    return xc
      .div(np.sqrt(v.add(1e-5)))
      .mul(g)
      .add(b);
  };
  const gelu = (h: Arr): Arr => {
    const inner = h.ref.add(h.ref.mul(h.ref).mul(h.ref).mul(0.044715)).mul(Math.sqrt(2 / Math.PI));
    return h.mul(0.5).mul(np.tanh(inner).add(1));
  };
  const loss = (xx: Arr, p: Arr[], g: Arr): Arr => {
    const [ln1g, ln1b, attnW, attnB, projW, projB, ln2g, ln2b, fcW, fcB, mW, mB] = p;
    const h = layerNorm(xx.ref, ln1g, ln1b);
    const qkv = np.matmul(h, attnW).add(attnB);
    const [q, k, v] = np.split(qkv, 3, -1).map((t) => t.reshape([B, T, heads, hd]));
    const att = nn.dotProductAttention(q, k, v, { isCausal: true }).reshape([B, T, d]);
    const x1 = xx.add(np.matmul(att, projW).add(projB));
    const h2 = layerNorm(x1.ref, ln2g, ln2b);
    const m = np.matmul(gelu(np.matmul(h2, fcW).add(fcB)), mW).add(mB);
    return np.sum(x1.add(m).mul(g));
  };
  const step = jit(valueAndGrad(loss, { argnums: [0, 1] }));
  try {
    return await timeJax(
      () =>
        step(
          x.ref,
          params.map((p) => p.ref),
          dy.ref,
        ),
      timing,
    );
  } finally {
    step.dispose();
    disposeTree([x, dy, params]);
  }
}
