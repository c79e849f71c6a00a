// The page's one GPU device and its frozen bases: every run (SFT, RL), the base model's generation and the
// exports use the same device, and each (model, base dtype) is held on it once, as a FrozenBase the runs
// borrow from (tensor/frozen-base.ts). A run takes a lease on the device when it starts and gives it back
// when it ends (the arena's reuse pool is trimmed when a run finishes training and when it ends, so runs of
// different shapes one after another do not grow it without bound). A lost device takes every run on it
// down (the scheduler fails them together, their last checkpoints kept); the next need (a new run, a run
// resumed from its checkpoint, generation) gets a fresh device and re-reads the base onto it, so the page
// trains on without a reload (scheduler-real.test.ts destroys the device mid-run and resumes).
import type { GpuRegion } from '../gpu/arena';
import type { GpuContext } from '../gpu/context';
import { GpuDeviceLostError } from '../gpu/errors';
import { checkpointBaseSource } from '../model/load';
import { FrozenBase } from '../tensor/frozen-base';
import { gpuBackend } from '../tensor/gpu-backend';
import type { BaseDtype } from '../tensor/weight-format';
import type { LoadedModel } from './model';
import type { BaseMemory, FromWorker } from './protocol';

export type SharedBase = FrozenBase<GpuRegion, GpuRegion>;

/** A run's hold on the shared device: the scheduler's RunDevice (destroy = give the hold back). */
export interface DeviceLease {
  readonly ctx: GpuContext;
  /** The device itself: runs whose leases share it fail together when it is lost. */
  readonly shared: GpuContext;
  destroy(): void;
  /** The run finished: the pooled buffers its steps left go back to the device. */
  finished(): void;
  /** The device's loss, when a run's failure came from one (the scheduler's RunDevice.lossBehind). */
  lossBehind(): Promise<Error | null>;
}

/**
 * How long a failure waits for the device to report itself lost: the report follows the failed read within
 * a few tasks; only failures wait, and a failure on a live device is shown this much later.
 */
const LOSS_GRACE_MS = 1000;

/** The device's loss as the GPU layer words it, or null if it is still alive after LOSS_GRACE_MS. */
async function lossOf(ctx: GpuContext): Promise<Error | null> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const alive = new Promise<null>((r) => {
    timer = setTimeout(() => r(null), LOSS_GRACE_MS);
  });
  const info = await Promise.race([ctx.device.lost, alive]);
  clearTimeout(timer);
  return info ? new GpuDeviceLostError(info.reason, info.message) : null;
}

/** The arena owner a base's allocations are counted under. */
export const baseOwner = (model: string, dtype: BaseDtype) => `base:${model}:${dtype}`;

export class SharedDevice {
  private ctx: Promise<GpuContext> | null = null;
  private readonly bases = new Map<string, { model: LoadedModel; dtype: BaseDtype; base: SharedBase }>();
  private holds = 0;
  /** The device each base lives on. */
  private readonly ctxOf = new WeakMap<SharedBase, GpuContext>();

  constructor(
    private readonly acquire: () => Promise<GpuContext>,
    private readonly post: (m: FromWorker) => void,
  ) {}

  /** The device, acquired on first use and again after a loss. */
  async device(): Promise<GpuContext> {
    const current = this.ctx ? await this.ctx.catch(() => null) : null;
    if (current && !current.lost) return current;
    if (current?.lost) this.dropBases();
    const next = this.acquire();
    this.ctx = next;
    next.catch(() => {
      if (this.ctx === next) this.ctx = null;
    });
    return next;
  }

  /** A run's hold on the device; destroy() gives it back and trims the reuse pool. */
  async lease(): Promise<DeviceLease> {
    const ctx = await this.device();
    this.holds++;
    let held = true;
    return {
      ctx,
      shared: ctx,
      finished: () => ctx.trimPool(),
      lossBehind: () => lossOf(ctx),
      destroy: () => {
        if (!held) return;
        held = false;
        this.holds--;
        ctx.trimPool();
        this.report();
      },
    };
  }

  /** Holds alive now (runs on the device). */
  get users(): number {
    return this.holds;
  }

  /** The frozen base of `model` in `dtype` on `ctx` (made on first use; one per model and dtype). */
  base(ctx: GpuContext, model: LoadedModel, dtype: BaseDtype): SharedBase {
    const key = baseOwner(model.name, dtype);
    const have = this.bases.get(key);
    if (have && have.model === model && this.ctxOf.get(have.base) === ctx) return have.base;
    // Another model under the same name (reloaded files), or a new device: the old base goes.
    if (have && have.base.users === 0) have.base.dispose();
    const be = gpuBackend(ctx);
    const base = new FrozenBase(be, checkpointBaseSource(model.config, model.reader, dtype), dtype, (f) =>
      ctx.arena.withOwner(key, f),
    );
    this.bases.set(key, { model, dtype, base });
    this.ctxOf.set(base, ctx);
    return base;
  }

  /** What each base holds on the device now, as the page's memory chart shows it (once, not per run). */
  baseMemory(): BaseMemory[] {
    const out: BaseMemory[] = [];
    for (const [key, b] of this.bases) {
      const ctx = this.ctxOf.get(b.base);
      const bytes = ctx && !ctx.lost ? ctx.arena.statsOf(key).currentTotal : 0;
      out.push({ model: b.model.name, dtype: b.dtype, bytes, users: b.base.users });
    }
    return out;
  }

  /** Posts the bases' bytes (after a run starts or ends, or generation loads the base). */
  report(): void {
    this.post({ type: 'baseMemory', bases: this.baseMemory() });
  }

  /**
   * Destroys the device as a driver reset would end it (GPUDevice.destroy(): the device reports itself lost),
   * for the dev build's forced loss (train.worker.ts's debugLoseDevice) and tests; the next need acquires
   * a new one.
   */
  async loseForTest(): Promise<void> {
    const ctx = this.ctx ? await this.ctx.catch(() => null) : null;
    ctx?.device.destroy();
  }

  private dropBases(): void {
    for (const b of this.bases.values()) b.base.dispose();
    this.bases.clear();
  }
}
