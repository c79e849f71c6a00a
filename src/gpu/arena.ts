// The buffer arena: owns every GPU allocation of one device and accounts its bytes exactly, by category,
// current and peak. Buffers are recycled by exact (aligned) size, because a training step allocates the
// same activation shapes every step. Sizes counted are the sizes of the real GPUBuffers handed out;
// buffers parked in the reuse pool are counted apart (`pooledBytes`), since they still hold device memory.
// Several runs share one device (and one frozen base): each allocation also carries an owner (a run's id,
// the shared base's), set around the code that allocates for it (`withOwner`), and each owner has a ledger
// of its own (current, peak, the breakdown at its peak), so a run's memory figures are its own.

import { GpuOutOfMemoryError } from './errors';

export const MEMORY_CATEGORIES = [
  'frozen',
  'trainable',
  'gradients',
  'optimizer',
  'activations',
  'workspace',
  'kvcache',
] as const;
export type MemoryCategory = (typeof MEMORY_CATEGORIES)[number];
export type ByCategory = Record<MemoryCategory, number>;

export const zeroByCategory = (): ByCategory => ({
  frozen: 0,
  trainable: 0,
  gradients: 0,
  optimizer: 0,
  activations: 0,
  workspace: 0,
  kvcache: 0,
});

/** One allocation. `bytes` is the GPUBuffer's size (requested size rounded up to 16 bytes). */
export interface GpuBuf {
  readonly buffer: GPUBuffer;
  readonly bytes: number;
  readonly category: MemoryCategory;
  readonly label: string;
  readonly id: number;
  /** The owner it was allocated for (`Arena.withOwner`); null: nobody in particular. */
  readonly owner: string | null;
}

/** A byte range of an allocation, e.g. one tensor inside a flat parameter buffer. `offset` must be a
 * multiple of the device's minStorageBufferOffsetAlignment (256) to be bound on its own. */
export interface GpuView {
  readonly base: GpuBuf;
  readonly offset: number;
  readonly bytes: number;
}

/** What kernels bind: a whole allocation or a view into one. */
export type GpuRegion = GpuBuf | GpuView;

export const isView = (r: GpuRegion): r is GpuView => 'base' in r;

export function viewOf(base: GpuBuf, offset: number, bytes: number): GpuView {
  if (offset % 256 !== 0)
    throw new Error(`view of "${base.label}" at offset ${offset}: not 256-byte aligned`);
  if (offset + bytes > base.bytes)
    throw new Error(`view of "${base.label}" [${offset}, ${offset + bytes}) passes its ${base.bytes} bytes`);
  return { base, offset, bytes };
}

/** The GPUBuffer, byte offset and byte size behind a region. */
export function regionParts(r: GpuRegion | GPUBuffer): { buffer: GPUBuffer; offset: number; size: number } {
  if ('base' in r) return { buffer: r.base.buffer, offset: r.offset, size: r.bytes };
  if ('buffer' in r) return { buffer: r.buffer, offset: 0, size: r.bytes };
  return { buffer: r, offset: 0, size: r.size };
}

export interface ArenaStats {
  current: ByCategory;
  peak: ByCategory;
  currentTotal: number;
  peakTotal: number;
  /** The breakdown at the moment the total peaked. */
  atPeak: ByCategory;
  pooledBytes: number;
  liveBuffers: number;
}

/** One owner's figures: what its own allocations hold now and at their peak. */
export interface OwnerStats {
  current: ByCategory;
  currentTotal: number;
  peakTotal: number;
  /** The owner's breakdown at the moment its own total peaked. */
  atPeak: ByCategory;
}

const newLedger = (): OwnerStats => ({
  current: zeroByCategory(),
  currentTotal: 0,
  peakTotal: 0,
  atPeak: zeroByCategory(),
});

const STORAGE_USAGE = GPUBufferUsageFlags();

function GPUBufferUsageFlags(): number {
  // GPUBufferUsage is a global in browsers and after Object.assign(globalThis, globals) in Node.
  const u = (globalThis as { GPUBufferUsage?: typeof GPUBufferUsage }).GPUBufferUsage;
  // Values are fixed by the spec; fall back to them so this module can load before the globals exist.
  const STORAGE = u?.STORAGE ?? 0x80;
  const COPY_SRC = u?.COPY_SRC ?? 0x04;
  const COPY_DST = u?.COPY_DST ?? 0x08;
  return STORAGE | COPY_SRC | COPY_DST;
}

export const alignBytes = (n: number): number => Math.max(16, Math.ceil(n / 16) * 16);

export class Arena {
  private nextId = 1;
  private readonly live = new Map<number, GpuBuf>();
  private readonly pool = new Map<number, GPUBuffer[]>();
  private pooled = 0;
  private current = zeroByCategory();
  private peak = zeroByCategory();
  private atPeak = zeroByCategory();
  private currentTotal = 0;
  private peakTotal = 0;
  private owner: string | null = null;
  private readonly ledgers = new Map<string, OwnerStats>();

  constructor(
    private readonly device: GPUDevice,
    private readonly maxBufferSize: number,
  ) {}

