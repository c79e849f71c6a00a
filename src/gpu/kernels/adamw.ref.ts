// CPU float64 twin of adamw.ts, written as torch.optim.AdamW's single-tensor step so tests can also check
// it against hand-computed torch values.

export interface AdamwHyper {
  lr: number;
  beta1: number;
  beta2: number;
  eps: number;
  weightDecay: number;
  /** The step number after incrementing, starting at 1. */
  step: number;
  /** Multiplies every gradient first (the clip factor); default 1. */
  gradScale?: number;
}

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
