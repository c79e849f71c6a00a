// The autograd tape: tensors over a Backend's storage, the record of backward closures, gradient buffers
// for activations (allocated lazily, freed with the tape) and parameters (owned by a ParamSet, written or
// accumulated by the closures). A node is recorded only when one of its inputs needs a gradient, so frozen
// paths cost nothing in backward and backward stops below the lowest layer that has anything to train.
// Gradient routing (add and the like: the input's gradient is the output's) moves buffers instead of
// copying them: `routeGrad` (and `accumulateGrad`) hand the output's gradient store to each input that
// has none yet, and a store held by several tensors is copied only when one of them must accumulate into
// it (copy on write). A
// tensor stops holding once the node recorded first after its creation has run: every node that reads
// or adds to its gradient was recorded at or after that one, so it has run too, and only a caller reading
// gradOf after backward still looks (and sees its full gradient unless a sharer accumulated later).

import type { MemoryCategory } from '../gpu/arena';
import type { Backend } from './backend';
import type { WeightFormat } from './weight-format';

let nextTensorId = 1;

export class Tensor<S = unknown> {
  readonly id = nextTensorId++;
  /** Gradient storage; for parameters it is a view into the ParamSet's flat gradient buffer. */
  grad: S | null = null;
  /** False until something has been written to `grad` this pass: the first writer overwrites. */
  gradInit = false;
  /** How a frozen weight is stored (weight-format.ts); null: plain f32, what every activation is. */
  format: WeightFormat<S> | null = null;

  constructor(
    readonly shape: readonly number[],
    readonly store: S,
    readonly requiresGrad: boolean,
    readonly name: string,
    /** Parameters live beyond one tape; activations die with it. */
    readonly isParam = false,
    /** Set on reshapes: storage and gradient are the base tensor's. */
    readonly base: Tensor<S> | null = null,
  ) {}

  get size(): number {
    return this.shape.reduce((a, b) => a * b, 1);
  }
}

export class Tape<S, I> {
  private readonly nodes: Array<{ name: string; run: () => void; made: Tensor<S>[] }> = [];
  /** Tensors made since the last recorded node: they belong to the next one recorded (see `backward`). */
  private made: Tensor<S>[] = [];
  private readonly owned: Tensor<S>[] = [];
  private readonly ownedStores: S[] = [];
  private readonly ownedInts: I[] = [];
  /** Tape-allocated gradient stores and how many tensors hold each; absent: not the tape's to share. */
  private readonly holders = new Map<S, number>();
  private readonly released = new Set<Tensor<S>>();
  private done = false;

  constructor(
    readonly be: Backend<S, I>,
    /** With grad off (evaluation, generation) nothing is recorded. */
    readonly grad: boolean,
  ) {}

  /** A new activation tensor owned by this tape. */
  tensor(
    shape: readonly number[],
    requiresGrad: boolean,
    name: string,
    category: MemoryCategory = 'activations',
  ): Tensor<S> {
    const n = shape.reduce((a, b) => a * b, 1);
    const t = new Tensor<S>(shape, this.be.alloc(n, category, name), requiresGrad && this.grad, name);
    this.owned.push(t);
    if (t.requiresGrad) this.made.push(t);
    return t;
  }

  /** Scratch storage freed with the tape (saved statistics, logsumexp...). */
  scratch(n: number, name: string, category: MemoryCategory = 'activations'): S {
    const s = this.be.alloc(n, category, name);
    this.ownedStores.push(s);
    return s;
  }

  /** Integer input (ids, targets) uploaded for this tape's lifetime. */
  ints(data: Int32Array, name: string): I {
    const i = this.be.uploadInt(data, name);
    this.ownedInts.push(i);
    return i;
  }

  /** A tensor that shares storage with `src` under another shape (no copy); gradients flow through. */
  reshape(src: Tensor<S>, shape: readonly number[]): Tensor<S> {
    const n = shape.reduce((a, b) => a * b, 1);
    if (n !== src.size) throw new Error(`reshape ${src.name}: [${src.shape}] to [${shape}] changes the size`);
    const root = src.base ?? src;
    return new Tensor<S>(shape, src.store, src.requiresGrad, src.name, false, root);
  }

  needsGrad(...ts: Array<Tensor<S> | null | undefined>): boolean {
    return this.grad && ts.some((t) => t?.requiresGrad);
  }

  record(name: string, run: () => void): void {
    if (!this.grad) return;
    this.nodes.push({ name, run, made: this.made });
    this.made = [];
  }

  /**
   * The gradient buffer of `t` to write into, and whether to accumulate. Kernels with an accumulate flag
   * use this directly; afterwards call `wrote(t)`.
   */
  gradTarget(t: Tensor<S>): { buf: S; accumulate: boolean } {
    if (t.base) return this.gradTarget(t.base);
    if (!t.grad) {
      if (t.isParam) throw new Error(`parameter ${t.name} requires grad but has no gradient buffer`);
      t.grad = this.be.alloc(t.size, 'activations', `d${t.name}`);
      this.ownedStores.push(t.grad);
      this.holders.set(t.grad, 1);
    } else if (t.gradInit && (this.holders.get(t.grad) ?? 0) > 1) {
      // Shared with a tensor that may still read it: accumulate into a copy of our own.
      const own = this.be.alloc(t.size, 'activations', `d${t.name}`);
      this.be.scale({ out: own, x: t.grad, n: t.size, alpha: 1 });
      this.holders.set(t.grad, (this.holders.get(t.grad) ?? 1) - 1);
      this.ownedStores.push(own);
      this.holders.set(own, 1);
      t.grad = own;
    }
    return { buf: t.grad, accumulate: t.gradInit };
  }

