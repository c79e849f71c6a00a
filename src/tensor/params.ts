// Parameters of a model (and of whatever a fine-tuning method adds): frozen tensors in buffers of their
// own, trainable ones packed into one flat buffer with gradients and AdamW moments in flat buffers of the
// same layout, so the optimizer is one dispatch and the arena shows exactly what training adds. Nothing
// is allocated for a frozen tensor's gradient or optimizer state. A frozen tensor may be held in a 16-bit or
// quantized dtype (weight-format.ts), and a ParamSet may borrow its frozen tensors from a shared base
// (frozen-base.ts), so several runs on one device hold the frozen model once. Trainable tensors are always
// the set's own f32 values.

import type { MemoryCategory } from '../gpu/arena';
import { formatBytes } from '../gpu/errors';
import type { Backend } from './backend';
import { readFrozen, splitOf } from './split-weight';
import { Tensor } from './tape';
import type { BaseDtype, WeightFormat, WeightLayout } from './weight-format';

export interface ParamSpec {
  name: string;
  shape: readonly number[];
  trainable: boolean;
  /**
   * The values; null: not read. The meter (memory prediction from config.json alone) reads no values and
   * builds no host array for them; on a real backend null means zeros (values written later, e.g. a
   * trainable base tensor streamed in from the checkpoint, or a shared base's tensor).
   */
  data: ArrayLike<number> | null;
  /** Storage of a frozen tensor (default f32). A trainable tensor is always f32: anything else is refused. */
  dtype?: BaseDtype;
  /** Which axis of a frozen matrix is the output channel (int8's per-channel scales); default out_in. */
  layout?: WeightLayout;
}

/** A spec's values, for callers that need them (tests, exports); a valueless spec (a plan's) is refused by name. */
export function valuesOf(s: ParamSpec): ArrayLike<number> {
  if (s.data === null) throw new Error(`parameter ${s.name}: no values were read (a plan's spec)`);
  return s.data;
}

/** n zeros without a host array of n (reads of any index give 0): what a null spec stands for. */
export function zerosOf(n: number): ArrayLike<number> {
  return new Proxy({ length: n } as ArrayLike<number>, {
    get: (t, k) => (k === 'length' ? t.length : typeof k === 'string' && /^\d+$/.test(k) ? 0 : undefined),
  });
}

/**
 * Uploads one frozen tensor in its dtype: f32 through be.upload (or alloc+zero for null data), any other
 * dtype through the backend's uploadWeight. Returns the store and its format (null: plain f32).
 */
export function uploadFrozen<S, I>(
  be: Backend<S, I>,
  spec: Pick<ParamSpec, 'name' | 'shape' | 'data' | 'dtype' | 'layout'>,
  category: MemoryCategory = 'frozen',
): { store: S; format: WeightFormat<S> | null } {
  const n = spec.shape.reduce((a, b) => a * b, 1);
  const dtype = spec.dtype ?? 'f32';
  if (dtype === 'f32') {
    if (spec.data) return { store: be.upload(spec.data, category, spec.name), format: null };
    const store = be.alloc(n, category, spec.name);
    be.zero(store, n);
    return { store, format: null };
  }
  // The meter reads only the length: a null spec costs it no host array.
  const data = spec.data ?? zerosOf(n);
  return be.uploadWeight(data, spec.shape, dtype, spec.layout ?? 'out_in', category, spec.name);
}

/** Frees what uploadFrozen made. */
export function freeFrozen<S, I>(be: Backend<S, I>, store: S, format: WeightFormat<S> | null): void {
  if (format === null) be.free(store);
  else be.freeWeight(store, format);
}

/**
 * Frozen tensors a ParamSet borrows instead of uploading its own (a lease on a shared FrozenBase): the set
 * wraps their stores in tensors of its own and gives the lease back once, when it is disposed.
 */
export interface SharedFrozen<S> {
  has(name: string): boolean;
  /** The shared tensor's storage (its shape must match the spec's). */
  get(name: string): { shape: readonly number[]; store: S; format: WeightFormat<S> | null };
  release(): void;
}

export interface ParamSetOptions<S> {
  /** Frozen tensors to borrow from a shared base (by name); the rest are uploaded as usual. */
  base?: SharedFrozen<S>;
}

export interface FlatBuffers<S> {
  params: S;
  grads: S;
  m: S;
  v: S;
  /** Elements in each flat buffer, padding included. */
  n: number;
}

/**
 * The set's tensors by name; while the set is in write mode (a merge folding a delta into the weights),
 * looking up a shared base tensor first gives the set a private copy of it, so whatever the caller writes
 * stays this run's (the other runs on the base read the shared tensor unchanged).
 */
class TensorMap<S> extends Map<string, Tensor<S>> {
  onGet: ((name: string) => void) | null = null;
  override get(name: string): Tensor<S> | undefined {
    this.onGet?.(name);
    return super.get(name);
  }
}

