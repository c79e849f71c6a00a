// Matmul variants in Node (Dawn): GFLOP/s of every variant (MATMUL_VARIANTS) at square sizes, with ratios
// to the naive kernel measured in the same run, then the autotune's choice per shape class (untimed by
// cache: it tunes afresh). Usage: node --import tsx bench/matmul-node.ts [sizes...] (default 256 512).
// Timing is wall clock around ctx.sync(), after a warm-up that compiles the pipeline.

import { autotune } from '../src/gpu/autotune';
import { MATMUL_VARIANTS, type MatmulVariant, matmul, matmulFlops } from '../src/gpu/kernels/matmul';
import { acquireNodeGpu } from '../src/gpu/node';
import { bestSecondsPerCall } from './timing';

const sizes = process.argv
  .slice(2)
  .map(Number)
  .filter((n) => n > 0);
if (sizes.length === 0) sizes.push(256, 512);

const ctx = await acquireNodeGpu({ quiet: true });
console.log(
  `adapter: ${ctx.adapter.description} (${ctx.adapter.runtime}${ctx.adapter.software ? ', software' : ''})`,
);

for (const n of sizes) {
  const data = Float32Array.from({ length: n * n }, (_, i) => Math.sin(i));
  const a = ctx.upload(data, 'workspace', 'bench-a');
  const b = ctx.upload(data, 'workspace', 'bench-b');
  const out = ctx.arena.alloc(n * n * 4, 'workspace', 'bench-out');
  const flops = matmulFlops(n, n, n);
  const rates = new Map<MatmulVariant, number>();
  for (const variant of MATMUL_VARIANTS) {
    const run = () => matmul(ctx, { out, a, b, M: n, N: n, K: n, variant });
    const best = await bestSecondsPerCall(run, () => ctx.sync());
    rates.set(variant, flops / best / 1e9);
  }
  const naive = rates.get('naive') ?? 1;
  const line = MATMUL_VARIANTS.map(
    (v) => `${v} ${(rates.get(v) ?? 0).toFixed(3)} GFLOP/s (×${((rates.get(v) ?? 0) / naive).toFixed(2)})`,
  ).join('  ');
  console.log(`${n}³: ${line}`);
  for (const buf of [a, b, out]) ctx.arena.free(buf);
}
const t0 = performance.now();
const choice = await autotune(ctx);
console.log(
  `autotune per class (${((performance.now() - t0) / 1000).toFixed(1)} s): ${JSON.stringify(choice)}`,
);
ctx.destroy();
