// GPU-side timing for tuners (the matmul autotune; attention's tuner takes the same TimeSeconds): seconds
// per run of recorded work, from timestamp queries where the device has 'timestamp-query', else wall clock
// around ctx.sync(). The queries are written by two empty compute passes submitted just before and just
// after the work (the queue runs submits in order), so the figure excludes JavaScript recording time and
// the wait for the map; the engine's own pass (context.ts) is left as it is. This file touches the
// GPUDevice directly because the context has no hook for timestamp writes; it records nothing else.

import type { GpuContext } from './context';

/**
 * Seconds per call of `run` (which records dispatches through the context). `label` names what is timed
 * ('matmul/square/regblock'); real timers ignore it, test fakes answer by it.
 */
export type TimeSeconds = (run: () => void, label?: string) => Promise<number>;

export interface TimerOptions {
  /** Calls of `run` per timed batch (more on fast GPUs, so the work outweighs the submit). */
  reps: number;
  /** Timed batches; the best counts. */
  runs: number;
}

export interface GpuTimer {
  timeSeconds: TimeSeconds;
  /** True while timestamps are in use (false: no feature, or the device refused or returned nonsense). */
  readonly usesTimestamps: boolean;
  dispose(): void;
}

/** A begin/end pair of timestamp queries and the buffers that bring them back. */
class TimestampPair {
  private readonly querySet: GPUQuerySet;
  private readonly resolve: GPUBuffer;
  private readonly read: GPUBuffer;

  constructor(private readonly device: GPUDevice) {
    this.querySet = device.createQuerySet({ type: 'timestamp', count: 2, label: 'tune-timestamps' });
    this.resolve = device.createBuffer({
      size: 16,
      usage: GPUBufferUsage.QUERY_RESOLVE | GPUBufferUsage.COPY_SRC,
      label: 'tune-timestamps-resolve',
    });
    this.read = device.createBuffer({
      size: 16,
      usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST,
      label: 'tune-timestamps-read',
    });
  }

  /** Submits an empty pass whose start writes query `index` (and, for the last one, resolves both). */
  private mark(index: 0 | 1): void {
    const enc = this.device.createCommandEncoder({ label: `tune-mark-${index}` });
    const pass = enc.beginComputePass({
      label: `tune-mark-${index}`,
      timestampWrites: { querySet: this.querySet, beginningOfPassWriteIndex: index },
    });
    pass.end();
    if (index === 1) {
      enc.resolveQuerySet(this.querySet, 0, 2, this.resolve, 0);
      enc.copyBufferToBuffer(this.resolve, 0, this.read, 0, 16);
    }
    this.device.queue.submit([enc.finish()]);
  }

  /** GPU seconds between the marks around `work`, or null when the device gave no usable figure. */
  async measure(ctx: GpuContext, work: () => void): Promise<number | null> {
    ctx.flush();
    this.device.pushErrorScope('validation');
    this.mark(0);
    work();
    ctx.flush();
    this.mark(1);
    const err = await this.device.popErrorScope();
    await ctx.sync();
    if (err) return null;
    await this.read.mapAsync(GPUMapMode.READ);
    const [t0, t1] = new BigUint64Array(this.read.getMappedRange().slice(0));
    this.read.unmap();
    const seconds = Number(t1 - t0) / 1e9;
    // Browsers may zero or coarsen timestamps; a figure that is not positive is no figure.
    return seconds > 0 && Number.isFinite(seconds) ? seconds : null;
  }

  dispose(): void {
    this.querySet.destroy();
    this.resolve.destroy();
    this.read.destroy();
  }
}

/**
 * A timer for tuning on ctx: one warm-up call (it compiles the pipeline), then the best of `runs` batches
 * of `reps` calls, each timed by timestamps when available, else (or once they fail) by wall clock.
 */
export function createGpuTimer(ctx: GpuContext, o: TimerOptions): GpuTimer {
  let stamps: TimestampPair | null = null;
  if (ctx.features.timestampQuery) {
    try {
      stamps = new TimestampPair(ctx.device);
    } catch {
      stamps = null;
    }
  }
  const batch = () => {
    for (let i = 0; i < o.reps; i++) run();
  };
  let run: () => void = () => undefined;
  const timeSeconds: TimeSeconds = async (r) => {
    run = r;
    run();
    await ctx.sync();
    let best = Number.POSITIVE_INFINITY;
    for (let k = 0; k < o.runs; k++) {
      let s = stamps ? await stamps.measure(ctx, batch) : null;
      if (s === null) {
        if (stamps) {
          stamps.dispose();
          stamps = null;
        }
        const t0 = performance.now();
        batch();
        await ctx.sync();
        s = (performance.now() - t0) / 1000;
      }
      best = Math.min(best, s / o.reps);
    }
    return best;
  };
  return {
    timeSeconds,
    get usesTimestamps() {
      return stamps !== null;
    },
    dispose() {
      stamps?.dispose();
      stamps = null;
    },
  };
}
