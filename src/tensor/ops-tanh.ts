// The differentiable tanh op (prefix tuning's reparametrisation MLP, PEFT's PrefixEncoder). Its backward
// reads the forward's output (1 − y²), so nothing beyond y is kept.

import { elementwise } from './ops-elementwise';
import type { Tape, Tensor } from './tape';

/** y = tanh(x), elementwise. */
export function tanh<S, I>(tp: Tape<S, I>, x: Tensor<S>, name: string): Tensor<S> {
  const n = x.size;
  return elementwise(
    tp,
    x,
    name,
    (y) => tp.be.tanh({ out: y.store, x: x.store, n }),
    (dx, dOut, accumulate, y) => tp.be.tanhBackward({ dx, dOut, y: y.store, n, accumulate }),
  );
}
