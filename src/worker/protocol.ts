// The typed messages between the page and the training worker, both directions. Only plain, structured-
// cloneable data crosses: no GPU objects, no class instances. Dataset and model bytes travel as
// ArrayBuffers in the transfer list (moved, not copied).

import type { LengthHistogram } from '../data/tokenize';
import type { ColumnMapping, DataIssue, Row, ShapeKind } from '../data/types';
import type { ByCategory } from '../gpu/arena';
import type { GpuInfo } from '../store/gpu';
import type { MetricPoint, SftRunConfig } from '../train/sft-config';

/** Where the model comes from: the built-in folder by URL, or dropped files. */
export type ModelSource =
  | { kind: 'url'; base: string; name: string }
  | {
      kind: 'files';
      name: string;
      config: ArrayBuffer;
      weights: ArrayBuffer;
      tokenizer: ArrayBuffer;
      tokenizerConfig?: ArrayBuffer;
    };

export interface ModelSummary {
  name: string;
  modelType: string;
  layers: number;
  hiddenSize: number;
  vocabSize: number;
  maxPositions: number;
  totalParams: number;
  weightBytes: number;
  /** The parsed config.json (plain object), so the page can compute counts and predictions itself. */
  configJson: Record<string, unknown>;
}

export interface DatasetSummary {
  id: string;
  name: string;
  format: string;
  columns: string[];
  rows: number;
  examples: number;
  shape: ShapeKind;
  mapping: ColumnMapping;
  skipped: number;
  issues: DataIssue[];
  preview: Row[];
  histogram: LengthHistogram;
  /** Examples longer than the sequence length used for the histogram (they get truncated). */
  truncatedAt: number;
}

export interface RunSpec {
  id: string;
  label: string;
  datasetId: string;
  config: SftRunConfig;
  /** Share of examples held out for evaluation. */
  evalFraction: number;
}

export type RunState =
  | 'queued'
  | 'loading'
  | 'running'
  | 'paused'
  | 'done'
  | 'stopped'
  | 'error'
  | 'interrupted';

export interface RunInfo {
  trainableParams: number;
  totalParams: number;
  trainExamples: number;
  evalExamples: number;
}

export type ToWorker =
  | { type: 'init' }
  | { type: 'loadModel'; source: ModelSource }
  | {
      type: 'addDataset';
      id: string;
      name: string;
      bytes: ArrayBuffer;
      mapping?: ColumnMapping;
      onError: 'skip' | 'stop';
      seqLen: number;
    }
  | { type: 'start'; runs: RunSpec[] }
  | { type: 'pause'; runId: string }
  | { type: 'resume'; runId: string }
  | { type: 'stop'; runId: string };

export type FromWorker =
  | { type: 'gpu'; info: GpuInfo }
  | { type: 'gpuError'; name: string; message: string }
  | { type: 'modelLoading'; name: string }
  | { type: 'modelReady'; model: ModelSummary }
  | { type: 'modelError'; message: string }
  | { type: 'datasetReady'; dataset: DatasetSummary }
  | { type: 'datasetError'; id: string; name: string; message: string }
  | { type: 'runState'; runId: string; state: RunState; message?: string; info?: RunInfo }
  /** Points of several runs in one message: the page appends them in one store update. */
  | {
      type: 'metrics';
      batch: { runId: string; points: MetricPoint[]; memory: ByCategory; etaS: number | null }[];
    };