  wrote(t: Tensor<S>): void {
    (t.base ?? t).gradInit = true;
  }

  /** The gradient of `t` once backward has reached it (null when nothing flowed into it). */
  gradOf(t: Tensor<S>): S | null {
    const r = t.base ?? t;
    return r.gradInit ? r.grad : null;
  }

  /** Gradient write for kernels without an accumulate flag: writes direct when fresh, else via a temporary. */
  writeGrad(t: Tensor<S>, write: (dst: S) => void): void {
    const { buf, accumulate } = this.gradTarget(t);
    if (!accumulate) {
      write(buf);
    } else {
      const tmp = this.be.alloc(t.size, 'workspace', `d${t.name}.tmp`);
      write(tmp);
      this.be.addInPlace({ a: buf, b: tmp, n: t.size });
      this.be.free(tmp);
    }
    this.wrote(t);
  }

  /** Starts backward from `t` with gradient `g` (owned by the caller), e.g. a block's output in a benchmark. */
  seedGrad(t: Tensor<S>, g: S): void {
    const r = t.base ?? t;
    r.grad = g;
    r.gradInit = true;
  }

  /**
   * grad(t) += g (or = g when fresh). `g` is the gradient of the calling node's output: when it is a store
   * the tape allocated and `t` has no gradient yet, `t` shares it instead of copying (the output stops
   * holding it once its node has run; see `backward`).
   */
  accumulateGrad(t: Tensor<S>, g: S): void {
    const r = t.base ?? t;
    const held = this.holders.get(g);
    if (held !== undefined && !r.grad && !r.isParam) {
      r.grad = g;
      r.gradInit = true;
      this.holders.set(g, held + 1);
      return;
    }
    const { buf, accumulate } = this.gradTarget(t);
    if (accumulate) this.be.addInPlace({ a: buf, b: g, n: t.size });
    else this.be.scale({ out: buf, x: g, n: t.size, alpha: 1 });
    this.wrote(t);
  }

  /**
   * Backward of an op whose inputs' gradients are its output's (add): called by the node that produced
   * `from`, which is the last reader of its gradient. An input with no gradient yet takes the store itself
   * (several may share it); one that has a sum already, or a parameter's, accumulates as before. Afterwards
   * `from` has no gradient (gradOf is null): its store belongs to the inputs. A gradient the caller seeded
   * (seedGrad) is never handed on.
   */
  routeGrad(from: Tensor<S>, to: ReadonlyArray<Tensor<S> | null>): void {
    const r = from.base ?? from;
    const g = r.grad;
    if (!g || !r.gradInit) return;
    const held = this.holders.get(g);
    if (held !== undefined) {
      r.grad = null;
      r.gradInit = false;
      if (!this.released.has(r)) this.holders.set(g, held - 1);
    }
    for (const t of to) {
      if (!t) continue;
      const tr = t.base ?? t;
      if (held !== undefined && !tr.grad && !tr.isParam) {
        tr.grad = g;
        tr.gradInit = true;
        this.holders.set(g, (this.holders.get(g) ?? 0) + 1);
      } else this.accumulateGrad(t, g);
    }
  }

  /** Runs the recorded closures in reverse. The loss op has already produced its input's gradient. */
  backward(): void {
    if (this.done) throw new Error('backward called twice on one tape');
    this.done = true;
    for (let i = this.nodes.length - 1; i >= 0; i--) {
      const node = this.nodes[i];
      node.run();
      for (const t of node.made) this.release(t);
    }
  }

  /** `t`'s gradient will not be read or added to by the tape again: it no longer counts as a holder. */
  private release(t: Tensor<S>): void {
    if (!t.grad || this.released.has(t)) return;
    const held = this.holders.get(t.grad);
    if (held === undefined) return;
    this.released.add(t);
    this.holders.set(t.grad, held - 1);
  }

  /** Number of backward closures recorded (tests check that frozen paths record nothing). */
  get recorded(): number {
    return this.nodes.length;
  }

  /** Names of the recorded backward nodes, in forward order. */
  recordedNames(): string[] {
    return this.nodes.map((n) => n.name);
  }

  /** Frees every activation, saved statistic and activation gradient. Parameters are untouched. */
  dispose(): void {
    for (const t of this.owned) this.be.free(t.store);
    for (const s of this.ownedStores) this.be.free(s);
    for (const i of this.ownedInts) this.be.freeInt(i);
    this.owned.length = 0;
    this.ownedStores.length = 0;
    this.ownedInts.length = 0;
    this.nodes.length = 0;
    this.made = [];
    this.holders.clear();
    this.released.clear();
  }
}
