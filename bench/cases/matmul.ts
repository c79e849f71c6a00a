// The matmul case: square n×n·n×n in each of our variants, our autotuned choice for the 'square' shape
// class (what the engine ships with), TF.js's WebGPU matMul and jax-js's jit matmul, on the same inputs. Also checks that every side
// computed the same product, so a fast wrong kernel cannot win.
import {
  isMatmulVariant,
  type MatmulVariant,
  matmul,
  matmulClass,
  matmulFlops,
  matmulVariantKey,
  untunedVariant,
} from '../../src/gpu/kernels/matmul';
import { gflops, measure } from '../timing';
import type { CaseResult } from '../types';
import { type BenchEnv, randomF32 } from './env';
import { jaxMatmul } from './jaxjs';

export async function matmulCase(env: BenchEnv, n: number, variants: string[]): Promise<CaseResult> {
  const { ctx, tf, timing } = env;
  const flops = matmulFlops(n, n, n);
  const a = randomF32(n * n, 1);
  const b = randomF32(n * n, 2);
  const extra: Record<string, number> = {};
  const notes: string[] = [];

  const ga = ctx.upload(a, 'workspace', 'bench-a');
  const gb = ctx.upload(b, 'workspace', 'bench-b');
  const out = ctx.arena.alloc(n * n * 4, 'workspace', 'bench-out');
  const ta = tf.tensor2d(a, [n, n]);
  const tb = tf.tensor2d(b, [n, n]);
  try {
    const oursWith = async (variant: MatmulVariant | undefined) => {
      const t = await measure(async () => {
        matmul(ctx, { out, a: ga, b: gb, M: n, N: n, K: n, variant });
        await ctx.sync();
      }, timing);
      return gflops(flops, t.medianMs);
    };
    for (const v of variants) {
      if (!isMatmulVariant(v)) throw new Error(`unknown matmul variant "${v}"`);
      extra[v] = await oursWith(v);
      env.log(`  matmul ${n} ours ${v}: ${extra[v].toFixed(2)} GFLOP/s`);
    }
    // Ours as shipped: no variant argument, so matmul takes ctx.variants (the autotune's choice for the
    // call's shape class: 'square' here), else the untuned default.
    const cls = matmulClass(n, n, n);
    const chosen =
      ctx.variants.get(matmulVariantKey(cls)) ?? ctx.variants.get('matmul') ?? untunedVariant(ctx, cls);
    const auto = chosen in extra ? extra[chosen] : await oursWith(undefined);
    env.log(`  matmul ${n} ours auto (${chosen}): ${auto.toFixed(2)} GFLOP/s`);

    const t = await measure(async () => {
      const c = tf.matMul(ta, tb);
      await env.tfSync();
      c.dispose();
    }, timing);
    const tfjs = gflops(flops, t.medianMs);
    env.log(`  matmul ${n} TF.js: ${tfjs.toFixed(2)} GFLOP/s`);

    let jaxjs: number | null = null;
    let jaxC: Float32Array | null = null;
    if (env.jax) {
      const j = await jaxMatmul(n, timing);
      jaxjs = gflops(flops, j.t.medianMs);
      jaxC = j.c;
      env.log(`  matmul ${n} jax-js: ${jaxjs.toFixed(2)} GFLOP/s`);
    }

    // One readback per side, outside the timed runs.
    matmul(ctx, { out, a: ga, b: gb, M: n, N: n, K: n });
    const ours = await ctx.readF32(out, n * n);
    const c = tf.matMul(ta, tb);
    const theirs = (await c.data()) as Float32Array;
    c.dispose();
    const rel = relDiff(n, 'ours', ours, theirs);
    const relJax = jaxC ? relDiff(n, 'jax-js', jaxC, theirs) : null;
    notes.push(
      `matmul_${n}: auto (${cls}) = ${chosen}; max |diff|/max |TF.js|: ours ${rel.toExponential(1)}` +
        (relJax === null ? '' : `, jax-js ${relJax.toExponential(1)}`),
    );
    return { name: `matmul_${n}`, ours_gflops: auto, tfjs_gflops: tfjs, jaxjs_gflops: jaxjs, extra, notes };
  } finally {
    ctx.arena.free(ga);
    ctx.arena.free(gb);
    ctx.arena.free(out);
    ctx.arena.trim();
    ta.dispose();
    tb.dispose();
  }
}

/** Max |diff| / max |TF.js| between one side's product and TF.js's; throws when they disagree. */
function relDiff(n: number, who: string, got: Float32Array, theirs: Float32Array): number {
  let maxDiff = 0;
  let maxRef = 0;
  for (let i = 0; i < got.length; i++) {
    maxDiff = Math.max(maxDiff, Math.abs(got[i] - theirs[i]));
    maxRef = Math.max(maxRef, Math.abs(theirs[i]));
  }
  const rel = maxDiff / maxRef;
  // maxRef > 0 too: uniform inputs never give an all-zero product, so zeros mean nothing ran.
  if (!(maxRef > 0 && rel < 1e-3) || got.length !== theirs.length)
    throw new Error(
      `matmul ${n}: ${who} and TF.js differ (max |diff| = ${maxDiff}, max |TF.js| = ${maxRef})`,
    );
  return rel;
}
