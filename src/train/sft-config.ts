// What a supervised fine-tuning run is configured with and what it reports, without the engine: the page
// imports these (defaults, point type) without pulling the GPU code into the main thread's bundle.
import type { ByCategory } from '../gpu/arena';
import type { RawOptions } from '../peft/types';
import { BASE_DTYPES, type BaseDtype, isBaseDtype } from '../tensor/weight-format';
import type { RlMetrics } from './rl/common';

/** The learning-rate schedules after the warm-up (lrAt in sft.ts), for flags and pickers to list. */
export const LR_SCHEDULES = ['cosine', 'linear', 'constant'] as const;
export type LrSchedule = (typeof LR_SCHEDULES)[number];

export interface SftRunConfig {
  /** A registry method name (src/peft/registry.ts). */
  method: string;
  /** The method's options as the form or adapter_config.json gives them (parsed, with defaults, by the method). */
  options: RawOptions;
  lr: number;
  schedule: LrSchedule;
  /** Optimizer steps (each of gradAccum micro-batches). */
  steps: number;
  batch: number;
  seqLen: number;
  gradAccum: number;
  weightDecay: number;
  /** Global gradient-norm clip; 0 disables it. */
  maxGradNorm: number;
  seed: number;
  /** Read the loss back every this many steps (the only GPU→CPU read in training). */
  logEvery: number;
  /** Evaluate every this many steps (0: only at the end). */
  evalEvery: number;
  /**
   * Pack the training split: several examples per seqLen row (best-fit decreasing), each with its own positions
   * and attention blocked across examples. Eval stays unpacked, so eval losses compare across packed and
   * unpacked runs. Absent (configs saved before it existed): false.
   */
  pack?: boolean;
  /**
   * Activation checkpointing per block: keep each block's input only and recompute the block in backward
   * (about a third more compute for activations that no longer grow with the depth). Default false.
   */
  checkpointing: boolean;
  /** The dtype the frozen base is held in on the device (weight-format.ts). Default 'f32'. */
  baseDtype: BaseDtype;
}

export const SFT_DEFAULTS: Omit<SftRunConfig, 'method' | 'options' | 'lr'> = {
  schedule: 'cosine',
  steps: 50,
  batch: 4,
  seqLen: 64,
  gradAccum: 1,
  weightDecay: 0,
  maxGradNorm: 1,
  seed: 0,
  logEvery: 2,
  evalEvery: 10,
  pack: false,
  checkpointing: false,
  baseDtype: 'f32',
};

/** Share of the tokenised examples held out for evaluation when neither the form nor a flag says. */
export const SFT_EVAL_FRACTION = 0.1;

/**
 * How often a run of `steps` steps reads its loss back: about twenty points a chart, at least every fifth
 * step (each read is the only GPU→CPU transfer of a step).
 */
export function logEveryFor(steps: number): number {
  return Math.max(1, Math.min(5, Math.floor(steps / 20)));
}

/** What the page's form or the CLI's flags say about a run; what they leave out takes SFT_DEFAULTS. */
export interface SftRunSettings extends Partial<Omit<SftRunConfig, 'method' | 'options' | 'lr'>> {
  method: string;
  options: RawOptions;
  lr: number;
}

/**
 * The one place a run's configuration is built from user settings, for the page (app/engine.ts, from the
 * form) and the CLI (cli/train.ts, from the flags), so the same settings train the same way in both. Only
 * SftRunConfig's fields are taken (a form object may carry more); logEvery follows the step count unless
 * given.
 */
export function sftRunConfig(s: SftRunSettings): SftRunConfig {
  const d = SFT_DEFAULTS;
  const steps = s.steps ?? d.steps;
  // Both arrive untyped from a saved config or a form; a wrong value must name itself, not train as f32.
  const baseDtype: unknown = s.baseDtype ?? d.baseDtype;
  if (!isBaseDtype(baseDtype)) {
    throw new Error(`baseDtype: ${JSON.stringify(baseDtype)} is not one of ${BASE_DTYPES.join(', ')}`);
  }
  const checkpointing: unknown = s.checkpointing ?? d.checkpointing;
  if (typeof checkpointing !== 'boolean') {
    throw new Error(`checkpointing: ${JSON.stringify(checkpointing)} is not true or false`);
  }
  return {
    method: s.method,
    options: s.options,
    lr: s.lr,
    schedule: s.schedule ?? d.schedule,
    steps,
    batch: s.batch ?? d.batch,
    seqLen: s.seqLen ?? d.seqLen,
    gradAccum: s.gradAccum ?? d.gradAccum,
    weightDecay: s.weightDecay ?? d.weightDecay,
    maxGradNorm: s.maxGradNorm ?? d.maxGradNorm,
    seed: s.seed ?? d.seed,
    logEvery: s.logEvery ?? logEveryFor(steps),
    evalEvery: s.evalEvery ?? d.evalEvery,
    pack: s.pack ?? d.pack,
    checkpointing,
    baseDtype,
  };
}

/** One logged point: what the charts and the table plot. */
export interface MetricPoint {
  step: number;
  /** Tokens trained on so far (padding excluded). */
  tokens: number;
  /** Milliseconds since the first step, paused time excluded. */
  timeMs: number;
  loss: number | null;
  evalLoss: number | null;
  lr: number;
  /** Steady-state speed: from the first logged step on (its pipeline compilation left out). */
  tokensPerS: number;
  /** Milliseconds per optimizer step, steady state as tokensPerS (absent on older saved points). */
  msPerStep?: number;
  /** Arena bytes by category now, and the total's peak with its breakdown. */
  memory: ByCategory;
  peakBytes: number;
  peakByCategory: ByCategory;
  /** RL runs (src/worker/rl-runs.ts): the step's RL figures under docs/METHODS.md's names (reward_mean, kl, …). */
  rl?: Omit<RlMetrics, 'step' | 'loss' | 'samples'>;
}

/**
 * Everything a run needs to continue where it stopped: the flat trainable values and AdamW's two moments
 * (padding included, as the ParamSet lays them out), the step and the counters. The RNG state is the step
 * itself: batch k is a pure function of (seed, k) (Batcher), and the sampling streams are re-derived.
 */
export interface SftCheckpoint {
  step: number;
  tokens: number;
  activeMs: number;
  params: Float32Array;
  m: Float32Array;
  v: Float32Array;
}
