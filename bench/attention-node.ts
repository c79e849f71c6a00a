// Attention kernels in Node (Dawn): the forward and the backward of each variant at the benchmark page's
// attention shape (B8 T128 d64, one head; other shapes as arguments), timed alone in one process, with
// ratios to 'rows' measured in the same run. Usage:
//   node --import tsx bench/attention-node.ts [B T D H]
// FLASH_SHAPES=4x4x16,4x8x16 (R×C×workgroup) also times the flash variant at those block shapes.
// Timing is wall clock around ctx.sync() after a warm-up (bench/timing.ts); on a shared machine only the
// ratios mean anything.

import { ATTENTION_VARIANTS, attention, attentionBackward } from '../src/gpu/kernels/attention';
import { FLASH_SHAPE } from '../src/gpu/kernels/attention-flash.wgsl';
import { acquireNodeGpu } from '../src/gpu/node';
import { bestSecondsPerCall } from './timing';

const [B, T, D, H] = (() => {
  const a = process.argv.slice(2).map(Number);
  return a.length === 4 ? a : [8, 128, 64, 1];
})();

const ctx = await acquireNodeGpu({ quiet: true });
console.log(
  `adapter: ${ctx.adapter.description} (${ctx.adapter.runtime}${ctx.adapter.software ? ', software' : ''})`,
);
console.log(`shape: B${B} T${T} D${D} H${H}`);
const rows = B * T * H * D;
const data = (seed: number) => Float32Array.from({ length: rows }, (_, i) => Math.sin(i * 0.37 + seed));
const [q, k, v, dOut] = [1, 2, 3, 4].map((s) => ctx.upload(data(s), 'workspace', `bench-${s}`));
const out = ctx.arena.alloc(rows * 4, 'workspace', 'bench-out');
const lse = ctx.arena.alloc(B * H * T * 4, 'workspace', 'bench-lse');
const [dq, dk, dv] = [0, 1, 2].map((i) => ctx.arena.alloc(rows * 4, 'workspace', `bench-g${i}`));
const dims = { B, T, S: T, Hq: H, Hkv: H, D };

const timings = new Map<string, { fwd: number; bwd: number }>();
for (const variant of (process.env.VARIANTS ?? ATTENTION_VARIANTS.join(',')).split(',').filter(Boolean)) {
  ctx.variants.set('attention', variant);
  const fwd = () => attention(ctx, { ...dims, out, lse, q, k, v });
  const bwd = () => attentionBackward(ctx, { ...dims, dq, dk, dv, dOut, q, k, v, out, lse });
  fwd();
  const f = await bestSecondsPerCall(fwd, () => ctx.sync());
  const b = await bestSecondsPerCall(bwd, () => ctx.sync());
  timings.set(variant, { fwd: f, bwd: b });
}
for (const shape of (process.env.FLASH_SHAPES ?? '').split(',').filter(Boolean)) {
  const [R, C, wg] = shape.split('x').map(Number);
  Object.assign(FLASH_SHAPE, { R, C, wg });
  ctx.variants.set('attention', 'flash');
  const fwd = () => attention(ctx, { ...dims, out, lse, q, k, v });
  const bwd = () => attentionBackward(ctx, { ...dims, dq, dk, dv, dOut, q, k, v, out, lse });
  const f = await bestSecondsPerCall(fwd, () => ctx.sync());
  const b = await bestSecondsPerCall(bwd, () => ctx.sync());
  timings.set(`flash ${shape}`, { fwd: f, bwd: b });
  // The backward's two passes alone (each with the Δ kernel): where its time goes.
  const onlyDq = () => attentionBackward(ctx, { ...dims, dq, dk: null, dv: null, dOut, q, k, v, out, lse });
  const onlyDkv = () => attentionBackward(ctx, { ...dims, dq: null, dk, dv, dOut, q, k, v, out, lse });
  const a = await bestSecondsPerCall(onlyDq, () => ctx.sync());
  const c = await bestSecondsPerCall(onlyDkv, () => ctx.sync());
  console.log(
    `flash ${shape}: bwd dQ pass ${(a * 1e3).toFixed(2)} ms, dK/dV pass ${(c * 1e3).toFixed(2)} ms`,
  );
}
const base = timings.get('rows') ?? { fwd: 1, bwd: 1 };
for (const [variant, t] of timings) {
  console.log(
    `${variant.padEnd(8)} fwd ${(t.fwd * 1e3).toFixed(2)} ms (×${(base.fwd / t.fwd).toFixed(2)})  bwd ${(t.bwd * 1e3).toFixed(2)} ms (×${(base.bwd / t.bwd).toFixed(2)})  total ×${((base.fwd + base.bwd) / (t.fwd + t.bwd)).toFixed(2)}`,
  );
}
ctx.destroy();
