// CPU float64 twin of the matmul family (forward and backward), the reference the GPU kernels are tested
// against. Layouts and strides mean exactly what they mean in matmul.ts; the output is always dense.
import type { MatmulArgs } from './matmul';

/** The matmul's sizes and layouts (matmul.ts); the twin's output is always dense and unscaled. */
export type MatmulDims = Pick<
  MatmulArgs<unknown>,
  'M' | 'N' | 'K' | 'transA' | 'transB' | 'batch' | 'strideA' | 'strideB'
>;

interface Resolved {
  M: number;
  N: number;
  K: number;
  batch: number;
  /** Storage index of op(A)(b, m, k) and op(B)(b, k, n). */
  ia: (b: number, m: number, k: number) => number;
  ib: (b: number, k: number, n: number) => number;
}

function resolve(d: MatmulDims): Resolved {
  const { M, N, K } = d;
  const batch = d.batch ?? 1;
  const sA = d.strideA ?? M * K;
  const sB = d.strideB ?? K * N;
  const ia = d.transA
    ? (b: number, m: number, k: number) => b * sA + k * M + m
    : (b: number, m: number, k: number) => b * sA + m * K + k;
  const ib = d.transB
    ? (b: number, k: number, n: number) => b * sB + n * K + k
    : (b: number, k: number, n: number) => b * sB + k * N + n;
  return { M, N, K, batch, ia, ib };
}

/** Dense out [batch, M, N] = op(A) · op(B) per batch item. */
export function matmulRef(a: ArrayLike<number>, b: ArrayLike<number>, dims: MatmulDims): Float64Array {
  const { M, N, K, batch, ia, ib } = resolve(dims);
  const out = new Float64Array(batch * M * N);
  for (let t = 0; t < batch; t++)
    for (let m = 0; m < M; m++)
      for (let n = 0; n < N; n++) {
        let s = 0;
        for (let k = 0; k < K; k++) s += a[ia(t, m, k)] * b[ib(t, k, n)];
        out[(t * M + m) * N + n] = s;
      }
  return out;
}

/**
 * Gradients of L = Σ dOut ⊙ out with respect to the stored A and B (same layouts and lengths as `a` and
 * `b`). Where a stride shares storage between batch items (0 = broadcast), the gradients sum over them.
 */
export function matmulBackwardRef(
  a: ArrayLike<number>,
  b: ArrayLike<number>,
  dOut: ArrayLike<number>,
  dims: MatmulDims,
): { dA: Float64Array; dB: Float64Array } {
  const { M, N, K, batch, ia, ib } = resolve(dims);
  const dA = new Float64Array(a.length);
  const dB = new Float64Array(b.length);
  for (let t = 0; t < batch; t++)
    for (let m = 0; m < M; m++)
      for (let n = 0; n < N; n++) {
        const g = dOut[(t * M + m) * N + n];
        if (g === 0) continue;
        for (let k = 0; k < K; k++) {
          const i = ia(t, m, k);
          const j = ib(t, k, n);
          dA[i] += g * b[j];
          dB[j] += g * a[i];
        }
      }
  return { dA, dB };
}

/** The twin of matmul(): out[b] (+)= alpha·op(A)·op(B), out at strideOut (default dense). */
export function matmulTwin(p: MatmulArgs<Float64Array>): void {
  const r = matmulRef(p.a, p.b, p);
  const alpha = p.alpha ?? 1;
  const batch = p.batch ?? 1;
  const so = p.strideOut ?? p.M * p.N;
  for (let b = 0; b < batch; b++) {
    for (let i = 0; i < p.M * p.N; i++) {
      const o = b * so + i;
      p.out[o] = (p.accumulate ? p.out[o] : 0) + alpha * r[b * p.M * p.N + i];
    }
  }
}
