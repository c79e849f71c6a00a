// The typed messages between the page and the training worker, both directions. Only plain, structured-
// cloneable data crosses: no GPU objects, no class instances. Dataset and model bytes travel as
// ArrayBuffers in the transfer list (moved, not copied).

import type { PromptTemplate } from '../data/template';
import type { LengthHistogram, PreviewSequence } from '../data/tokenize';
import type { ColumnMapping, DataIssue, Row, ShapeKind } from '../data/types';
import type { ByCategory } from '../gpu/arena';
import type { GpuInfo } from '../gpu/summary';
import type { MethodInfo, RawOptions } from '../peft/types';
import type { BaseDtype } from '../tensor/weight-format';
import type { Sample } from '../train/rl/common';
import type { MetricPoint, SftRunConfig } from '../train/sft-config';
import type { DatasetFromWorker, DatasetToWorker } from './dataset-protocol';
import type { RlRunSpec } from './rl-spec';

/**
 * Where the model comes from: the built-in one (src/model/sources builtinModelSource, kept in the Cache API so a
 * second load is offline), or dropped files (File objects are cloned by reference, not read on the page).
 */
export type ModelSource = { kind: 'builtin'; name: string } | { kind: 'files'; name: string; files: File[] };

/** Per-category bytes of one predicted training step and its peak (predictTrainingMemory). */
export interface PredictedMemory {
  peak: ByCategory;
  peakTotal: number;
}

/** A method's figures before it starts, computed in the worker (the page never runs engine code). */
export interface MethodPlan {
  method: string;
  /** The options the figures are for, as the form sent them (stale answers are dropped by key). */
  key: string;
  trainable: number;
  /** Bytes one data-parallel step would all-reduce (the trainable gradients, compact; peft/allreduce.ts). */
  allreduceBytes: number;
  total: number;
  predicted: PredictedMemory | null;
  error?: string;
}

export interface SamplingSettings {
  temperature: number;
  topK: number;
  topP: number;
  maxNewTokens: number;
  seed: number;
}

/** Inference latency (measureInferenceLatency) of one run, ms per forward of [1, seqLen]. */
export interface LatencyFigures {
  baseMs: number;
  unmergedMs: number;
  mergedMs: number | null;
}

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
  /** The prompt template applied to the examples (the default for the mapping unless the page chose one). */
  template: PromptTemplate;
  /**
   * What the model sees: the first examples rendered by the tokenisation training uses, one entry per
   * example (a preference row has a chosen and a rejected sequence), truncated at `truncatedAt`.
   */
  rendered: PreviewSequence[][];
}

/**
 * A frozen base held on the page's device: every run of that model and dtype (and the base model's
 * generation) borrows it, so the memory chart shows it once; runs' own memory figures leave it out.
 */
export interface BaseMemory {
  /** The model's name (as modelReady named it). */
  model: string;
  dtype: BaseDtype;
  /** Bytes its tensors hold on the device now, exactly as the arena counts them. */
  bytes: number;
  /** Runs and generators holding it now. */
  users: number;
}

export interface RunSpec {
  id: string;
  label: string;
  datasetId: string;
  config: SftRunConfig;
  /** Share of examples held out for evaluation. */
  evalFraction: number;
  /** Save a checkpoint (trainable values, AdamW moments, step) every this many steps; 0: never. */
  checkpointEvery: number;
  /** Predicted peak bytes of a training step, for the memory-aware schedule. */
  predictedBytes: number;
  /**
   * Of predictedBytes, the frozen base's: runs on one model share one base (worker/device.ts), so the
   * schedule counts it once. Absent: the run's whole figure is its own.
   */
  predictedFrozenBytes?: number;
  /** Start from an imported adapter (its method and options come from the config, not `config`). */
  initAdapter?: { config: string; weights: ArrayBuffer };
  /** An RL run (reward model, PPO, rejection sampling, DPO, GRPO): src/worker/rl-runs.ts runs it. */
  rl?: RlRunSpec;
}

export type RunState =
  | 'queued'
  | 'loading'
  | 'running'
  | 'paused'
  | 'done'
  | 'stopped'
  | 'error'
  | 'interrupted'
  /** The page's only (the worker never sends it): another tab of the page is training this run. */
  | 'elsewhere';

export interface RunInfo {
  trainableParams: number;
  totalParams: number;
  trainExamples: number;
  evalExamples: number;
  mergeable: boolean;
  /** The method that trains (an imported adapter's comes from its adapter_config.json). */
  method: string;
}

/** What a finished (or imported) run measured beyond its metric points. */
export interface RunResults {
  evalLoss?: number | null;
  /** Exact-match accuracy of greedy completions on the eval split (prompt/completion data), or null. */
  exactMatch?: number | null;
  latency?: LatencyFigures;
  /** Step of the last checkpoint saved. */
  checkpointStep?: number;
}

/**
 * What the page knows of a run for an export: its display name (the zip's folder and file names, so two runs
 * of one method export different names) and the figures the adapter's model card reports.
 */
export interface ExportFacts {
  /** File-name safe display name of the run ("lora", "lora-2"). */
  name: string;
  dataset?: string;
  steps?: number;
  trainLoss?: number | null;
  evalLoss?: number | null;
  exactMatch?: number | null;
}

