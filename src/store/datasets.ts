// The datasets slice: summaries of what the worker parsed (preview, shape, mapping, skipped rows,
// token-length histogram), which one is selected, and the last error per file.
import type { StateCreator } from 'zustand';
import type { DatasetSummary } from '../worker/protocol';

/** A file that parsed but whose columns matched no shape: the page offers a mapping by hand. */
export interface UnmappedDataset {
  id: string;
  name: string;
  columns: string[];
}

export interface DatasetsSlice {
  datasets: DatasetSummary[];
  selectedDatasetId: string | null;
  /** Files being parsed, by id → name. */
  pendingDatasets: Record<string, string>;
  datasetError: string | null;
  unmappedDataset: UnmappedDataset | null;
  /** What parsing does with a bad row: skip it (counted, first problems listed) or stop at it. */
  badRows: 'skip' | 'stop';
  setBadRows: (p: 'skip' | 'stop') => void;
  datasetPending: (id: string, name: string) => void;
  datasetReady: (d: DatasetSummary) => void;
  datasetFailed: (id: string, name: string, message: string, columns?: string[]) => void;
  selectDataset: (id: string) => void;
}

export const createDatasetsSlice: StateCreator<DatasetsSlice, [], [], DatasetsSlice> = (set) => ({
  datasets: [],
  selectedDatasetId: null,
  pendingDatasets: {},
  datasetError: null,
  unmappedDataset: null,
  badRows: 'skip',
  setBadRows: (badRows) => set({ badRows }),
  datasetPending: (id, name) => set((s) => ({ pendingDatasets: { ...s.pendingDatasets, [id]: name } })),
  datasetReady: (d) =>
    set((s) => {
      const { [d.id]: _, ...pending } = s.pendingDatasets;
      return {
        datasets: [...s.datasets.filter((x) => x.id !== d.id), d],
        selectedDatasetId: d.id,
        pendingDatasets: pending,
        datasetError: null,
        unmappedDataset: s.unmappedDataset?.id === d.id ? null : s.unmappedDataset,
      };
    }),
  datasetFailed: (id, name, message, columns) =>
    set((s) => {
      const { [id]: _, ...pending } = s.pendingDatasets;
      return {
        pendingDatasets: pending,
        datasetError: `${name}: ${message}`,
        unmappedDataset: columns
          ? { id, name, columns }
          : s.unmappedDataset?.id === id
            ? null
            : s.unmappedDataset,
      };
    }),
  selectDataset: (id) => set({ selectedDatasetId: id }),
});
