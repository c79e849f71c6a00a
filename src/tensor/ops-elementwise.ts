// The shape every one-input elementwise op on the tape shares (GELU, tanh, the standalone activations,
// scale, dropout): y has x's shape and needs a gradient when x does; the forward writes y now, and the
// recorded backward writes (or accumulates into) x's gradient from dy. Each op supplies only its two
// primitive calls, so the gradient bookkeeping is written once.

import type { Tape, Tensor } from './tape';

/**
 * y = f(x). `forward(y)` writes y from x; `backward(dx, dy, accumulate, y)` writes dx (adding to it when
 * `accumulate`), called only when y received a gradient.
 */
export function elementwise<S, I>(
  tp: Tape<S, I>,
  x: Tensor<S>,
  name: string,
  forward: (y: Tensor<S>) => void,
  backward: (dx: S, dy: S, accumulate: boolean, y: Tensor<S>) => void,
): Tensor<S> {
  const y = tp.tensor(x.shape, tp.needsGrad(x), name);
  forward(y);
  if (y.requiresGrad) {
    tp.record(name, () => {
      const dy = tp.gradOf(y);
      if (!dy) return;
      const t = tp.gradTarget(x);
      backward(t.buf, dy, t.accumulate, y);
      tp.wrote(x);
    });
  }
  return y;
}
