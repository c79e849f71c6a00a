// The matmul queue (matmul-queue.ts) through the GPU backend: a sequence with read-after-write,
// write-after-read and write-after-write hazards and sums into one output gives what the CPU twin gives op
// by op, in the dispatches its levels predict; with grouping off every matmul is its own dispatch.
import { describe, expect, it } from 'vitest';
import { testGpu } from '../../test/helpers/gpu';
import { expectClose, randn } from '../../test/helpers/numeric';
import type { Backend } from './backend';
import { cpuBackend } from './cpu-backend';
import { gpuBackend } from './gpu-backend';

const [M, K, N] = [70, 37, 33];

/** Runs the sequence on a backend; returns y1, y2, z, g as read back. */
async function sequence<S, I>(be: Backend<S, I>): Promise<Float64Array[]> {
  const up = (n: number, seed: number, label: string) => be.upload(randn(n, seed), 'workspace', label);
  const x = up(M * K, 1, 'x');
  const w = [2, 3, 4, 5, 6, 7].map((s) => up(N * K, s, `w${s}`));
  const w3 = up(N * N, 8, 'w3');
  const w6 = up(N * N, 9, 'w6');
  const [y1, y2, z, g] = ['y1', 'y2', 'z', 'g'].map((l) => be.alloc(M * N, 'workspace', l));
  const xw = (out: S, wi: S, accumulate = false, alpha = 1) =>
    be.matmul({ out, a: x, b: wi, M, N, K, transB: true, accumulate, alpha });
  xw(y1, w[0]); // A, level 1
  xw(y2, w[1]); // B, level 1
  be.matmul({ out: z, a: y1, b: w3, M, N, K: N, transB: true }); // C: reads y1 → level 2
  xw(g, w[2]); // D, level 1
  xw(g, w[3], true, 0.5); // E: adds to D's output → a term of D
  be.matmul({ out: g, a: y1, b: w6, M, N, K: N, transB: true, accumulate: true }); // F: reads y1 → level 2
  xw(y1, w[4]); // H: overwrites y1, which C and F read → level 3, alone: a plain matmul
  const out = await Promise.all([y1, y2, z, g].map((s) => be.read(s, M * N)));
  for (const s of [x, ...w, w3, w6, y1, y2, z, g]) be.free(s);
  return out;
}

describe('the matmul queue', () => {
  it('keeps every hazard and sums into one output, in the dispatches its levels predict', async () => {
    const ctx = await testGpu({ allFeatures: true });
    const want = await sequence(cpuBackend());
    for (const [groupMatmuls, dispatches] of [
      [true, 3],
      [false, 7],
    ] as const) {
      const before = ctx.counters().dispatches;
      const got = await sequence(gpuBackend(ctx, { groupMatmuls }));
      expect(ctx.counters().dispatches - before, `grouping ${groupMatmuls}`).toBe(dispatches);
      for (const [i, name] of ['y1', 'y2', 'z', 'g'].entries())
        expectClose(got[i], want[i], 1e-4, 1e-4, `${name} (grouping ${groupMatmuls})`);
    }
  });
});
