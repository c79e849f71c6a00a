// Planning a fine-tune from config.json alone, before any weight is downloaded: the device memory one or
// several runs will need, by category, and — when that exceeds a budget — what would fit instead. Each run is
// one training step on the metering backend (memory.ts, the same model code and method hooks as training)
// with specs that carry no values, so a 1.5B model plans in a fraction of a second.
//
// Several runs stand on one frozen base, held once per page or CLI process; each run holds what it trains
// (its trainable copy, gradients, AdamW moments, anything else it adds) for as long as it lives, while a step's
// activations exist only during that step. The page's scheduler steps its runs one at a time on one device,
// so the plan's peak is: shared base + Σ runs' persistent state + the largest run's step.

import { countParameters, frozenTensorPlan, type ModelConfig } from '../formats/model-config';
import type { ByCategory } from '../gpu/arena';
import { MEMORY_CATEGORIES, zeroByCategory } from '../gpu/arena';
import { Adapter, planAdapter } from '../peft/adapter';
import { getMethod } from '../peft/registry';
import type { RawOptions } from '../peft/types';
import type { ParamSpec } from '../tensor/params';
import type { BaseDtype } from '../tensor/weight-format';
import { frozenBytes, predictTrainingMemory } from './memory';

export interface PlanRun {
  method: string;
  options: RawOptions;
}

export interface PlanChoice {
  /** Rows per micro-batch (SftRunConfig.batch). */
  batch: number;
  seqLen: number;
  /** Micro-batches per optimizer step (gradient accumulation); does not change the peak. */
  gradAccum: number;
  pack: boolean;
  checkpointing: boolean;
  baseDtype: BaseDtype;
  /**
   * The device's per-buffer limit (maxStorageBufferBindingSize): frozen tensors above it are planned in the
   * row parts the run holds them in; a trained one above it is refused. Absent: no limit.
   */
  maxBufferBytes?: number;
}

export const PLAN_DEFAULTS: Omit<PlanChoice, 'batch' | 'seqLen'> = {
  gradAccum: 1,
  pack: false,
  checkpointing: false,
  baseDtype: 'f32',
};

/** One run's figures, standing alone on the shared base. */
export interface RunPrediction {
  method: string;
  trainableParams: number;
  /** The base tensors it reads frozen (leased from the shared base). */
  leased: string[];
  /** What the run holds while it lives: trainable copy, gradients, optimizer moments, its own frozen tensors. */
  persistentBytes: number;
  /** What its step adds at the step's peak: activations (and their gradients), workspace. */
  stepBytes: number;
  /** The base tensors it leases + its persistent state + its step: the run alone on the device. */
  predictedPeakBytes: number;
  /** This run alone on the base, by category, at its peak. */
  byCategory: ByCategory;
}

export interface TrainingPlan {
  /** Shared base + Σ persistent + max step. */
  predictedPeakBytes: number;
  byCategory: ByCategory;
  /** The frozen base tensors the runs read, in the base dtype, counted once however many runs read them. */
  sharedFrozenBytes: number;
  runs: RunPrediction[];
  /** Parameters of the base model (a tied head counted once). */
  baseParams: number;
  choice: PlanChoice;
}

export interface Suggestion {
  /** What to change, in words ("activation checkpointing", "NF4 base", "batch 2 × 4 micro-batches"). */
  change: string;
  choice: PlanChoice;
  predictedPeakBytes: number;
}

/** The base model's tensors as frozen specs without values, each in the dtype and layout the base holds it. */
export function baseSpecsOf(c: ModelConfig, baseDtype: BaseDtype): ParamSpec[] {
  return [...frozenTensorPlan(c, baseDtype)].map(([name, p]) => ({
    name,
    shape: p.shape,
    trainable: false,
    data: null,
    dtype: p.dtype,
    layout: p.layout,
  }));
}

/**
 * Methods read base values while they are planned (DoRA's column norms, prompt tuning's vocabulary rows):
 * what they read here is a length with no values behind it (NaN where read), never a host array of the
 * model, since only the shapes of what they add matter to the meter.
 */
function valuelessBase(specs: readonly ParamSpec[]): ParamSpec[] {
  return specs.map((s) => ({ ...s, data: { length: s.shape.reduce((a, b) => a * b, 1) } }));
}

