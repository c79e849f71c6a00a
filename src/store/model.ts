// The model slice: which model the worker has loaded (a plain summary and its parsed config, for the
// counts and memory predictions the page shows before a run starts), or why it could not.
import type { StateCreator } from 'zustand';
import { type ModelConfig, parseModelConfig } from '../formats/model-config';
import type { ModelSummary } from '../worker/protocol';

export type ModelStatus =
  | { state: 'none' }
  | { state: 'loading'; name: string }
  | { state: 'ready'; summary: ModelSummary; config: ModelConfig }
  | { state: 'error'; message: string };

export interface ModelSlice {
  model: ModelStatus;
  setModel: (m: ModelStatus) => void;
  modelReady: (summary: ModelSummary) => void;
}

export const createModelSlice: StateCreator<ModelSlice, [], [], ModelSlice> = (set) => ({
  model: { state: 'none' },
  setModel: (model) => set({ model }),
  modelReady: (summary) => {
    try {
      set({
        model: {
          state: 'ready',
          summary,
          config: parseModelConfig(summary.configJson, `${summary.name}/config.json`),
        },
      });
    } catch (e) {
      set({ model: { state: 'error', message: e instanceof Error ? e.message : String(e) } });
    }
  },
});
