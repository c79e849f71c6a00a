// The causal language-modelling loss, written once: forward the batch, shift the labels one position left
// (HF's convention: position t predicts token t+1; virtual tokens and the last position carry no target),
// and take the mean token cross-entropy. Every trainer, evaluator, calibration pass and memory meter calls
// this, so "the loss" means one thing across the page, the CLI and the tests.

import { modelTensors } from '../formats/architecture';
import type { ModelConfig } from '../formats/model-config';
import { lmHeadLoss } from '../tensor/ops-lmhead';
import type { ParamSet } from '../tensor/params';
import type { Tape, Tensor } from '../tensor/tape';
import {
  type ForwardInput,
  type ForwardResult,
  forwardHidden,
  headLogits,
  type ModelHooks,
} from './transformer';

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
  /** Rows of the LM head's logits per chunk; default: what fits `headBudgetBytes` (ops-lmhead.ts). */
  headChunkRows?: number;
  /** Bytes of one chunk of logits [rows, V]; default LM_HEAD_BUDGET_BYTES (64 MiB). */
  headBudgetBytes?: number;
}

/**
 * The loss and the forward's results. `logits` does not exist in training (the head runs in chunks inside the
 * loss): reading it runs the head whole on the tape, [B, T', V], for callers that compare logits; on a
 * gradient tape read it before backward (the hidden states are freed as backward passes them).
 */
export interface LmLossResult<S> extends ForwardResult<S> {
  /** The mean token cross-entropy over the targets, a scalar tensor (× weight). */
  loss: Tensor<S>;
  /** The shifted targets [B·T'], T' = T + virtual. */
  targets: Int32Array;
}

/**
 * Forward + shift + cross-entropy: the loss every SFT-style pass minimises or reports. The head and the
 * cross-entropy run chunked over tokens (ops-lmhead.ts), so [B·T', V] logits are never made whole.
 */
export function causalLmLoss<S, I>(
  tp: Tape<S, I>,
  c: ModelConfig,
  ps: ParamSet<S, I>,
  input: LmLossInput<S, I>,
  hooks: ModelHooks<S, I> = {},
  opts: LmLossOptions = {},
): LmLossResult<S> {
  const { labels, ...fwd } = input;
  const { hidden, virtual } = forwardHidden(tp, c, ps, fwd, hooks, { checkpointing: opts.checkpointing });
  const Tt = input.T + virtual;
  const targets = shiftLabels(labels, input.B, input.T, virtual);
  const head = ps.get(modelTensors(c).head);
  const loss = lmHeadLoss(tp, hidden, head, targets, {
    weight: opts.weight,
    name: opts.name,
    chunkRows: opts.headChunkRows,
    budgetBytes: opts.headBudgetBytes,
  });
  let logits: Tensor<S> | null = null;
  return {
    loss,
    targets,
    virtual,
    hidden,
    get logits(): Tensor<S> {
      logits ??= tp.reshape(headLogits(tp, hidden, head), [input.B, Tt, c.vocabSize]);
      return logits;
    },
  };
}