/** One run alone on the base: a step on the meter, split into the base it leases, its own state and its step. */
export function predictRun(c: ModelConfig, run: PlanRun, choice: PlanChoice): RunPrediction {
  const method = getMethod(run.method);
  const base = baseSpecsOf(c, choice.baseDtype);
  // saved: nothing is initialised from a tokenizer (prompt tuning's TEXT init): only shapes matter here.
  const plan = planAdapter(method, run.options, c, valuelessBase(base), 0, { saved: true });
  const byName = new Map(base.map((s) => [s.name, s]));
  // Values dropped again: the meter builds no host array; a trained base tensor is the run's own f32 copy.
  const specs = plan.specs.map((s) => {
    const b = byName.get(s.name);
    return b ? { ...b, trainable: s.trainable, dtype: s.trainable ? ('f32' as const) : b.dtype } : s;
  });
  const stats = predictTrainingMemory(
    c,
    specs,
    (ps) => new Adapter(method, { ...plan, specs }, c, ps).hooks,
    { B: choice.batch, T: choice.seqLen, pack: choice.pack },
    { checkpointing: choice.checkpointing, maxBufferBytes: choice.maxBufferBytes },
  );
  // The base tensors it reads frozen are leased from the shared base; any other frozen tensor is its own.
  const leased = specs.filter((s) => byName.has(s.name) && !s.trainable);
  const leasedBytes = frozenBytes(leased, choice.maxBufferBytes);
  const at = stats.atPeak;
  const ownFrozen = at.frozen - leasedBytes;
  const persistentBytes = ownFrozen + at.trainable + at.gradients + at.optimizer;
  const stepBytes = stats.peakTotal - at.frozen - at.trainable - at.gradients - at.optimizer;
  return {
    method: run.method,
    trainableParams: plan.count,
    leased: leased.map((s) => s.name),
    persistentBytes,
    stepBytes,
    predictedPeakBytes: leasedBytes + persistentBytes + stepBytes,
    byCategory: { ...at },
  };
}

/**
 * Runs side by side on one shared base: the base tensors any run reads frozen, once; each run's persistent
 * state; the largest step (the scheduler steps them one at a time on one device).
 */
export function planTraining(c: ModelConfig, runs: readonly PlanRun[], choice: PlanChoice): TrainingPlan {
  if (runs.length === 0) throw new Error('plan: no method given');
  const preds = runs.map((r) => predictRun(c, r, choice));
  const union = new Set(preds.flatMap((p) => p.leased));
  const shared = frozenBytes(
    baseSpecsOf(c, choice.baseDtype).filter((s) => union.has(s.name)),
    choice.maxBufferBytes,
  );
  const byCategory = zeroByCategory();
  byCategory.frozen = shared;
  const persistent: readonly (keyof ByCategory)[] = ['trainable', 'gradients', 'optimizer'];
  for (const p of preds) {
    byCategory.frozen += p.persistentBytes - persistent.reduce((n, k) => n + p.byCategory[k], 0);
    for (const k of persistent) byCategory[k] += p.byCategory[k];
  }
  // The step that peaks highest: its activations, workspace and KV cache are the plan's.
  const top = preds.reduce((a, b) => (b.stepBytes > a.stepBytes ? b : a));
  for (const k of MEMORY_CATEGORIES)
    if (k !== 'frozen' && !persistent.includes(k)) byCategory[k] = top.byCategory[k];
  const predictedPeakBytes = shared + preds.reduce((n, p) => n + p.persistentBytes, 0) + top.stepBytes;
  return {
    predictedPeakBytes,
    byCategory,
    sharedFrozenBytes: shared,
    runs: preds,
    baseParams: countParameters(c),
    choice,
  };
}

/** "4GiB", "1.5 GB", "3000000000": bytes (binary units for KiB/MiB/GiB, decimal for KB/MB/GB). */
export function parseBytes(text: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*(B|KB|MB|GB|TB|KiB|MiB|GiB|TiB)?\s*$/i.exec(text);
  if (!m) throw new Error(`"${text}" is not a size (e.g. 4GiB, 1.5GB, 3000000000)`);
  const unit = (m[2] ?? 'B').toLowerCase();
  const scale: Record<string, number> = {
    b: 1,
    kb: 1e3,
    mb: 1e6,
    gb: 1e9,
    tb: 1e12,
    kib: 2 ** 10,
    mib: 2 ** 20,
    gib: 2 ** 30,
    tib: 2 ** 40,
  };
  const v = Math.round(Number(m[1]) * scale[unit]);
  if (!(v > 0)) throw new Error(`"${text}" is not a positive size`);
  return v;
}

/** The 16-bit dtype a checkpoint is published in (bf16 unless it says float16), for "a 16-bit base". */
function sixteenBitOf(c: ModelConfig): BaseDtype {
  return c.torchDtype === 'float16' ? 'f16' : 'bf16';
}

const DTYPE_NAMES: Record<BaseDtype, string> = {
  f32: 'f32 base',
  f16: 'f16 base',
  bf16: 'bf16 base',
  int8: 'int8 base',
  nf4: 'NF4 base',
};

