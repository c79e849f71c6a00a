// Attention kernels in Node (Dawn): the benchmark page's attention shape (B8 T128 d64, one head; other shapes
// as arguments), each variant's passes timed alone — forward, the dQ pass (with Δ: its own kernel, or inside
// dQ for 'quad'), the dK/dV pass (with the Δ kernel), forward+backward — and the page's whole step (q/k/v
// projections, attention, output projection, backward to the 4 weights) per variant. Variants are timed
// alternately in rounds in one process and the medians given with ratios to the first variant, since on a
// shared machine only ratios mean anything. Usage:
//   node --import tsx bench/attention-node.ts [B T D H]
// VARIANTS=flash,quad picks variants (default: all but 'tiled'); ROUNDS=5; STEP=0 skips the whole step;
// CPU=1 times process CPU instead of wall clock (steadier on a loaded machine); QUAD_STORED=1 adds 'quad'
// with its stored-P/dS backward (off by default: see QUAD_STORED in attention.ts).
// FLASH_SHAPES=4x4x16 / QUAD_SHAPES=4x4x16u0 (R×C×workgroup, quad: unroll) add those block shapes as variants.
// Timing is wall clock around ctx.sync() after a warm-up (bench/timing.ts).

import type { GpuRegion } from '../src/gpu/arena';
import {
  ATTENTION_VARIANTS,
  attention,
  attentionBackward,
  QUAD_STORED,
  STORED_LIMIT,
} from '../src/gpu/kernels/attention';
import { FLASH_SHAPE } from '../src/gpu/kernels/attention-flash.wgsl';
import { QUAD_SHAPE } from '../src/gpu/kernels/attention-quad.wgsl';
import { acquireNodeGpu } from '../src/gpu/node';
import { gpuBackend } from '../src/tensor/gpu-backend';
import * as op from '../src/tensor/ops';
import { Tape, Tensor } from '../src/tensor/tape';
import { bestSecondsPerCall } from './timing';

const [B, T, D, H] = (() => {
  const a = process.argv.slice(2).map(Number);
  return a.length === 4 ? a : [8, 128, 64, 1];
})();
const ROUNDS = Number(process.env.ROUNDS ?? 5);

const ctx = await acquireNodeGpu({ quiet: true });
console.log(
  `adapter: ${ctx.adapter.description} (${ctx.adapter.runtime}${ctx.adapter.software ? ', software' : ''}, subgroups ${ctx.features.subgroups})`,
);
console.log(`shape: B${B} T${T} D${D} H${H}, ${ROUNDS} rounds`);
const n = B * T * H * D;
const data = (len: number, seed: number, s = 1) =>
  Float32Array.from({ length: len }, (_, i) => s * Math.sin(i * 0.37 + seed));
const [q, k, v, dOut] = [1, 2, 3, 4].map((s) => ctx.upload(data(n, s), 'workspace', `bench-${s}`));
const out = ctx.arena.alloc(n * 4, 'workspace', 'bench-out');
const lse = ctx.arena.alloc(B * H * T * 4, 'workspace', 'bench-lse');
const [dq, dk, dv] = [0, 1, 2].map((i) => ctx.arena.alloc(n * 4, 'workspace', `bench-g${i}`));
const dims = { B, T, S: T, Hq: H, Hkv: H, D };

// The page's step (bench/cases/training.ts oursAttention), model width H·D.
const be = gpuBackend(ctx);
const d = H * D;
const leaf = (name: string, shape: number[], x: Float32Array, grad: boolean) =>
  new Tensor<GpuRegion>(shape, be.upload(x, 'workspace', `bench.${name}`), grad, name);
const x = leaf('x', [B * T, d], data(B * T * d, 40), false);
const dy = leaf('dy', [B * T, d], data(B * T * d, 41), false);
const ws = [0, 1, 2, 3].map((i) => leaf(`w${i}`, [d, d], data(d * d, 42 + i, 0.1), true));
const step = () => {
  for (const w of ws) {
    w.grad = null;
    w.gradInit = false;
  }
  const tp = new Tape(gpuBackend(ctx), true);
  const qq = op.linear(tp, x, ws[0], null, 'in_out', 'q');
  const kk = op.linear(tp, x, ws[1], null, 'in_out', 'k');
  const vv = op.linear(tp, x, ws[2], null, 'in_out', 'v');
  const att = op.attention(tp, qq, kk, vv, { B, T, S: T, Hq: H, Hkv: H, D }, null, 'att');
  const o = op.linear(tp, att, ws[3], null, 'in_out', 'o');
  tp.seedGrad(o, dy.store);
  tp.backward();
  tp.dispose();
};

