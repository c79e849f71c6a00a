// The one application store, composed of slices (zustand's slices pattern). Each slice lives in its own
// file and owns its state and actions; add a slice by extending `AppState` and spreading its creator here.
import { create } from 'zustand';
import { createDatasetsSlice, type DatasetsSlice } from './datasets';
import { createGpuSlice, type GpuSlice } from './gpu';
import { createMetricsSlice, type MetricsSlice } from './metrics';
import { createModelSlice, type ModelSlice } from './model';
import { createRlSlice, type RlSlice } from './rl';
import { createRunsSlice, type RunsSlice } from './runs';
import { createUiSlice, type UiSlice } from './ui';

export type AppState = GpuSlice & ModelSlice & DatasetsSlice & RunsSlice & MetricsSlice & UiSlice & RlSlice;

export const useAppStore = create<AppState>()((...a) => ({
  ...createGpuSlice(...a),
  ...createModelSlice(...a),
  ...createDatasetsSlice(...a),
  ...createRunsSlice(...a),
  ...createMetricsSlice(...a),
  ...createUiSlice(...a),
  ...createRlSlice(...a),
}));
