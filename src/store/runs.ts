// The runs slice: one record per run (its spec, state, message, measured counts, last memory, time left,
// and what it measured at the end: eval loss, task metric, inference latency, last checkpoint), and its tag
// when a fair comparison started it; which runs Resume continues from a checkpoint (after a reload or a
// lost device). Metrics
// points live in the metrics slice so the charts' updates do not touch this one.
import type { StateCreator } from 'zustand';
import type { ByCategory } from '../gpu/arena';
import type { MetricPoint } from '../train/sft-config';
import type {
  ExportFacts,
  PredictedMemory,
  RunInfo,
  RunResults,
  RunSpec,
  RunState,
} from '../worker/protocol';

/**
 * A run started by the fair comparison (ui/FairDriver.tsx): its comparison, whether it is a sweep point
 * (choosing the method's learning rate) or one of the seeds the table averages, its rate and its seed.
 */
export interface FairTag {
  group: string;
  phase: 'sweep' | 'seed';
  lr: number;
  seed: number;
  /** The sweep's decades from the default (the report's setup); absent without a sweep. */
  decades?: number[];
}

export interface RunRecord {
  spec: RunSpec;
  /** Set on runs of a fair comparison; saved with the record, so the table's ± rows survive a reload. */
  fair?: FairTag;
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
  /** An error it can be resumed from (a lost GPU device): its last checkpoint is kept in the worker. */
  resumable?: boolean;
}

export interface RunsSlice {
  runs: RunRecord[];
  addRuns: (r: RunRecord[]) => void;
  patchRun: (id: string, patch: Partial<RunRecord>) => void;
  patchResults: (id: string, results: RunResults) => void;
  setRuns: (r: RunRecord[]) => void;
  /** Drops one run's record (its points go with MetricsSlice.dropMetrics). */
  removeRun: (id: string) => void;
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
  removeRun: (id) => set((s) => ({ runs: s.runs.filter((r) => r.spec.id !== id) })),
});

/**
 * Whether Resume continues the run from its last checkpoint: one interrupted by a reload, or one a lost GPU
 * device ended (the worker marks those resumable; any other error is not).
 */
export function canResumeFromCheckpoint(run: Pick<RunRecord, 'state' | 'resumable'>): boolean {
  return run.state === 'interrupted' || (run.state === 'error' && run.resumable === true);
}

/** States a run can be deleted in: nothing of it is training or about to. */
export const DELETABLE = new Set<RunState>(['done', 'stopped', 'error', 'interrupted']);

/**
 * The dataset whose saved copy can go with run `id`: its own, unless another run kept on the page trained on
 * it or the page still holds that dataset (a new run would count on the copy being there).
 */
export function datasetCopyToDrop(
  runs: readonly RunRecord[],
  id: string,
  heldDatasetIds: readonly string[],
): string | undefined {
  const ds = runs.find((r) => r.spec.id === id)?.spec.datasetId;
  if (!ds || heldDatasetIds.includes(ds)) return undefined;
  return runs.some((r) => r.spec.id !== id && r.spec.datasetId === ds) ? undefined : ds;
}

/** What an export tells the worker about a run: its name for files, and the model card's figures. */
export function exportFactsOf(
  run: RunRecord,
  points: readonly MetricPoint[],
  name: string,
  datasetName?: string,
): ExportFacts {
  let trainLoss: number | null = null;
  let evalLoss: number | null = null;
  for (const p of points) {
    if (p.loss !== null) trainLoss = p.loss;
    if (p.evalLoss !== null) evalLoss = p.evalLoss;
  }
  const last = points.length ? points[points.length - 1].step : undefined;
  return {
    name,
    dataset: datasetName,
    steps: last,
    trainLoss,
    evalLoss: run.results?.evalLoss ?? evalLoss,
    exactMatch: run.results?.exactMatch ?? null,
  };
}
