// The one application store, composed of slices (zustand's slices pattern). Each slice lives in its own
// file and owns its state and actions; add a slice by extending `AppState` and spreading its creator here.
import { create } from 'zustand';
import { createGpuSlice, type GpuSlice } from './gpu';

export type AppState = GpuSlice;

export const useAppStore = create<AppState>()((...a) => ({
  ...createGpuSlice(...a),
}));
