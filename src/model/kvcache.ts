// The KV cache for generation: per layer, K and V storage [B, capacity, Hkv·D] in the arena's 'kvcache'
// category (on the CPU twin, plain float64 arrays of the same layout), how many rows are filled, and each batch
// item's first valid row (left padding, so prompts of different lengths end together and decode in step). It
// owns the rows' positions (row − first valid row, so RoPE and learned positions start at 0 at each item's first
// real token) and the copy of a forward call's new keys/values into the cache, or (`slots`) views of the rows
// they go to, so the key/value projections write there directly and RoPE rotates the keys in place. The
// transformer's cache path (transformer.ts) calls it; generate.ts creates and disposes it.

import type { ModelConfig } from '../formats/model-config';
import type { Backend } from '../tensor/backend';
import { type Tape, Tensor } from '../tensor/tape';

export interface KvCacheOptions {
  /** Batch items. */
  B: number;
  /** Rows per item: longest prompt (+ virtual tokens) + new tokens fed back. */
  capacity: number;
  /** First valid row per item (its left padding), default all 0. */
  start?: ArrayLike<number>;
  /** Added to every position (e.g. a method whose real tokens start after n prefix positions). */
  positionOffset?: number;
}

export class KvCache<S, I> {
  readonly B: number;
  readonly capacity: number;
  readonly layers: number;
  /** Hkv·D: the width of one cached row. */
  readonly width: number;
  /** First valid row of each item. */
  readonly start: Int32Array;
  readonly positionOffset: number;
  /** Rows filled, the same for every item. */
  length = 0;
  private readonly k: Tensor<S>[] = [];
  private readonly v: Tensor<S>[] = [];
  private readonly startDev: I | null;
  private disposed = false;

  constructor(
    readonly be: Backend<S, I>,
    config: ModelConfig,
    opts: KvCacheOptions,
  ) {
    const { B, capacity } = opts;
    if (!Number.isInteger(B) || B < 1)
      throw new Error(`KV cache: batch size ${B} must be a positive integer`);
    if (!Number.isInteger(capacity) || capacity < 1)
      throw new Error(`KV cache: capacity ${capacity} must be a positive integer`);
    this.B = B;
    this.capacity = capacity;
    this.layers = config.numLayers;
    this.width = config.numKvHeads * config.headDim;
    this.positionOffset = opts.positionOffset ?? 0;
    this.start = Int32Array.from(opts.start ?? new Array<number>(B).fill(0));
    if (this.start.length !== B) throw new Error(`KV cache: ${this.start.length} start rows for ${B} items`);
    for (const [b, s] of this.start.entries())
      if (!Number.isInteger(s) || s < 0 || s >= capacity)
        throw new Error(`KV cache: item ${b} starts at row ${s}, outside its ${capacity} rows`);
    const n = B * capacity * this.width;
    for (let i = 0; i < this.layers; i++) {
      const shape = [B, capacity, this.width];
      this.k.push(new Tensor<S>(shape, be.alloc(n, 'kvcache', `kvcache.${i}.k`), false, `kvcache.${i}.k`));
      this.v.push(new Tensor<S>(shape, be.alloc(n, 'kvcache', `kvcache.${i}.v`), false, `kvcache.${i}.v`));
    }
    // Unpadded batches take the kernel without the per-item start (today's dense path).
    this.startDev = this.start.some((s) => s > 0) ? be.uploadInt(this.start, 'kvcache.start') : null;
  }

  /** Bytes of K and V storage: 2 · layers · B · capacity · Hkv·D · 4 on the GPU. */
  get bytes(): number {
    return 2 * this.layers * this.B * this.capacity * this.width * 4;
  }

  /** Each item's first valid key for attention, or null when no item is padded. */
  get kvStart(): I | null {
    return this.startDev;
  }

  /** Positions of the next T rows [length, length+T) of every item, [B·T]; padding rows get 0. */
  positions(T: number): Int32Array {
    const out = new Int32Array(this.B * T);
    for (let b = 0; b < this.B; b++)
      for (let t = 0; t < T; t++)
        out[b * T + t] = Math.max(0, this.length + t - this.start[b]) + this.positionOffset;
    return out;
  }

  /** Checks that T more rows fit, before a forward call writes them. */
  reserve(T: number): void {
    this.assertLive();
    if (this.length + T > this.capacity)
      throw new Error(
        `KV cache: ${this.length} rows filled + ${T} new exceed its capacity of ${this.capacity}`,
      );
  }

  /**
   * Writes this call's keys and values of layer i, each [B·T, Hkv·D], into rows [length, length+T), and returns
   * the layer's whole K and V (attend over the first length+T rows at batch stride `capacity`). Does not
   * advance `length`: the forward call does that once, after its last layer.
   */
  write(tp: Tape<S, I>, i: number, k: Tensor<S>, v: Tensor<S>, T: number): { k: Tensor<S>; v: Tensor<S> } {
    this.assertLive();
    const w = this.width;
    if (k.size !== this.B * T * w || v.size !== k.size)
      throw new Error(`KV cache: layer ${i} k/v [${k.shape}] are not [${this.B}·${T}, ${w}]`);
    // One strided copy per tensor: each item's T new rows are contiguous in the source and in the cache.
    for (const [src, dst] of [
      [k, this.k[i]],
      [v, this.v[i]],
    ] as const)
      tp.be.copy2d({
        out: dst.store,
        x: src.store,
        rows: this.B,
        cols: T * w,
        srcStride: T * w,
        srcOffset: 0,
        dstStride: this.capacity * w,
        dstOffset: this.length * w,
      });
    return { k: this.k[i], v: this.v[i] };
  }

  /**
   * Views of layer i's K and V from row `length` on: this call's T rows of item b lie at b·strideB + [0, T·w).
   * A projection writes its output there (batched, output stride strideB) instead of write() copying it. Null
   * when the row is not a view boundary of the backend (GPU views start on 256 bytes); then use write().
   */
  slots(i: number, T: number): { k: S; v: S; strideB: number } | null {
    this.assertLive();
    const w = this.width;
    const off = this.length * w;
    if (off % this.be.viewAlign !== 0) return null;
    const strideB = this.capacity * w;
    const n = (this.B - 1) * strideB + T * w;
    return { k: this.be.view(this.k[i].store, off, n), v: this.be.view(this.v[i].store, off, n), strideB };
  }

  /** Layer i's whole K and V [B, capacity, Hkv·D] (attention reads the first length + T rows). */
  layer(i: number): { k: Tensor<S>; v: Tensor<S> } {
    this.assertLive();
    return { k: this.k[i], v: this.v[i] };
  }

  /** Marks T more rows filled (after every layer has written them). */
  advance(T: number): void {
    this.reserve(T);
    this.length += T;
  }

  /** Frees the K/V storage (the arena's 'kvcache' bytes drop by `bytes`). Safe to call twice. */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    for (const t of [...this.k, ...this.v]) this.be.free(t.store);
    if (this.startDev) this.be.freeInt(this.startDev);
    this.k.length = 0;
    this.v.length = 0;
  }

  private assertLive(): void {
    if (this.disposed) throw new Error('KV cache: used after dispose');
  }
}
