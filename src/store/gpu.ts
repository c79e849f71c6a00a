// The GPU slice of the store: what the UI knows about the adapter (a plain, serialisable summary). The
// training worker owns every device; this slice is fed from its messages (setGpu), and the GpuContext
// itself never enters the store (React must never diff or freeze a device). Also the frozen bases the
// worker's runs share, with their bytes.
import type { StateCreator } from 'zustand';
import type { GpuInfo } from '../gpu/summary';
import type { BaseMemory } from '../worker/protocol';

export type GpuStatus =
  | { state: 'idle' }
  | { state: 'ready'; info: GpuInfo }
  | { state: 'error'; name: string; message: string };

export interface GpuSlice {
  gpu: GpuStatus;
  /** Sets the status from the training worker's report (the worker owns the page's devices). */
  setGpu: (g: GpuStatus) => void;
  /**
   * The frozen bases on the worker's device, shared by every run of that model and dtype (the worker's
   * `baseMemory` message): the memory chart draws each once, and runs' own figures leave it out.
   */
  bases: BaseMemory[];
  setBases: (b: BaseMemory[]) => void;
}

export const createGpuSlice: StateCreator<GpuSlice, [], [], GpuSlice> = (set) => ({
  gpu: { state: 'idle' },
  setGpu: (gpu) => set({ gpu }),
  bases: [],
  setBases: (bases) => set({ bases }),
});
