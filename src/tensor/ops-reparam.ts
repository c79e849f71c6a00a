// Differentiable ops the reparametrised methods need beyond ops.ts: the Kronecker product (LoKr's
// ΔW = s·(w1 ⊗ w2)) and division of a vector by a constant one (DoRA's m / ‖W + sBA‖ with the norm
// detached). DoRA's base bias after its rescaling is ops-peft.ts's addBias. Same conventions as ops.ts:
// shapes checked here, gradients only where needed.

import type { Tape, Tensor } from './tape';

function check(cond: boolean, msg: () => string): void {
  if (!cond) throw new Error(msg());
}

/** alpha·(a ⊗ b) for a [a0, a1], b [b0, b1]: [a0·b0, a1·b1], as torch.kron. */
export function kron<S, I>(
  tp: Tape<S, I>,
  a: Tensor<S>,
  b: Tensor<S>,
  alpha: number,
  name: string,
): Tensor<S> {
  check(
    a.shape.length === 2 && b.shape.length === 2,
    () => `${name}: kron needs two matrices, got [${a.shape}] and [${b.shape}]`,
  );
  const [a0, a1] = a.shape;
  const [b0, b1] = b.shape;
  const dims = { a0, a1, b0, b1, alpha };
  const y = tp.tensor([a0 * b0, a1 * b1], tp.needsGrad(a, b), name);
  tp.be.kron({ out: y.store, a: a.store, b: b.store, ...dims });
  if (y.requiresGrad) {
    tp.record(name, () => {
      const dy = tp.gradOf(y);
      if (!dy) return;
      const da = a.requiresGrad ? tp.gradTarget(a) : null;
      const db = b.requiresGrad ? tp.gradTarget(b) : null;
      tp.be.kronBackward({
        da: da?.buf ?? null,
        db: db?.buf ?? null,
        dOut: dy,
        a: a.store,
        b: b.store,
        ...dims,
        accumulateDa: da?.accumulate ?? false,
        accumulateDb: db?.accumulate ?? false,
      });
      if (da) tp.wrote(a);
      if (db) tp.wrote(b);
    });
  }
  return y;
}

/** x / den elementwise, den a constant (no gradient flows into it): dx = dy / den. */
export function divConst<S, I>(tp: Tape<S, I>, x: Tensor<S>, den: Tensor<S>, name: string): Tensor<S> {
  check(x.size === den.size, () => `${name}: dividing ${x.size} values by ${den.size}`);
  check(!den.requiresGrad, () => `${name}: the divisor ${den.name} must be detached (no gradient)`);
  const n = x.size;
  const y = tp.tensor(x.shape, tp.needsGrad(x), name);
  tp.be.scaleLines({ out: y.store, x: x.store, rows: 1, cols: n, perRow: false, num: null, den: den.store });
  if (y.requiresGrad) {
    tp.record(name, () => {
      const dy = tp.gradOf(y);
      if (!dy) return;
      tp.writeGrad(x, (dst) =>
        tp.be.scaleLines({ out: dst, x: dy, rows: 1, cols: n, perRow: false, num: null, den: den.store }),
      );
    });
  }
  return y;
}
