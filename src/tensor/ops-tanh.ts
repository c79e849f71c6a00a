// The differentiable tanh op (prefix tuning's reparametrisation MLP, PEFT's PrefixEncoder). Its backward
// reads the forward's output (1 − y²), so nothing beyond y is kept.

import type { Tape, Tensor } from './tape';

/** y = tanh(x), elementwise. */
export function tanh<S, I>(tp: Tape<S, I>, x: Tensor<S>, name: string): Tensor<S> {
  const y = tp.tensor(x.shape, tp.needsGrad(x), name);
  tp.be.tanh({ out: y.store, x: x.store, n: x.size });
  if (y.requiresGrad) {
    tp.record(name, () => {
      const dy = tp.gradOf(y);
      if (!dy) return;
      const t = tp.gradTarget(x);
      tp.be.tanhBackward({ dx: t.buf, dOut: dy, y: y.store, n: x.size, accumulate: t.accumulate });
      tp.wrote(x);
    });
  }
  return y;
}