export type ToWorker =
  | DatasetToWorker
  /** gpuWithout: the page's `?gpu_without=` (optional features the device does not ask for), unparsed. */
  | { type: 'init'; gpuWithout?: string | null }
  /** budgetBytes: the memory setting; a model whose weights exceed it is refused with the fit check's message. */
  | { type: 'loadModel'; source: ModelSource; budgetBytes: number }
  /** pack: the step carries packed rows' position and segment ids (counted in the prediction). */
  | {
      type: 'plan';
      method: string;
      options: RawOptions;
      key: string;
      batch: number;
      seqLen: number;
      pack?: boolean;
      /** The form's base dtype and checkpointing: the prediction is for the step the run will take. */
      baseDtype?: BaseDtype;
      checkpointing?: boolean;
    }
  | {
      type: 'addDataset';
      id: string;
      name: string;
      bytes: ArrayBuffer;
      mapping?: ColumnMapping;
      onError: 'skip' | 'stop';
      seqLen: number;
      /** Unset: the mapping's default (Alpaca's for instruction + input columns). */
      template?: PromptTemplate;
    }
  /**
   * Parse a dataset again from the bytes the worker kept (a loaded one, or one whose shape could not be
   * detected) with a hand-made column mapping and/or another bad-row policy.
   */
  | {
      type: 'remapDataset';
      id: string;
      mapping?: ColumnMapping;
      onError: 'skip' | 'stop';
      seqLen: number;
      /** Another prompt template: the examples (and the preview in the answer) are rendered with it. */
      template?: PromptTemplate;
    }
  /** Runs go one after another when their predicted bytes together exceed budgetBytes. */
  | { type: 'start'; runs: RunSpec[]; budgetBytes: number }
  /**
   * Continue a run interrupted by a reload, or ended by a lost device, from its last checkpoint (its dataset
   * is kept with it).
   */
  | { type: 'resumeInterrupted'; spec: RunSpec }
  /** baseDtype: the base model's dtype for the 'base' target (default: the first run's, else f32). */
  | {
      type: 'generate';
      reqId: string;
      prompt: string;
      runIds: string[];
      sampling: SamplingSettings;
      baseDtype?: BaseDtype;
    }
  | { type: 'measure'; runId: string }
  /** Answered with one `file`: adapter.zip (folder `<name>/`: adapter files and README.md). */
  | { type: 'exportAdapter'; runId: string; facts?: ExportFacts }
  /** Answered with one `file`: merged.zip (folder `<name>/`: config, weights, tokenizer files). */
  | { type: 'exportMerged'; runId: string; facts?: ExportFacts }
  | { type: 'exportOnnx'; runId: string }
  /** The run's TRL + PEFT + Accelerate recipe, answered with one `file` (recipe.zip); `spec` for a run the
   * worker no longer holds (one of an earlier page). */
  | { type: 'exportRecipe'; runId: string; spec?: RunSpec }
  | { type: 'forget'; runIds: string[] }
  /** Delete one run: forget it (its checkpoint goes) and, when given, the saved dataset copy no run uses. */
  | { type: 'deleteRun'; runId: string; datasetId?: string }
  | { type: 'pause'; runId: string }
  | { type: 'resume'; runId: string }
  | { type: 'stop'; runId: string }
  /** Dev and test builds only (the worker ignores it otherwise): destroys the shared device, as a loss. */
  | { type: 'debugLoseDevice' };

export type FromWorker =
  | DatasetFromWorker
  | { type: 'gpu'; info: GpuInfo }
  /** The registry's methods (plain data), sent once at init: the page renders the picker from them. */
  | { type: 'methods'; methods: MethodInfo[] }
  | { type: 'gpuError'; name: string; message: string }
  | { type: 'modelLoading'; name: string }
  | { type: 'modelReady'; model: ModelSummary }
  | { type: 'modelError'; message: string }
  | { type: 'datasetReady'; dataset: DatasetSummary }
  /** columns: set when the file parsed but its shape was not recognised, so the page can offer a mapping. */
  | { type: 'datasetError'; id: string; name: string; message: string; columns?: string[] }
  | {
      type: 'runState';
      runId: string;
      state: RunState;
      message?: string;
      info?: RunInfo;
      /** Set when the run continues from a checkpoint: points after this step are superseded. */
      resumedFrom?: number;
      /** An error the run can be resumed from (a lost device): its last checkpoint is kept. */
      resumable?: boolean;
    }
  | { type: 'runResults'; runId: string; results: RunResults }
  | { type: 'planResult'; plan: MethodPlan }
  | { type: 'schedule'; mode: 'interleaved' | 'sequential'; message: string }
  /** target: a run id, or 'base'. text: new text since the last event (streamed token by token). */
  | { type: 'genToken'; reqId: string; target: string; text: string }
  | { type: 'genDone'; reqId: string; target: string; error?: string }
  | { type: 'file'; runId: string; name: string; bytes: ArrayBuffer; mime: string }
  | { type: 'runError'; runId: string; message: string }
  /** The shared frozen bases' bytes, sent whenever a run starts or ends: the chart draws them once. */
  | { type: 'baseMemory'; bases: BaseMemory[] }
  /** An RL step's rollouts (a few), as text with their rewards. */
  | { type: 'rollouts'; runId: string; step: number; samples: Sample[] }
  /** Points of several runs in one message: the page appends them in one store update. */
  | {
      type: 'metrics';
      batch: { runId: string; points: MetricPoint[]; memory: ByCategory; etaS: number | null }[];
    };
