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
