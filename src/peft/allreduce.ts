// Communication volume of a run: the bytes one data-parallel step would all-reduce, i.e. the gradients of
// its trainable tensors as float32 in their compact form. Sparse and row fine-tuning send their values
// only: their indices are fixed at planning, identical on every worker, and never change, so they never
// travel. Every method's gradients are exactly its trainable tensors, so the figure is the trainable count
// times four bytes; it is stated here once, beside `count`, so plan, the comparison table, the CLI and the
// bench all report the same number.

import type { ModelConfig } from '../formats/model-config';
import type { PeftMethod } from './types';

/** Bytes per gradient element (float32, as the optimizer holds them). */
export const GRAD_BYTES = 4;

/** All-reduce bytes per step of a run with this many trainable parameters. */
export const allreduceBytesOf = (trainable: number): number => GRAD_BYTES * trainable;

/** All-reduce bytes per data-parallel step of a method with these options on this model. */
export function allreduceBytes<O>(method: PeftMethod<O>, o: O, c: ModelConfig): number {
  return allreduceBytesOf(method.count(o, c));
}
