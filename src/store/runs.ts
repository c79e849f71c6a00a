// The runs slice: one record per run (its spec, state, message, measured counts, last memory, time left,
// and what it measured at the end: eval loss, task metric, inference latency, last checkpoint). Metrics
// points live in the metrics slice so the charts' updates do not touch this one.
import type { StateCreator } from 'zustand';
import type { ByCategory } from '../gpu/arena';
import type { PredictedMemory, RunInfo, RunResults, RunSpec, RunState } from '../worker/protocol';

export interface RunRecord {
  spec: RunSpec;
  method: string;
  methodLabel: string;
  state: RunState;
  message?: string;
  info?: RunInfo;
  /** predictTrainingMemory's figures for this run's method, options and batch shape (null: imported). */
  predicted: PredictedMemory | null;
  /** Bytes of the whole model in f32: the unit of "× model weights". */
  weightBytes: number;
  createdAt: number;
  memory: ByCategory | null;
  etaS: number | null;
  results?: RunResults;
}

export interface RunsSlice {
  runs: RunRecord[];
  addRuns: (r: RunRecord[]) => void;
  patchRun: (id: string, patch: Partial<RunRecord>) => void;
  patchResults: (id: string, results: RunResults) => void;
  setRuns: (r: RunRecord[]) => void;
}

export const createRunsSlice: StateCreator<RunsSlice, [], [], RunsSlice> = (set) => ({
  runs: [],
  addRuns: (r) => set((s) => ({ runs: [...s.runs, ...r] })),
  patchRun: (id, patch) =>
    set((s) => ({ runs: s.runs.map((r) => (r.spec.id === id ? { ...r, ...patch } : r)) })),
  patchResults: (id, results) =>
    set((s) => ({
      runs: s.runs.map((r) => (r.spec.id === id ? { ...r, results: { ...r.results, ...results } } : r)),
    })),
  setRuns: (runs) => set({ runs }),
});