  /** Allocates (or reuses) a storage buffer of at least `bytes`, zero-filled only when fresh. */
  alloc(bytes: number, category: MemoryCategory, label: string): GpuBuf {
    const size = alignBytes(bytes);
    if (size > this.maxBufferSize) {
      throw new GpuOutOfMemoryError(
        label,
        size,
        `one buffer may hold at most ${this.maxBufferSize} bytes on this adapter`,
      );
    }
    let buffer = this.pool.get(size)?.pop();
    if (buffer) {
      this.pooled -= size;
      buffer.label = label;
    } else {
      try {
        buffer = this.device.createBuffer({ size, usage: STORAGE_USAGE, label });
      } catch (e) {
        throw new GpuOutOfMemoryError(label, size, e instanceof Error ? e.message : String(e));
      }
    }
    const buf: GpuBuf = { buffer, bytes: size, category, label, id: this.nextId++, owner: this.owner };
    this.live.set(buf.id, buf);
    this.current[category] += size;
    this.currentTotal += size;
    if (this.current[category] > this.peak[category]) this.peak[category] = this.current[category];
    if (this.currentTotal > this.peakTotal) {
      this.peakTotal = this.currentTotal;
      this.atPeak = { ...this.current };
    }
    if (buf.owner !== null) {
      const l = this.ledger(buf.owner);
      l.current[category] += size;
      l.currentTotal += size;
      if (l.currentTotal > l.peakTotal) {
        l.peakTotal = l.currentTotal;
        l.atPeak = { ...l.current };
      }
    }
    return buf;
  }

  private ledger(owner: string): OwnerStats {
    let l = this.ledgers.get(owner);
    if (!l) {
      l = newLedger();
      this.ledgers.set(owner, l);
    }
    return l;
  }

  /**
   * Runs `f` with its allocations counted for `owner` too (synchronous code only: an await inside would let
   * another owner's work allocate under this name). Nested calls restore the outer owner.
   */
  withOwner<T>(owner: string | null, f: () => T): T {
    const prev = this.owner;
    this.owner = owner;
    try {
      return f();
    } finally {
      this.owner = prev;
    }
  }

  /**
   * Counts allocations for `owner` until the returned function is called (an async step, e.g. an RL step's
   * rollouts and updates, while nothing else steps on the device); the function restores the owner before.
   */
  enter(owner: string | null): () => void {
    const prev = this.owner;
    this.owner = owner;
    let done = false;
    return () => {
      if (done) return;
      done = true;
      if (this.owner === owner) this.owner = prev;
    };
  }

  /** What `owner`'s allocations hold now and at their peak (zeros for an owner never seen). */
  statsOf(owner: string): OwnerStats {
    const l = this.ledgers.get(owner) ?? newLedger();
    return {
      current: { ...l.current },
      currentTotal: l.currentTotal,
      peakTotal: l.peakTotal,
      atPeak: { ...l.atPeak },
    };
  }

  /** Starts a new peak window for one owner from its current usage. */
  resetPeakOf(owner: string): void {
    const l = this.ledger(owner);
    l.peakTotal = l.currentTotal;
    l.atPeak = { ...l.current };
  }

  /** Forgets an owner that holds nothing any more (a run that ended), so ledgers do not pile up. */
  dropOwner(owner: string): void {
    if ((this.ledgers.get(owner)?.currentTotal ?? 0) === 0) this.ledgers.delete(owner);
  }

  /** Returns a buffer to the reuse pool. Freeing twice is a bug and throws. */
  free(buf: GpuBuf): void {
    if (!this.live.delete(buf.id)) throw new Error(`arena: buffer "${buf.label}" freed twice`);
    this.current[buf.category] -= buf.bytes;
    this.currentTotal -= buf.bytes;
    if (buf.owner !== null) {
      const l = this.ledger(buf.owner);
      l.current[buf.category] -= buf.bytes;
      l.currentTotal -= buf.bytes;
    }
    let list = this.pool.get(buf.bytes);
    if (!list) {
      list = [];
      this.pool.set(buf.bytes, list);
    }
    list.push(buf.buffer);
    this.pooled += buf.bytes;
  }

  /** Destroys pooled buffers, giving their memory back to the device. */
  trim(): void {
    for (const list of this.pool.values()) for (const b of list) b.destroy();
    this.pool.clear();
    this.pooled = 0;
  }

  /** Starts a new peak window (e.g. per run or per step) from the current usage. */
  resetPeak(): void {
    this.peak = { ...this.current };
    this.peakTotal = this.currentTotal;
    this.atPeak = { ...this.current };
  }

  stats(): ArenaStats {
    return {
      current: { ...this.current },
      peak: { ...this.peak },
      currentTotal: this.currentTotal,
      peakTotal: this.peakTotal,
      atPeak: { ...this.atPeak },
      pooledBytes: this.pooled,
      liveBuffers: this.live.size,
    };
  }

  /** Live buffers, for leak checks and the memory panel. */
  liveBuffers(): GpuBuf[] {
    return [...this.live.values()];
  }

  destroyAll(): void {
    for (const b of this.live.values()) b.buffer.destroy();
    this.live.clear();
    this.trim();
    this.current = zeroByCategory();
    this.currentTotal = 0;
    this.ledgers.clear();
  }
}