type Variant = { name: string; variant: string; shape?: () => void };
const variants: Variant[] = (
  process.env.VARIANTS ?? ATTENTION_VARIANTS.filter((x) => x !== 'tiled').join(',')
)
  .split(',')
  .filter(Boolean)
  .map((variant) => ({ name: variant, variant }));
/** R×C×wg, for quad optionally uN (unroll lane loops while D ≤ 4·N; u0 never). */
const shapes = (env: string | undefined, variant: string, target: object) => {
  for (const s of (env ?? '').split(',').filter(Boolean)) {
    const [R, C, wg, unroll] = s.split(/[xu]/).map(Number);
    const set = { R, C, wg, ...(Number.isFinite(unroll) ? { unroll } : {}) };
    variants.push({ name: `${variant} ${s}`, variant, shape: () => Object.assign(target, set) });
  }
};
const flash0 = { ...FLASH_SHAPE };
const quad0 = { ...QUAD_SHAPE };
shapes(process.env.FLASH_SHAPES, 'flash', FLASH_SHAPE);
shapes(process.env.QUAD_SHAPES, 'quad', QUAD_SHAPE);
const stored0 = QUAD_STORED.maxBytes;
if (process.env.QUAD_STORED === '1')
  variants.push({
    name: 'quad stored',
    variant: 'quad',
    shape: () => Object.assign(QUAD_STORED, { maxBytes: STORED_LIMIT }),
  });

const passes: Record<string, () => void> = {
  fwd: () => attention(ctx, { ...dims, out, lse, q, k, v }),
  dQ: () => attentionBackward(ctx, { ...dims, dq, dk: null, dv: null, dOut, q, k, v, out, lse }),
  dKV: () => attentionBackward(ctx, { ...dims, dq: null, dk, dv, dOut, q, k, v, out, lse }),
  bwd: () => attentionBackward(ctx, { ...dims, dq, dk, dv, dOut, q, k, v, out, lse }),
  'fwd+bwd': () => {
    attention(ctx, { ...dims, out, lse, q, k, v });
    attentionBackward(ctx, { ...dims, dq, dk, dv, dOut, q, k, v, out, lse });
  },
  ...(process.env.STEP === '0' ? {} : { step }),
};

/**
 * CPU=1: process CPU seconds (all threads: SwiftShader's workers and the recording) per call instead of wall
 * clock, steadier when other processes share the cores. Best of 3 batches of 5 after a warm call.
 */
const CPU = process.env.CPU === '1';
async function cpuSecondsPerCall(run: () => void): Promise<number> {
  run();
  await ctx.sync();
  let best = Number.POSITIVE_INFINITY;
  for (let trial = 0; trial < 3; trial++) {
    const c0 = process.cpuUsage();
    for (let r = 0; r < 5; r++) run();
    await ctx.sync();
    const c = process.cpuUsage(c0);
    best = Math.min(best, (c.user + c.system) / 1e6 / 5);
  }
  return best;
}

const times = new Map<string, Map<string, number[]>>();
for (let round = 0; round < ROUNDS; round++) {
  for (const vr of variants) {
    Object.assign(FLASH_SHAPE, flash0);
    Object.assign(QUAD_SHAPE, quad0);
    QUAD_STORED.maxBytes = stored0;
    vr.shape?.();
    ctx.variants.set('attention', vr.variant);
    const per = times.get(vr.name) ?? new Map<string, number[]>();
    times.set(vr.name, per);
    for (const [pass, run] of Object.entries(passes)) {
      const s = CPU ? await cpuSecondsPerCall(run) : await bestSecondsPerCall(run, () => ctx.sync());
      per.set(pass, [...(per.get(pass) ?? []), s * 1e3]);
    }
  }
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[(xs.length - 1) >> 1];
const base = times.get(variants[0].name);
console.log(`medians in ${CPU ? 'CPU ' : ''}ms (×speed-up over ${variants[0].name})`);
for (const [name, per] of times) {
  const cells = [...per].map(([pass, xs]) => {
    const m = median(xs);
    const b = base ? median(base.get(pass) ?? xs) : m;
    return `${pass} ${m.toFixed(2)} (×${(b / m).toFixed(2)})`;
  });
  console.log(`${name.padEnd(14)} ${cells.join('  ')}`);
}
ctx.destroy();
