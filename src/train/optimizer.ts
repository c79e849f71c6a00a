// AdamW over a ParamSet's flat buffers with optional global-norm clipping, entirely on the device: the
// gradient norm and the clip factor stay in GPU memory, so a training step has no GPU→CPU read.
// ADAMW_DEFAULTS are PyTorch's AdamW defaults, written once; trainers override lr, weight decay and clip
// from their run settings.

import type { ParamSet } from '../tensor/params';

export interface AdamWConfig {
  lr: number;
  beta1: number;
  beta2: number;
  eps: number;
  weightDecay: number;
  /** Clip the global gradient norm to this value; 0 or undefined disables clipping. */
  maxGradNorm?: number;
}

export const ADAMW_DEFAULTS: AdamWConfig = {
  lr: 1e-3,
  beta1: 0.9,
  beta2: 0.999,
  eps: 1e-8,
  weightDecay: 0.01,
  maxGradNorm: 1,
};

export class AdamW<S, I> {
  private t = 0;
  private readonly normSq: S;
  private readonly clip: S;

  constructor(
    private readonly ps: ParamSet<S, I>,
    readonly config: AdamWConfig,
  ) {
    this.normSq = ps.be.alloc(1, 'optimizer', 'grad.normSq');
    this.clip = ps.be.alloc(1, 'optimizer', 'grad.clip');
  }

  get step(): number {
    return this.t;
  }

  /** Continues a run from a checkpoint: the bias corrections of later updates depend on the step count. */
  restoreStep(t: number): void {
    if (!Number.isInteger(t) || t < 0) throw new RangeError(`AdamW step ${t}: must be a whole number ≥ 0`);
    this.t = t;
  }

  /** One update with learning rate `lr` (schedules pass theirs; default the configured one). */
  update(lr = this.config.lr): void {
    const flat = this.ps.flat;
    if (!flat) return;
    const be = this.ps.be;
    this.t++;
    be.sumSquares({ out: this.normSq, x: flat.grads, n: flat.n });
    const clip = this.config.maxGradNorm && this.config.maxGradNorm > 0;
    if (clip) be.clipScale({ scale: this.clip, normSq: this.normSq, maxNorm: this.config.maxGradNorm! });
    be.adamw({
      params: flat.params,
      grads: flat.grads,
      m: flat.m,
      v: flat.v,
      n: flat.n,
      lr,
      beta1: this.config.beta1,
      beta2: this.config.beta2,
      eps: this.config.eps,
      weightDecay: this.config.weightDecay,
      step: this.t,
      gradScale: clip ? this.clip : null,
    });
  }

  dispose(): void {
    this.ps.be.free(this.normSq);
    this.ps.be.free(this.clip);
  }
}
