// The GPU slice of the store: what the UI knows about the adapter (a plain, serialisable summary). The
// training worker owns every device; this slice is fed from its messages (setGpu), and the GpuContext
// itself never enters the store (React must never diff or freeze a device).
import type { StateCreator } from 'zustand';
import type { GpuInfo } from '../gpu/summary';

export type GpuStatus =
  | { state: 'idle' }
  | { state: 'ready'; info: GpuInfo }
  | { state: 'error'; name: string; message: string };

export interface GpuSlice {
  gpu: GpuStatus;
  /** Sets the status from the training worker's report (the worker owns the page's devices). */
  setGpu: (g: GpuStatus) => void;
}

export const createGpuSlice: StateCreator<GpuSlice, [], [], GpuSlice> = (set) => ({
  gpu: { state: 'idle' },
  setGpu: (gpu) => set({ gpu }),
});
