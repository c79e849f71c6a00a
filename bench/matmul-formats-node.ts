// Matmul with B stored in each frozen-weight format (f16, bf16, int8, nf4) against plain f32 B, in Node
// (Dawn): the linear's forward shape, x [M, K] · Wᵀ with W [N, K] ('out_in', transB). Prints GFLOP/s and
// each format's speed as a ratio to f32 measured in the same run, per matmul variant. Usage:
//   node --import tsx bench/matmul-formats-node.ts [M N K]   (default 512 1024 1024)
// Timing is wall clock around ctx.sync(), best of three batches after a warm-up that compiles the pipeline.

import { freeWeightGpu, uploadWeightGpu } from '../src/gpu/kernels/dequant';
import { MATMUL_VARIANTS, matmul, matmulFlops } from '../src/gpu/kernels/matmul';
import { acquireNodeGpu } from '../src/gpu/node';
import { BASE_DTYPES } from '../src/util/quant';
import { bestSecondsPerCall } from './timing';

const args = process.argv
  .slice(2)
  .map(Number)
  .filter((n) => n > 0);
const [M, N, K] = args.length === 3 ? args : [512, 1024, 1024];

const ctx = await acquireNodeGpu({ quiet: true });
console.log(
  `adapter: ${ctx.adapter.description} (${ctx.adapter.runtime}${ctx.adapter.software ? ', software' : ''})`,
);
const flops = matmulFlops(M, N, K);
const x = ctx.upload(
  Float32Array.from({ length: M * K }, (_, i) => Math.sin(i)),
  'workspace',
  'bench-x',
);
const wData = Float32Array.from({ length: N * K }, (_, i) => Math.cos(i) * 0.05);
const out = ctx.arena.alloc(M * N * 4, 'workspace', 'bench-out');

for (const variant of MATMUL_VARIANTS) {
  const rates = new Map<string, number>();
  for (const dtype of BASE_DTYPES) {
    const w = uploadWeightGpu(ctx, wData, [N, K], dtype, 'out_in', 'frozen', `w.${dtype}`);
    const run = () =>
      matmul(ctx, { out, a: x, b: w.store, bFormat: w.format, M, N, K, transB: true, variant });
    const best = await bestSecondsPerCall(run, () => ctx.sync());
    rates.set(dtype, flops / best / 1e9);
    freeWeightGpu(ctx, w.store, w.format);
  }
  const f32 = rates.get('f32') ?? 1;
  const line = BASE_DTYPES.map(
    (d) => `${d} ${(rates.get(d) ?? 0).toFixed(3)} GFLOP/s (×${((rates.get(d) ?? 0) / f32).toFixed(2)})`,
  ).join('  ');
  console.log(`${variant} ${M}×${N}×${K}: ${line}`);
}
ctx.destroy();
