// CPU float64 twin of matmul-multi.ts: every job computed in turn from the matmul twin (matmul.ref.ts).
// Jobs are independent by contract, so their order does not matter.

import { matmulRef } from './matmul.ref';
import type { MatmulMultiArgs } from './matmul-multi';

export function matmulMultiRef(p: MatmulMultiArgs<Float64Array>): void {
  for (const job of p.jobs) {
    const { M, N } = job;
    const sum = new Float64Array(M * N);
    for (const t of job.terms) {
      const r = matmulRef(t.a, t.b, { M, N, K: t.K, transA: t.transA, transB: t.transB });
      const alpha = t.alpha ?? 1;
      for (let i = 0; i < M * N; i++) sum[i] += alpha * r[i];
    }
    for (let i = 0; i < M * N; i++) {
      let v = sum[i];
      if (job.accumulate) v += job.out[i];
      if (job.addend) v += job.addend[i];
      if (job.bias) v += job.bias[i % N];
      job.out[i] = v;
    }
  }
}
