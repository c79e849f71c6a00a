// The GPU slice of the store: what the UI knows about the adapter (a plain, serialisable summary) and the
// action that acquires it. The GpuContext itself stays out of the store (React must never diff or freeze
// a device); later the training worker owns the device and this slice is fed from its messages instead.
import type { StateCreator } from 'zustand';
import type { GpuAdapterSummary, GpuContext, GpuFeatures } from '../gpu/context';

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

export interface GpuInfo {
  adapter: GpuAdapterSummary;
  features: GpuFeatures;
  limits: Record<ShownLimit, number>;
}

export type GpuStatus =
  | { state: 'idle' }
  | { state: 'acquiring' }
  | { state: 'ready'; info: GpuInfo }
  | { state: 'error'; name: string; message: string };

export interface GpuSlice {
  gpu: GpuStatus;
  /** Acquires the device once; later calls return the same promise. */
  acquireGpu: () => Promise<void>;
  /** Sets the status from the training worker's report (the worker owns the page's devices). */
  setGpu: (g: GpuStatus) => void;
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

let context: GpuContext | null = null;
let pending: Promise<void> | null = null;

/** The page's device, once acquired (null before, or when there is none). Not for React components. */
export function currentGpuContext(): GpuContext | null {
  return context;
}

export const createGpuSlice: StateCreator<GpuSlice, [], [], GpuSlice> = (set) => ({
  gpu: { state: 'idle' },
  setGpu: (gpu) => set({ gpu }),
  acquireGpu: () => {
    if (!pending) {
      set({ gpu: { state: 'acquiring' } });
      pending = (async () => {
        try {
          // Imported lazily so the first paint does not wait for the GPU layer.
          const { acquireBrowserGpu } = await import('../gpu/device');
          context = await acquireBrowserGpu({ tune: true });
          set({ gpu: { state: 'ready', info: summarizeGpu(context) } });
        } catch (e) {
          const err = e instanceof Error ? e : new Error(String(e));
          set({ gpu: { state: 'error', name: err.name, message: err.message } });
        }
      })();
    }
    return pending;
  },
});
