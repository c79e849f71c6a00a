// The frozen model held once per device: every run (SFT, RL, generation) on the device borrows its frozen
// tensors from here instead of uploading its own copy, so N compared runs hold the base once. Tensors are
// uploaded on first use, one at a time from the source (read one tensor, upload it, drop the host copy: no
// whole-model f32 copy on the host), in the dtype the user chose (weight-format.ts), and counted per tensor:
// a tensor is freed when the last lease that uses it is given back, so a tensor only full fine-tuning would
// read (it trains its own f32 copy) is never uploaded as frozen at all. A tensor whose buffer would exceed
// the device's per-buffer limit is held in row parts (split-weight.ts); its readers find the parts.

import type { Backend } from './backend';
import type { SharedFrozen } from './params';
import { backendBufferLimit, freeFrozenSplit, readFrozen, uploadFrozenSplit } from './split-weight';
import type { BaseDtype, WeightFormat, WeightLayout } from './weight-format';

/** One base tensor as the source describes it: its dtype and layout on the device. */
export interface BaseTensorInfo {
  name: string;
  shape: readonly number[];
  dtype: BaseDtype;
  layout: WeightLayout;
}

/** Where a base's values come from: the checkpoint, read one tensor at a time when asked. */
export interface BaseSource {
  readonly tensors: readonly BaseTensorInfo[];
  /** One tensor's values (f32); the caller drops them once uploaded. */
  read(name: string): Promise<ArrayLike<number>>;
}

export interface FrozenBaseOptions {
  /**
   * The largest buffer the device allows (WebGPU's maxStorageBufferBindingSize, or maxBufferSize when
   * smaller): a tensor above it is uploaded in row parts. Default: the backend's `maxBufferBytes` when it
   * states one, else no limit.
   */
  maxBufferBytes?: number;
}

interface Held<S> {
  shape: readonly number[];
  store: S;
  format: WeightFormat<S> | null;
  refs: number;
}

export class FrozenBase<S, I> {
  private readonly infos = new Map<string, BaseTensorInfo>();
  private readonly held = new Map<string, Held<S>>();
  /** Uploads in flight, by name: two leases asking for one tensor at once upload it once. */
  private readonly pending = new Map<string, Promise<void>>();
  /** The last upload queued: the next starts when it is done. */
  private queue: Promise<void> = Promise.resolve();
  private leases = 0;
  private disposed = false;

  constructor(
    readonly be: Backend<S, I>,
    readonly source: BaseSource,
    /** The dtype the user chose (matrices take it; the source says per tensor). */
    readonly dtype: BaseDtype,
    /** Whose allocations the base's are, for an arena that counts per owner (see gpu/arena.ts). */
    private readonly withOwner: <T>(f: () => T) => T = (f) => f(),
    opts: FrozenBaseOptions = {},
  ) {
    for (const t of source.tensors) this.infos.set(t.name, t);
    this.maxBufferBytes = opts.maxBufferBytes ?? backendBufferLimit(be);
  }

  /** The per-buffer limit above which a tensor is held in row parts. */
  readonly maxBufferBytes: number;

  names(): string[] {
    return [...this.infos.keys()];
  }

  has(name: string): boolean {
    return this.infos.has(name);
  }

  info(name: string): BaseTensorInfo {
    const t = this.infos.get(name);
    if (!t) throw new Error(`no base tensor ${name}`);
    return t;
  }

  /** Leases alive now (runs and generators using the base). */
  get users(): number {
    return this.leases;
  }

  /** Tensors held on the device now. */
  heldNames(): string[] {
    return [...this.held.keys()];
  }

  /**
   * A lease on `names` (base tensors only): each is uploaded if not yet held (one at a time, its host copy
   * dropped before the next is read) and counted until the lease is released. The lease is what a
   * ParamSet's `{ base }` option takes.
   */
  async lease(names: Iterable<string>): Promise<SharedFrozen<S>> {
    if (this.disposed) throw new Error('the frozen base was disposed');
    const wanted = [...new Set(names)].filter((n) => this.infos.has(n));
    const counted: string[] = [];
    try {
      for (const name of wanted) {
        // Held again if another lease's release freed it between its upload and this count.
        while (!this.held.has(name)) await this.ensure(name);
        this.held.get(name)!.refs++;
        counted.push(name);
      }
    } catch (e) {
      this.drop(counted);
      throw e;
    }
    this.leases++;
    const set = new Set(counted);
    let released = false;
    return {
      has: (n) => set.has(n),
      get: (n) => {
        const h = set.has(n) ? this.held.get(n) : undefined;
        if (!h) throw new Error(`base tensor ${n} is not in this lease`);
        return { shape: h.shape, store: h.store, format: h.format };
      },
      release: () => {
        if (released) return;
        released = true;
        this.leases--;
        this.drop(counted);
      },
    };
  }

  private async ensure(name: string): Promise<void> {
    if (this.held.has(name)) return;
    let p = this.pending.get(name);
    if (!p) {
      // One upload at a time across every lease: never two tensors' host copies alive together.
      p = this.queue.then(async () => {
        if (this.held.has(name)) return;
        const info = this.info(name);
        let data: ArrayLike<number> | null = await this.source.read(name);
        const up = this.withOwner(() =>
          uploadFrozenSplit(this.be, { ...info, data }, this.maxBufferBytes, 'frozen'),
        );
        data = null;
        this.held.set(name, { shape: info.shape, store: up.store, format: up.format, refs: 0 });
      });
      this.queue = p.catch(() => undefined);
      const settled = p.finally(() => this.pending.delete(name));
      settled.catch(() => undefined);
      this.pending.set(name, p);
    }
    await p;
  }

  private drop(names: readonly string[]): void {
    for (const name of names) {
      const h = this.held.get(name);
      if (!h) continue;
      h.refs--;
      if (h.refs <= 0) {
        this.held.delete(name);
        freeFrozenSplit(this.be, h.store, h.format);
      }
    }
  }

  /** A tensor's values: from the device when held (dequantized), else read from the source. */
  async values(name: string): Promise<ArrayLike<number>> {
    const h = this.held.get(name);
    if (!h) return this.source.read(name);
    return readFrozen(
      this.be,
      h.store,
      h.format,
      h.shape.reduce((a, b) => a * b, 1),
    );
  }

  /** Frees everything held (a lost device, a model replaced); leases still out become empty. */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    for (const h of this.held.values()) {
      try {
        freeFrozenSplit(this.be, h.store, h.format);
      } catch {
        // A lost device cannot free buffers; its destruction frees them.
      }
    }
    this.held.clear();
  }
}
