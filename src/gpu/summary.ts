// What the page shows about the GPU adapter: the limits worth showing and a plain, structured-cloneable
// summary copied out of a live context. Here, below the worker and the store, so the worker can send it and
// the store and UI can type it without the worker importing the store.
import type { GpuAdapterSummary, GpuContext, GpuFeatures } from './context';

/** The limits worth showing: the ones that bound model and batch size on this adapter. */
export const SHOWN_LIMITS = [
  'maxBufferSize',
  'maxStorageBufferBindingSize',
  'maxComputeWorkgroupStorageSize',
  'maxComputeInvocationsPerWorkgroup',
  'maxComputeWorkgroupsPerDimension',
  'maxStorageBuffersPerShaderStage',
] as const;
export type ShownLimit = (typeof SHOWN_LIMITS)[number];

/** The largest buffer an engine allocation may take: a storage buffer is bound whole, so both limits apply. */
export function perBufferLimit(l: { maxBufferSize: number; maxStorageBufferBindingSize: number }): number {
  return Math.min(l.maxBufferSize, l.maxStorageBufferBindingSize);
}

export interface GpuInfo {
  adapter: GpuAdapterSummary;
  features: GpuFeatures;
  limits: Record<ShownLimit, number>;
}

/** Everything the UI shows, copied out of a live context. */
export function summarizeGpu(ctx: GpuContext): GpuInfo {
  const limits = {} as Record<ShownLimit, number>;
  for (const name of SHOWN_LIMITS) limits[name] = ctx.limits[name];
  return {
    adapter: { ...ctx.adapter, notes: [...ctx.adapter.notes] },
    features: { ...ctx.features },
    limits,
  };
}
