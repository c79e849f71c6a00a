// The model slice: which model the worker has loaded (a plain summary and its parsed config, for the
// counts and memory predictions the page shows before a run starts), or why it could not.
import type { StateCreator } from 'zustand';
import { type ModelConfig, parseModelConfig } from '../formats/model-config';
import type { ModelSummary } from '../worker/protocol';

export type ModelStatus =
  | { state: 'none' }
  | { state: 'loading'; name: string }
  /** notice: why a later model could not be loaded (this one was kept). */
  | { state: 'ready'; summary: ModelSummary; config: ModelConfig; notice?: string }
  | { state: 'error'; message: string };

export interface ModelSlice {
  model: ModelStatus;
  setModel: (m: ModelStatus) => void;
  modelReady: (summary: ModelSummary) => void;
  /** A load failed: the model loaded before, if any, stays in use and the message shows beside it. */
  modelFailed: (message: string) => void;
  /** The last model that loaded, kept while another loads (the worker keeps it too if that one fails). */
  loadedModel: { summary: ModelSummary; config: ModelConfig } | null;
}

export const createModelSlice: StateCreator<ModelSlice, [], [], ModelSlice> = (set, get) => ({
  model: { state: 'none' },
  loadedModel: null,
  setModel: (model) => set({ model }),
  modelReady: (summary) => {
    try {
      const config = parseModelConfig(summary.configJson, `${summary.name}/config.json`);
      set({ model: { state: 'ready', summary, config }, loadedModel: { summary, config } });
    } catch (e) {
      get().modelFailed(e instanceof Error ? e.message : String(e));
    }
  },
  modelFailed: (message) => {
    const kept = get().loadedModel;
    set({ model: kept ? { state: 'ready', ...kept, notice: message } : { state: 'error', message } });
  },
});