export class ParamSet<S, I> {
  readonly tensors: Map<string, Tensor<S>> = new TensorMap<S>();
  readonly flat: FlatBuffers<S> | null;
  /** Element offset of each trainable tensor in the flat buffers. */
  readonly offsets = new Map<string, number>();
  private readonly frozenStores: Array<{ store: S; format: WeightFormat<S> | null }> = [];
  private base: SharedFrozen<S> | null;
  private disposed = false;

  constructor(
    readonly be: Backend<S, I>,
    specs: readonly ParamSpec[],
    opts: ParamSetOptions<S> = {},
  ) {
    this.base = opts.base ?? null;
    const names = new Set<string>();
    for (const s of specs) {
      if (names.has(s.name)) throw new Error(`parameter ${s.name} declared twice`);
      names.add(s.name);
      const n = s.shape.reduce((a, b) => a * b, 1);
      if (s.data && s.data.length !== n)
        throw new Error(`parameter ${s.name}: ${s.data.length} values for shape [${s.shape}]`);
      if (s.trainable && (s.dtype ?? 'f32') !== 'f32')
        throw new Error(
          `parameter ${s.name} is held as ${s.dtype} and cannot be trained: a trained tensor is f32 ` +
            '(choose an f32 base for a method that trains base weights)',
        );
    }
    const align = be.viewAlign;
    let total = 0;
    for (const s of specs) {
      if (!s.trainable) continue;
      this.offsets.set(s.name, total);
      const n = s.shape.reduce((a, b) => a * b, 1);
      total += Math.ceil(n / align) * align;
    }
    if (be.maxBufferBytes !== undefined) assertFlatBufferFits(specs, align, be.maxBufferBytes);
    if (total > 0) {
      // Zeros first, then each tensor's values into its view: no host copy of the whole flat buffer (full
      // fine-tuning would hold the model twice on the host), and none at all where no values are given.
      const params = be.alloc(total, 'trainable', 'trainable.flat');
      be.zero(params, total);
      for (const s of specs) {
        if (!s.trainable || !s.data) continue;
        const n = s.shape.reduce((a, b) => a * b, 1);
        be.write(be.view(params, this.offsets.get(s.name)!, n), s.data);
      }
      const grads = be.alloc(total, 'gradients', 'grads.flat');
      const m = be.alloc(total, 'optimizer', 'adam.m');
      const v = be.alloc(total, 'optimizer', 'adam.v');
      be.zero(grads, total);
      be.zero(m, total);
      be.zero(v, total);
      this.flat = { params, grads, m, v, n: total };
    } else {
      this.flat = null;
    }
    for (const s of specs) {
      const n = s.shape.reduce((a, b) => a * b, 1);
      if (s.trainable && this.flat) {
        const off = this.offsets.get(s.name)!;
        const t = new Tensor<S>(s.shape, be.view(this.flat.params, off, n), true, s.name, true);
        t.grad = be.view(this.flat.grads, off, n);
        this.tensors.set(s.name, t);
      } else if (this.base?.has(s.name)) {
        const shared = this.base.get(s.name);
        if (shared.shape.length !== s.shape.length || shared.shape.some((d, i) => d !== s.shape[i]))
          throw new Error(`parameter ${s.name}: shared base has shape [${shared.shape}], spec [${s.shape}]`);
        const t = new Tensor<S>(s.shape, shared.store, false, s.name, true);
        t.format = shared.format;
        this.tensors.set(s.name, t);
      } else {
        const up = uploadFrozen(be, s);
        this.frozenStores.push(up);
        const t = new Tensor<S>(s.shape, up.store, false, s.name, true);
        t.format = up.format;
        this.tensors.set(s.name, t);
      }
    }
  }

  /** The tensor is borrowed from a shared base (not this set's to write or free). */
  isShared(name: string): boolean {
    return this.base?.has(name) === true && !this.get(name).requiresGrad && !this.own.has(name);
  }

  /** Tensors of a shared base this set holds a private copy of (a merge writes into them): name → copy. */
  private readonly own = new Map<string, Tensor<S>>();

  /**
   * Gives this set a private f32 copy of a borrowed tensor (a merge folds a delta into the weights, which
   * must not change them for the other runs on the base; a 16-bit or quantized one is widened); no-op for
   * a tensor already its own.
   */
  privatize(name: string): void {
    // A lookup of a name the set lacks (a method probing for a tensor) is the caller's to answer.
    if (!this.tensors.has(name)) return;
    const t = this.get(name);
    // A packed (16-bit or quantized) tensor cannot take a merge's ΔW either, shared or the set's own.
    if (!this.isShared(name) && !(t.format && !this.own.has(name))) return;
    // Merges target linear weights; a table held in row parts is only ever read.
    if (splitOf(t))
      throw new Error(`cannot write "${name}": it is held in row parts above the GPU's buffer limit`);
    const store = this.be.alloc(t.size, 'frozen', `${name}.own`);
    this.be.dequant({ out: store, values: t.store, format: t.format, shape: t.shape });
    const copy = new Tensor<S>(t.shape, store, false, name, true);
    this.own.set(name, t);
    this.frozenStores.push({ store, format: null });
    this.tensors.set(name, copy);
  }

