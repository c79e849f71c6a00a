// Parameters of a model (and of whatever a fine-tuning method adds): frozen tensors in buffers of their
// own, trainable ones packed into one flat buffer with gradients and AdamW moments in flat buffers of the
// same layout, so the optimizer is one dispatch and the arena shows exactly what training adds. Nothing
// is allocated for a frozen tensor's gradient or optimizer state.

import type { MemoryCategory } from '../gpu/arena';
import type { Backend } from './backend';
import { Tensor } from './tape';

export interface ParamSpec {
  name: string;
  shape: readonly number[];
  trainable: boolean;
  data: ArrayLike<number>;
}

export interface FlatBuffers<S> {
  params: S;
  grads: S;
  m: S;
  v: S;
  /** Elements in each flat buffer, padding included. */
  n: number;
}

export class ParamSet<S, I> {
  readonly tensors = new Map<string, Tensor<S>>();
  readonly flat: FlatBuffers<S> | null;
  /** Element offset of each trainable tensor in the flat buffers. */
  readonly offsets = new Map<string, number>();
  private readonly frozenStores: S[] = [];

  constructor(
    readonly be: Backend<S, I>,
    specs: readonly ParamSpec[],
  ) {
    const names = new Set<string>();
    for (const s of specs) {
      if (names.has(s.name)) throw new Error(`parameter ${s.name} declared twice`);
      names.add(s.name);
      const n = s.shape.reduce((a, b) => a * b, 1);
      if (s.data.length !== n)
        throw new Error(`parameter ${s.name}: ${s.data.length} values for shape [${s.shape}]`);
    }
    const align = be.viewAlign;
    let total = 0;
    for (const s of specs) {
      if (!s.trainable) continue;
      this.offsets.set(s.name, total);
      const n = s.shape.reduce((a, b) => a * b, 1);
      total += Math.ceil(n / align) * align;
    }
    if (total > 0) {
      const host = new Float32Array(total);
      for (const s of specs) if (s.trainable) host.set(Array.from(s.data), this.offsets.get(s.name));
      const params = be.upload(host, 'trainable', 'trainable.flat');
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
      } else {
        const store = be.upload(s.data, 'frozen' satisfies MemoryCategory, s.name);
        this.frozenStores.push(store);
        this.tensors.set(s.name, new Tensor<S>(s.shape, store, false, s.name, true));
      }
    }
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

  async read(name: string): Promise<Float64Array> {
    const t = this.get(name);
    return this.be.read(t.store, t.size);
  }

  /** Overwrites a tensor's values (loading an adapter, resetting a method). */
  write(name: string, data: ArrayLike<number>): void {
    const t = this.get(name);
    if (data.length !== t.size)
      throw new Error(`parameter ${name}: ${data.length} values for shape [${t.shape}]`);
    this.be.write(t.store, data);
  }

  async readGrad(name: string): Promise<Float64Array> {
    const t = this.get(name);
    if (!t.grad) throw new Error(`parameter ${name} is frozen: it has no gradient`);
    return this.be.read(t.grad, t.size);
  }

  dispose(): void {
    for (const s of this.frozenStores) this.be.free(s);
    if (this.flat)
      for (const s of [this.flat.params, this.flat.grads, this.flat.m, this.flat.v]) this.be.free(s);
    this.frozenStores.length = 0;
  }
}
