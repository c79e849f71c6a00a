// `npm run cli -- info`: what the engine found in Node: the adapter, its features and limits, and the
// kernel variants each matmul shape class runs (the autotuner's choice, else the untuned default), as one
// JSON line.
import { MATMUL_CLASSES, matmulVariantKey, untunedVariant } from '../gpu/kernels/matmul';
import { acquireNodeGpu } from '../gpu/node';

export const INFO_USAGE =
  '  info                                   adapter, limits, features, chosen kernel variants';

export async function infoCommand(): Promise<void> {
  const ctx = await acquireNodeGpu({ tune: true });
  const l = ctx.limits;
  const line = {
    adapter: ctx.adapter,
    features: ctx.features,
    limits: {
      maxBufferSize: l.maxBufferSize,
      maxStorageBufferBindingSize: l.maxStorageBufferBindingSize,
      maxComputeWorkgroupStorageSize: l.maxComputeWorkgroupStorageSize,
      maxComputeInvocationsPerWorkgroup: l.maxComputeInvocationsPerWorkgroup,
      maxComputeWorkgroupsPerDimension: l.maxComputeWorkgroupsPerDimension,
    },
    variants: {
      ...Object.fromEntries(
        MATMUL_CLASSES.map((c) => [matmulVariantKey(c), untunedVariant(ctx, c)] as const),
      ),
      ...Object.fromEntries(ctx.variants),
    },
  };
  process.stdout.write(`${JSON.stringify(line)}\n`);
  ctx.destroy();
}
