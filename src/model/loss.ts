// The causal language-modelling loss, written once: forward the batch, shift the labels one position left
// (HF's convention: position t predicts token t+1; virtual tokens and the last position carry no target),
// and take the mean token cross-entropy. Every trainer, evaluator, calibration pass and memory meter calls
// this, so "the loss" means one thing across the page, the CLI and the tests.
import type { ModelConfig } from '../formats/model-config';
import * as op from '../tensor/ops';
import type { ParamSet } from '../tensor/params';
import type { Tape, Tensor } from '../tensor/tape';
import { type ForwardInput, type ForwardResult, forward, type ModelHooks } from './transformer';

/** HF-style causal LM targets: targets[b,t] = labels[b,t+1], the last position ignored. */
export function shiftLabels(labels: Int32Array, B: number, T: number, virtual = 0): Int32Array {
  const Tt = T + virtual;
  const out = new Int32Array(B * Tt).fill(-100);
  for (let b = 0; b < B; b++) {
    for (let t = 0; t < Tt - 1; t++) {
      const src = t + 1 - virtual; // the label of the next real token
      if (src >= 0 && src < T) out[b * Tt + t] = labels[b * T + src];
    }
  }
  return out;
}

export interface LmLossInput<S, I> extends ForwardInput<S, I> {
  /** Labels [B·T] aligned with ids (-100: no target), before the shift. */
  labels: Int32Array;
}

export interface LmLossOptions {
  /** Multiplies the loss (and so its gradient): 1/k under gradient accumulation over k micro-batches. */
  weight?: number;
  /** The loss tensor's label (names it in errors and memory figures). */
  name?: string;
  /** Activation checkpointing per block: keep each block's input, recompute the block in backward. */
  checkpointing?: boolean;
}

export interface LmLossResult<S> extends ForwardResult<S> {
  /** The mean token cross-entropy over the targets, a scalar tensor (× weight). */
  loss: Tensor<S>;
  /** The shifted targets [B·T'], T' = T + virtual. */
  targets: Int32Array;
}

/** Forward + shift + cross-entropy: the loss every SFT-style pass minimises or reports. */
export function causalLmLoss<S, I>(
  tp: Tape<S, I>,
  c: ModelConfig,
  ps: ParamSet<S, I>,
  input: LmLossInput<S, I>,
  hooks: ModelHooks<S, I> = {},
  opts: LmLossOptions = {},
): LmLossResult<S> {
  const { labels, ...fwd } = input;
  const res = forward(tp, c, ps, fwd, hooks);
  const Tt = input.T + res.virtual;
  const targets = shiftLabels(labels, input.B, input.T, res.virtual);
  const loss = op.crossEntropy(
    tp,
    tp.reshape(res.logits, [input.B * Tt, c.vocabSize]),
    targets,
    opts.name ?? 'loss',
    opts.weight,
  );
  return { ...res, loss, targets };
}
