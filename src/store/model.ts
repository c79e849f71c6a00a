// The model slice: which model the worker has loaded (a plain summary and its parsed config, for the
// counts and memory predictions the page shows before a run starts), or why it could not; and a Hub
// download in progress (the repo's config.json first, shown as a plan before any weight is fetched, then
// each file's bytes).
import type { StateCreator } from 'zustand';
import { type ModelConfig, parseModelConfig } from '../formats/model-config';
import type { ModelSummary } from '../worker/protocol';

export type ModelStatus =
  | { state: 'none' }
  | { state: 'loading'; name: string }
  /** notice: why a later model could not be loaded (this one was kept). */
  | { state: 'ready'; summary: ModelSummary; config: ModelConfig; notice?: string }
  | { state: 'error'; message: string };

/** One file of a Hub download: bytes so far, its size once known, served from the cache. */
export interface HubFileProgress {
  loadedBytes: number;
  totalBytes: number | null;
  cached: boolean;
  done: boolean;
}

export type HubStatus =
  | { state: 'idle' }
  /** Resolving the revision to a commit and fetching config.json. */
  | { state: 'checking'; name: string }
  /** config.json is here: the plan shows; nothing else fetched until the user asks. */
  | { state: 'planned'; name: string; commit: string; offline: boolean; configJson: string }
  | {
      state: 'downloading';
      name: string;
      commit: string;
      offline: boolean;
      configJson: string;
      files: Record<string, HubFileProgress>;
    };

export interface ModelSlice {
  model: ModelStatus;
  setModel: (m: ModelStatus) => void;
  modelReady: (summary: ModelSummary) => void;
  /** A load failed: the model loaded before, if any, stays in use and the message shows beside it. */
  modelFailed: (message: string) => void;
  /** The last model that loaded, kept while another loads (the worker keeps it too if that one fails). */
  loadedModel: { summary: ModelSummary; config: ModelConfig } | null;
  /** Drops the message of an earlier failed load (a new attempt starts). */
  clearModelNotice: () => void;
  hub: HubStatus;
  setHub: (h: HubStatus) => void;
  /** One file's progress, while downloading (a late report after the state moved on is dropped). */
  hubProgress: (file: string, p: HubFileProgress) => void;
}

export const createModelSlice: StateCreator<ModelSlice, [], [], ModelSlice> = (set, get) => ({
  model: { state: 'none' },
  loadedModel: null,
  clearModelNotice: () => {
    const m = get().model;
    if (m.state === 'ready' && m.notice)
      set({ model: { state: 'ready', summary: m.summary, config: m.config } });
  },
  hub: { state: 'idle' },
  setHub: (hub) => set({ hub }),
  hubProgress: (file, p) => {
    const h = get().hub;
    if (h.state === 'downloading') set({ hub: { ...h, files: { ...h.files, [file]: p } } });
  },
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
