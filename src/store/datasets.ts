// The datasets slice: summaries of what the worker parsed (preview, shape, mapping, skipped rows,
// token-length histogram), which one is selected, the last error per file, and how far each file being
// loaded has got (bytes and rows, from the worker's chunked reading) until it is ready, failed or cancelled.
import type { StateCreator } from 'zustand';
import type { DatasetFromWorker } from '../worker/dataset-protocol';
import type { DatasetSummary } from '../worker/protocol';

/** How far the worker got with a file it is loading. */
export type DatasetLoadProgress = Omit<Extract<DatasetFromWorker, { type: 'datasetProgress' }>, 'type'>;

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
  /** The last progress report of each file being loaded, by id. */
  datasetLoading: Record<string, DatasetLoadProgress>;
  datasetError: string | null;
  unmappedDataset: UnmappedDataset | null;
  /** What parsing does with a bad row: skip it (counted, first problems listed) or stop at it. */
  badRows: 'skip' | 'stop';
  setBadRows: (p: 'skip' | 'stop') => void;
  datasetPending: (id: string, name: string) => void;
  datasetProgressed: (p: DatasetLoadProgress) => void;
  /** The loading of `id` was cancelled: it is no longer pending; the datasets loaded before stay. */
  datasetCancelled: (id: string) => void;
  datasetReady: (d: DatasetSummary) => void;
  datasetFailed: (id: string, name: string, message: string, columns?: string[]) => void;
  selectDataset: (id: string) => void;
}

export const createDatasetsSlice: StateCreator<DatasetsSlice, [], [], DatasetsSlice> = (set) => ({
  datasets: [],
  selectedDatasetId: null,
  pendingDatasets: {},
  datasetLoading: {},
  datasetError: null,
  unmappedDataset: null,
  badRows: 'skip',
  setBadRows: (badRows) => set({ badRows }),
  datasetPending: (id, name) => set((s) => ({ pendingDatasets: { ...s.pendingDatasets, [id]: name } })),
  datasetProgressed: (p) =>
    set((s) =>
      s.pendingDatasets[p.id] === undefined ? {} : { datasetLoading: { ...s.datasetLoading, [p.id]: p } },
    ),
  datasetCancelled: (id) =>
    set((s) => {
      const { [id]: _, ...pending } = s.pendingDatasets;
      const { [id]: __, ...loading } = s.datasetLoading;
      return { pendingDatasets: pending, datasetLoading: loading };
    }),
  datasetReady: (d) =>
    set((s) => {
      const { [d.id]: _, ...pending } = s.pendingDatasets;
      const { [d.id]: __, ...loading } = s.datasetLoading;
      return {
        datasetLoading: loading,
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
      const { [id]: __, ...loading } = s.datasetLoading;
      return {
        datasetLoading: loading,
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
