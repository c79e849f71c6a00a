// The datasets slice: summaries of what the worker parsed (preview, shape, mapping, skipped rows,
// token-length histogram), which one is selected, and the last error per file.
import type { StateCreator } from 'zustand';
import type { DatasetSummary } from '../worker/protocol';

export interface DatasetsSlice {
  datasets: DatasetSummary[];
  selectedDatasetId: string | null;
  /** Files being parsed, by id → name. */
  pendingDatasets: Record<string, string>;
  datasetError: string | null;
  datasetPending: (id: string, name: string) => void;
  datasetReady: (d: DatasetSummary) => void;
  datasetFailed: (id: string, name: string, message: string) => void;
  selectDataset: (id: string) => void;
}

export const createDatasetsSlice: StateCreator<DatasetsSlice, [], [], DatasetsSlice> = (set) => ({
  datasets: [],
  selectedDatasetId: null,
  pendingDatasets: {},
  datasetError: null,
  datasetPending: (id, name) => set((s) => ({ pendingDatasets: { ...s.pendingDatasets, [id]: name } })),
  datasetReady: (d) =>
    set((s) => {
      const { [d.id]: _, ...pending } = s.pendingDatasets;
      return {
        datasets: [...s.datasets.filter((x) => x.id !== d.id), d],
        selectedDatasetId: d.id,
        pendingDatasets: pending,
        datasetError: null,
      };
    }),
  datasetFailed: (id, name, message) =>
    set((s) => {
      const { [id]: _, ...pending } = s.pendingDatasets;
      return { pendingDatasets: pending, datasetError: `${name}: ${message}` };
    }),
  selectDataset: (id) => set({ selectedDatasetId: id }),
});