  /**
   * Runs `f` (a merge, an unmerge) with every shared tensor it looks up made the set's own first
   * (privatize).
   */
  writing<T>(f: () => T): T {
    const map = this.tensors as TensorMap<S>;
    const prev = map.onGet;
    let inside = false;
    map.onGet = (name) => {
      if (inside) return; // privatize's own lookups
      inside = true;
      try {
        this.privatize(name);
      } finally {
        inside = false;
      }
    };
    try {
      return f();
    } finally {
      map.onGet = prev;
    }
  }

  /** Drops private copies made by privatize: the set borrows the shared tensors again. */
  unprivatize(): void {
    for (const [name, shared] of this.own) {
      const copy = this.tensors.get(name)!;
      const i = this.frozenStores.findIndex((f) => f.store === copy.store);
      if (i >= 0) this.frozenStores.splice(i, 1);
      this.be.free(copy.store);
      this.tensors.set(name, shared);
    }
    this.own.clear();
  }

  get(name: string): Tensor<S> {
    const t = this.tensors.get(name);
    if (!t) throw new Error(`no parameter named ${name}`);
    return t;
  }

  trainable(): Tensor<S>[] {
    return [...this.tensors.values()].filter((t) => t.requiresGrad);
  }

  /** Trainable elements, padding excluded: what a method's closed-form count must equal. */
  get trainableCount(): number {
    return this.trainable().reduce((a, t) => a + t.size, 0);
  }

  get totalCount(): number {
    return [...this.tensors.values()].reduce((a, t) => a + t.size, 0);
  }

  /** Zeroes every gradient and marks it written, so backward accumulates into zeros (micro-batches add). */
  zeroGrads(): void {
    if (!this.flat) return;
    this.be.zero(this.flat.grads, this.flat.n);
    for (const t of this.trainable()) t.gradInit = true;
  }

  /** A tensor's values (a 16-bit or quantized one dequantized). */
  async read(name: string): Promise<Float64Array> {
    const t = this.get(name);
    // A table above the buffer limit is held in row parts: read them all, in order.
    return readFrozen(this.be, t.store, t.format, t.size);
  }

  /** Overwrites a tensor's values (loading an adapter, resetting a method); never a shared base's. */
  write(name: string, data: ArrayLike<number>): void {
    const t = this.get(name);
    if (this.isShared(name))
      throw new Error(`parameter ${name} belongs to the shared base: it is not this run's to overwrite`);
    if (t.format !== null)
      throw new Error(`parameter ${name} is held as ${t.format.dtype}: it cannot be written`);
    if (data.length !== t.size)
      throw new Error(`parameter ${name}: ${data.length} values for shape [${t.shape}]`);
    this.be.write(t.store, data);
  }

  async readGrad(name: string): Promise<Float64Array> {
    const t = this.get(name);
    if (!t.grad) throw new Error(`parameter ${name} is frozen: it has no gradient`);
    return this.be.read(t.grad, t.size);
  }

  /** Frees what the set holds and gives a shared base's lease back; a second call does nothing. */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    for (const f of this.frozenStores) freeFrozen(this.be, f.store, f.format);
    if (this.flat)
      for (const s of [this.flat.params, this.flat.grads, this.flat.m, this.flat.v]) this.be.free(s);
    this.frozenStores.length = 0;
    this.own.clear();
    this.base?.release();
    this.base = null;
  }
}

/**
 * Refuses trained tensors that do not fit the per-buffer limit together: they live in one flat f32 buffer
 * (each padded to `align` elements, as ParamSet lays them out), and so do their gradients and AdamW's two
 * moments. Said before any allocation, so nothing is half-built.
 */
export function assertFlatBufferFits(specs: readonly ParamSpec[], align: number, limit: number): void {
  let count = 0;
  let elems = 0;
  for (const s of specs) {
    if (!s.trainable) continue;
    const n = s.shape.reduce((a, b) => a * b, 1);
    count += n;
    elems += Math.ceil(n / align) * align;
  }
  if (elems * 4 > limit) throw new Error(flatBufferMessage(count, elems * 4, limit));
}

/** Why `count` trained parameters in a flat buffer of `bytes` do not fit a per-buffer limit, and what to do. */
export function flatBufferMessage(count: number, bytes: number, limit: number): string {
  return (
    `${count.toLocaleString('en')} trainable parameters are held in one f32 buffer of ${formatBytes(bytes)} (with ` +
    `one each for their gradients and AdamW's two moments), and this device allows one buffer of at most ` +
    `${formatBytes(limit)}: train fewer parameters (LoRA or another PEFT method, top layers, or sparse updates)`
  );
}
