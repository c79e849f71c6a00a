// What a supervised fine-tuning run is configured with and what it reports, without the engine: the page
// imports these (defaults, point type) without pulling the GPU code into the main thread's bundle.
import type { ByCategory } from '../gpu/arena';
import type { RawOptions } from '../peft/types';
import type { RlMetrics } from './rl/common';

export type LrSchedule = 'constant' | 'linear' | 'cosine';

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
};

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
  /** RL runs (src/worker/rl-runs.ts): the step's RL figures under METHODS.md's names (reward_mean, kl, …). */
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
