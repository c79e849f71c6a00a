// CPU float64 twin of adamw.ts, written as torch.optim.AdamW's single-tensor step so tests can also check
// it against hand-computed torch values.
import type { AdamwArgs } from './adamw';
import { putInto } from './common';

/** AdamW's hyperparameters as the kernel takes them, with the gradient scale as a number. */
export type AdamwHyper = Omit<AdamwArgs<unknown>, 'params' | 'grads' | 'm' | 'v' | 'n' | 'gradScale'> & {
  /** Multiplies every gradient first (the clip factor); default 1. */
  gradScale?: number;
};

/** One AdamW step; returns new arrays and leaves the inputs untouched. */
export function adamwRef(
  params: ArrayLike<number>,
  grads: ArrayLike<number>,
  m: ArrayLike<number>,
  v: ArrayLike<number>,
  hyper: AdamwHyper,
): { params: Float64Array; m: Float64Array; v: Float64Array } {
  const { lr, beta1, beta2, eps, weightDecay, step } = hyper;
  const gs = hyper.gradScale ?? 1;
  const n = params.length;
  const outP = new Float64Array(n);
  const outM = new Float64Array(n);
  const outV = new Float64Array(n);
  const bc1 = 1 - beta1 ** step;
  const bc2 = 1 - beta2 ** step;
  for (let i = 0; i < n; i++) {
    const g = grads[i] * gs;
    const p = params[i] * (1 - lr * weightDecay);
    const mi = beta1 * m[i] + (1 - beta1) * g;
    const vi = beta2 * v[i] + (1 - beta2) * g * g;
    outM[i] = mi;
    outV[i] = vi;
    outP[i] = p - ((lr / bc1) * mi) / (Math.sqrt(vi) / Math.sqrt(bc2) + eps);
  }
  return { params: outP, m: outM, v: outV };
}

/** The twin of adamw(): updates params, m and v in place (gradScale is read from its first element). */
export function adamwTwin(p: AdamwArgs<Float64Array>): void {
  const r = adamwRef(
    p.params.subarray(0, p.n),
    p.grads.subarray(0, p.n),
    p.m.subarray(0, p.n),
    p.v.subarray(0, p.n),
    {
      lr: p.lr,
      beta1: p.beta1,
      beta2: p.beta2,
      eps: p.eps,
      weightDecay: p.weightDecay,
      step: p.step,
      gradScale: p.gradScale ? p.gradScale[0] : 1,
    },
  );
  putInto(p.params, r.params);
  putInto(p.m, r.m);
  putInto(p.v, r.v);
}