/**
 * When the plan exceeds `budget`, what would fit: micro-batches (the same rows per optimizer step through
 * gradient accumulation), activation checkpointing, a 16- or 4-bit base, alone and then together, each with
 * its own predicted peak, all below the budget. Nothing when the plan already fits; empty when nothing does.
 */
export function suggestFits(
  c: ModelConfig,
  runs: readonly PlanRun[],
  plan: TrainingPlan,
  budget: number,
): Suggestion[] {
  const steps = suggestFitsSteps(c, runs, plan, budget);
  for (;;) {
    const r = steps.next();
    if (r.done) return r.value;
  }
}

/**
 * suggestFits one plan at a time: the generator yields after each plan it computes (a step per run on the
 * meter), so the page can hand the main thread back between them; it returns the suggestions.
 */
export function* suggestFitsSteps(
  c: ModelConfig,
  runs: readonly PlanRun[],
  plan: TrainingPlan,
  budget: number,
): Generator<void, Suggestion[], void> {
  if (plan.predictedPeakBytes <= budget) return [];
  const ch = plan.choice;
  const dtypes: BaseDtype[] = [];
  if (ch.baseDtype === 'f32') dtypes.push(sixteenBitOf(c));
  if (ch.baseDtype !== 'nf4') dtypes.push('nf4');
  // Levers, least intrusive first: none (micro-batches alone), checkpointing, each smaller base, and both.
  const tried: Array<{ change: string[]; choice: PlanChoice }> = [{ change: [], choice: ch }];
  if (!ch.checkpointing)
    tried.push({ change: ['activation checkpointing'], choice: { ...ch, checkpointing: true } });
  for (const d of dtypes) tried.push({ change: [DTYPE_NAMES[d]], choice: { ...ch, baseDtype: d } });
  if (!ch.checkpointing)
    for (const d of dtypes)
      tried.push({
        change: ['activation checkpointing', DTYPE_NAMES[d]],
        choice: { ...ch, checkpointing: true, baseDtype: d },
      });
  const out: Suggestion[] = [];
  for (const v of tried) {
    if (v.change.length > 0) {
      const peak = planTraining(c, runs, v.choice).predictedPeakBytes;
      yield;
      if (peak <= budget) {
        out.push({ change: v.change.join(' + '), choice: v.choice, predictedPeakBytes: peak });
        continue;
      }
    }
    // Micro-batches on top: the fewest k dividing the batch that fit (the rows per optimizer step kept).
    for (let k = 2; k <= v.choice.batch; k++) {
      if (v.choice.batch % k !== 0) continue;
      const choice = { ...v.choice, batch: v.choice.batch / k, gradAccum: v.choice.gradAccum * k };
      const peak = planTraining(c, runs, choice).predictedPeakBytes;
      yield;
      if (peak <= budget) {
        const micro = `batch ${choice.batch} × ${choice.gradAccum} micro-batches`;
        out.push({ change: [...v.change, micro].join(' + '), choice, predictedPeakBytes: peak });
        break;
      }
    }
  }
  return out;
}

/** The plan as the CLI prints it and the page shows it: one JSON object, snake_case keys. */
export function planJson(
  plan: TrainingPlan,
  suggestions: readonly Suggestion[] | null,
  budget: number | null,
) {
  return {
    ...(budget !== null ? { budget_bytes: budget, fits: plan.predictedPeakBytes <= budget } : {}),
    batch: plan.choice.batch,
    seq: plan.choice.seqLen,
    grad_accum: plan.choice.gradAccum,
    checkpointing: plan.choice.checkpointing,
    base_dtype: plan.choice.baseDtype,
    ...(plan.choice.maxBufferBytes !== undefined ? { max_buffer_bytes: plan.choice.maxBufferBytes } : {}),
    base_params: plan.baseParams,
    ...(suggestions !== null && budget !== null && plan.predictedPeakBytes > budget
      ? {
          suggestions: suggestions.map((s) => ({
            change: s.change,
            batch: s.choice.batch,
            grad_accum: s.choice.gradAccum,
            checkpointing: s.choice.checkpointing,
            base_dtype: s.choice.baseDtype,
            predicted_peak_bytes: s.predictedPeakBytes,
          })),
        }
      : {}),
    predicted_peak_bytes: plan.predictedPeakBytes,
    by_category: plan.byCategory,
    shared_frozen_bytes: plan.sharedFrozenBytes,
    runs: plan.runs.map((r) => ({
      method: r.method,
      trainable_params: r.trainableParams,
      persistent_bytes: r.persistentBytes,
      step_bytes: r.stepBytes,
      predicted_peak_bytes: r.predictedPeakBytes,
    })),
  };
}
