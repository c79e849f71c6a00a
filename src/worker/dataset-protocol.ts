// The messages of a dataset file loaded in chunks (data/ingest.ts in the worker): a dropped File handed to
// the worker as it is (cloned by reference: the page never reads it), the progress of the reading and
// tokenising, and a cancel that leaves the datasets loaded before as they were. protocol.ts's unions
// include these; the page's sample datasets still come as bytes (addDataset) and go the same chunked way.
import type { PromptTemplate } from '../data/template';
import type { ColumnMapping } from '../data/types';

export type DatasetToWorker =
  | {
      type: 'addDatasetFile';
      id: string;
      name: string;
      /** The dropped file (a Blob in tests). */
      file: Blob;
      mapping?: ColumnMapping;
      onError: 'skip' | 'stop';
      seqLen: number;
      template?: PromptTemplate;
    }
  /** Stop loading dataset `id` (a new file or a remap): what was loaded under that id stays. */
  | { type: 'cancelDataset'; id: string };

export type DatasetFromWorker =
  /** How far the loading of `id` got: bytes read of the file, rows parsed, rows and examples left out. */
  | {
      type: 'datasetProgress';
      id: string;
      name: string;
      bytesDone: number;
      bytesTotal: number;
      rows: number;
      skipped: number;
    }
  /** The loading of `id` stopped at the page's request. */
  | { type: 'datasetCancelled'; id: string; name: string };
