// Differentiable ops that do in one dispatch what the plain ops do in two, for the training step's
// dispatch count (issue 12's lean step): RoPE of queries and keys together (the kernel's `pair`), and a
// projection with its residual folded in (y = x + a·W (+ b) as one matmul-multi job with an addend, so no
// separate add). Their gradients are exactly the plain ops': the same primitives, fewer calls.

import type { RopeArgs } from '../gpu/kernels/rope';
import type { Tape, Tensor } from './tape';
import { dtypeOf } from './weight-format';

function check(cond: boolean, msg: () => string): void {
  if (!cond) throw new Error(msg());
}

export type RopePairDims<S, I> = Omit<RopeArgs<S, I>, 'out' | 'x' | 'inverse' | 'pair' | 'H'>;

/**
 * Rotary embedding of q [B, T, Hq·D] and k [B, T, Hkv·D] at the same positions, one dispatch forward and,
 * where both need gradients that are fresh, one backward (the inverse rotation of both).
 */
export function ropePair<S, I>(
  tp: Tape<S, I>,
  q: Tensor<S>,
  k: Tensor<S>,
  dims: RopePairDims<S, I>,
  Hq: number,
  Hkv: number,
  names: [string, string],
): [Tensor<S>, Tensor<S>] {
  const { B, T, D } = dims;
  check(q.size === B * T * Hq * D, () => `${names[0]}: [${q.shape}] is not B·T·H·D`);
  check(k.size === B * T * Hkv * D, () => `${names[1]}: [${k.shape}] is not B·T·Hkv·D`);
  const qr = tp.tensor(q.shape, tp.needsGrad(q), names[0]);
  const kr = tp.tensor(k.shape, tp.needsGrad(k), names[1]);
  const d = dims;
  tp.be.rope({ ...d, out: qr.store, x: q.store, H: Hq, pair: { out: kr.store, x: k.store, H: Hkv } });
  if (qr.requiresGrad || kr.requiresGrad) {
    tp.record(`${names[0]}+k`, () => {
      const dq = qr.requiresGrad ? tp.gradOf(qr) : null;
      const dk = kr.requiresGrad ? tp.gradOf(kr) : null;
      const fresh = (t: Tensor<S>) => !tp.gradTarget(t).accumulate;
      if (dq && dk && fresh(q) && fresh(k)) {
        tp.be.rope({
          ...d,
          out: tp.gradTarget(q).buf,
          x: dq,
          H: Hq,
          inverse: true,
          pair: { out: tp.gradTarget(k).buf, x: dk, H: Hkv },
        });
        tp.wrote(q);
        tp.wrote(k);
        return;
      }
      if (dq) tp.writeGrad(q, (g) => tp.be.rope({ ...d, out: g, x: dq, H: Hq, inverse: true }));
      if (dk) tp.writeGrad(k, (g) => tp.be.rope({ ...d, out: g, x: dk, H: Hkv, inverse: true }));
    });
  }
  return [qr, kr];
}

/**
 * y = x + a·W (+ b): a linear layer whose output lands on the residual x in the same dispatch. W as in
 * op.linear ('in_out' [in, out] or 'out_in' [out, in], any stored format when frozen). x's gradient is y's,
 * handed on without a copy; a's, W's and b's are the linear's.
 */
export function linearResidual<S, I>(
  tp: Tape<S, I>,
  x: Tensor<S>,
  a: Tensor<S>,
  w: Tensor<S>,
  b: Tensor<S> | null,
  layout: 'in_out' | 'out_in',
  name: string,
): Tensor<S> {
  const inF = a.shape[a.shape.length - 1];
  const [w0, w1] = w.shape;
  const outF = layout === 'in_out' ? w1 : w0;
  check(
    (layout === 'in_out' ? w0 : w1) === inF,
    () => `${name}: input has ${inF} features, weight ${w.name} is [${w.shape}] (${layout})`,
  );
  check(
    !(w.format && w.requiresGrad),
    () => `${name}: ${w.name} is stored as ${dtypeOf(w.format)} (a frozen base weight) and cannot be trained`,
  );
  const N = a.size / inF;
  check(x.size === N * outF, () => `${name}: residual [${x.shape}] for ${N} rows of ${outF}`);
  const y = tp.tensor(x.shape, tp.needsGrad(x, a, w, b), name);
  const transB = layout === 'out_in';
  tp.be.matmulMulti({
    jobs: [
      {
        out: y.store,
        M: N,
        N: outF,
        addend: x.store,
        bias: b ? b.store : null,
        terms: [{ a: a.store, b: w.store, K: inF, transB, bFormat: w.format }],
      },
    ],
  });
  if (!y.requiresGrad) return y;
  tp.record(name, () => {
    const dy = tp.gradOf(y);
    if (!dy) return;
    if (a.requiresGrad) {
      const t = tp.gradTarget(a);
      tp.be.matmul({
        out: t.buf,
        a: dy,
        b: w.store,
        bFormat: w.format,
        M: N,
        N: inF,
        K: outF,
        transB: !transB,
        accumulate: t.accumulate,
      });
      tp.wrote(a);
    }
    if (w.requiresGrad) {
      const t = tp.gradTarget(w);
      tp.be.matmul(
        layout === 'in_out'
          ? { out: t.buf, a: a.store, b: dy, M: inF, N: outF, K: N, transA: true, accumulate: t.accumulate }
          : { out: t.buf, a: dy, b: a.store, M: outF, N: inF, K: N, transA: true, accumulate: t.accumulate },
      );
      tp.wrote(w);
    }
    if (b?.requiresGrad) {
      const t = tp.gradTarget(b);
      tp.be.biasGrad({ dBias: t.buf, dOut: dy, rows: N, cols: outF, accumulate: t.accumulate });
      tp.wrote(b);
    }
    // Last: x takes dy's store itself (Tape.routeGrad), after everything above has read it.
    tp.routeGrad(y, [x.requiresGrad ? x : null]);
  });
  return y;
}
