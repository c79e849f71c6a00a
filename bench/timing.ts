// Wall-clock timing for the benchmark page: warm-up, then the median of several runs. Each run must end
// in a full sync of its device (ours: ctx.sync(); TF.js: submit + onSubmittedWorkDone), so a run's time
// is the GPU work plus the same fixed submit/sync cost on both sides, and no readback on either.
import type { TimingOptions } from './types';

export interface Timing {
  medianMs: number;
  minMs: number;
  runs: number;
}

export async function measure(run: () => Promise<void>, o: TimingOptions): Promise<Timing> {
  for (let i = 0; i < o.warmup; i++) await run();
  const times: number[] = [];
  let spent = 0;
  while (times.length < o.maxRuns) {
    const t0 = performance.now();
    await run();
    const dt = performance.now() - t0;
    times.push(dt);
    spent += dt;
    if (times.length >= o.minRuns && spent >= o.budgetMs) break;
  }
  const sorted = [...times].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  const medianMs = sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
  return { medianMs, minMs: sorted[0], runs: times.length };
}

/** GFLOP/s from a flop count and a time in milliseconds. */
export const gflops = (flops: number, ms: number): number => flops / (ms * 1e6);

/**
 * Seconds per call of `run` for the Node matmul benches: one warm call, enough repetitions for ~0.5 s
 * (estimated from one timed call), best of three batches, each ended by `sync`.
 */
export async function bestSecondsPerCall(run: () => void, sync: () => Promise<void>): Promise<number> {
  run();
  await sync();
  let t0 = performance.now();
  run();
  await sync();
  const once = (performance.now() - t0) / 1000;
  const reps = Math.max(1, Math.min(50, Math.round(0.5 / Math.max(once, 1e-4))));
  let best = Number.POSITIVE_INFINITY;
  for (let trial = 0; trial < 3; trial++) {
    t0 = performance.now();
    for (let r = 0; r < reps; r++) run();
    await sync();
    best = Math.min(best, (performance.now() - t0) / 1000 / reps);
  }
  return best;
}
