// The autograd tape: tensors over a Backend's storage, the record of backward closures, gradient buffers
// for activations (allocated lazily) and parameters (owned by a ParamSet, written or accumulated by the
// closures). A node is recorded only when one of its inputs needs a gradient, so frozen paths cost nothing
// in backward and backward stops below the lowest layer that has anything to train.
// Gradient routing (add and the like: the input's gradient is the output's) moves buffers instead of
// copying them: `routeGrad` (and `accumulateGrad`) hand the output's gradient store to each input that
// has none yet, and a store held by several tensors is copied only when one of them must accumulate into
// it (copy on write).
//
// Freeing as backward goes: what the tape allocates (a tensor's storage, scratch such as saved mean/rstd)
// belongs to the node recorded first after its creation. Every node that reads it was recorded at or after
// that one (nothing reads what does not exist yet), so once that node has run in backward nothing on the
// tape reads it again: it is parked in the tape's pool, and the tape's next allocation of the same size and
// category takes it (activation gradients reuse freed activations). What a caller may still read is spared:
// - what was made after the last node (the loss, a loss op's stats), which belongs to no node;
// - a tensor whose gradient no node read (a leaf the caller built: its values and its gradient stay for
//   gradOf; frozen-path activations before the first trainable op also stay, they are few);
// - a tensor passed to `keep` (e.g. hidden states read after backward), or seeded with `seedGrad`.
// A gradient store is parked when the last tensor holding it is done. Integer uploads (ids, positions)
// stay to the end: they are small. dispose() hands every buffer back to the backend once, in the reverse
// of the order the tape took them, so the arena's pool ends a step as it began it and the next step gets
// the same buffers in the same roles (cached bind groups stay valid). Parked buffers count as allocated:
// the arena would hold them in its pool all the same, so the figure is what the device really holds.

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

/** What one recorded node owns: its closure and what was made since the node before it. */
interface TapeNode<S> {
  name: string;
  run: () => void;
  made: Made<S>;
}

interface Made<S> {
  tensors: Tensor<S>[];
  stores: S[];
}

const nothingMade = <S>(): Made<S> => ({ tensors: [], stores: [] });

export interface TapeOptions {
  /** Free nothing before dispose (the reference the freeing is checked against, and memory before it). */
  keepAll?: boolean;
}

export class Tape<S, I> {
  private readonly nodes: TapeNode<S>[] = [];
  /** What was made since the last recorded node: it belongs to the next one recorded (see `backward`). */
  private made: Made<S> = nothingMade();
  /** Every buffer taken from the backend (floats and ints), in order: dispose hands them back in reverse. */
  private readonly taken: Array<{ s: S } | { i: I }> = [];
  /** Freed buffers by size and category, for the tape's next allocation of the same. */
  private readonly pool = new Map<string, S[]>();
  /** Tape-allocated gradient stores and how many tensors hold each; absent: not the tape's to share. */
  private readonly holders = new Map<S, number>();
  private readonly released = new Set<Tensor<S>>();
  /** Tensors whose gradient a node read in backward: op outputs, whose storage the tape may free. */
  private readonly consumed = new Set<Tensor<S>>();
  private readonly kept = new Set<Tensor<S>>();
  /** Consumed tensors whose node has run: their storage (and gradient, once unheld) is parked. */
  private readonly finished = new Set<Tensor<S>>();
  private readonly parked = new Set<S>();
  /** Size and category of each buffer taken, to park it under. */
  private readonly kinds = new Map<S, string>();
  private running = false;
  private done = false;

  private readonly keepAll: boolean;

  constructor(
    readonly be: Backend<S, I>,
    /** With grad off (evaluation, generation) nothing is recorded. */
    readonly grad: boolean,
    opts: TapeOptions = {},
  ) {
    this.keepAll = !!opts.keepAll;
  }

  /** A new activation tensor owned by this tape. */
  tensor(
    shape: readonly number[],
    requiresGrad: boolean,
    name: string,
    category: MemoryCategory = 'activations',
  ): Tensor<S> {
    const n = shape.reduce((a, b) => a * b, 1);
    const t = new Tensor<S>(shape, this.alloc(n, category, name), requiresGrad && this.grad, name);
    if (this.grad) this.made.tensors.push(t);
    return t;
  }

  /** A buffer from the tape's pool (same size and category), else from the backend. */
  private alloc(n: number, category: MemoryCategory, label: string): S {
    const kind = `${n}|${category}`;
    const s = this.pool.get(kind)?.pop();
    if (s !== undefined) {
      this.parked.delete(s);
      return s;
    }
    const fresh = this.be.alloc(n, category, label);
    this.taken.push({ s: fresh });
    this.kinds.set(fresh, kind);
    return fresh;
  }

  /** Scratch storage freed with the tape (saved statistics, logsumexp...). */
  scratch(n: number, name: string, category: MemoryCategory = 'activations'): S {
    const s = this.alloc(n, category, name);
    if (this.grad) this.made.stores.push(s);
    return s;
  }

  /** Integer input (ids, targets) uploaded for this tape's lifetime. */
  ints(data: Int32Array, name: string): I {
    const i = this.be.uploadInt(data, name);
    this.taken.push({ i });
    return i;
  }

  /** A tensor that shares storage with `src` under another shape (no copy); gradients flow through. */
  reshape(src: Tensor<S>, shape: readonly number[]): Tensor<S> {
    const n = shape.reduce((a, b) => a * b, 1);
    if (n !== src.size) throw new Error(`reshape ${src.name}: [${src.shape}] to [${shape}] changes the size`);
    const root = src.base ?? src;
    const t = new Tensor<S>(shape, src.store, src.requiresGrad, src.name, false, root);
    t.format = src.format;
    return t;
  }

  needsGrad(...ts: Array<Tensor<S> | null | undefined>): boolean {
    return this.grad && ts.some((t) => t?.requiresGrad);
  }

  record(name: string, run: () => void): void {
    if (!this.grad) return;
    this.nodes.push({ name, run, made: this.made });
    this.made = nothingMade();
  }

  /**
   * Spares `t` (its values and its gradient) from freeing in backward, for a caller that reads it after
   * (hidden states, an intermediate's gradient in a test). Call before backward.
   */
  keep(t: Tensor<S>): Tensor<S> {
    this.kept.add(t.base ?? t);
    return t;
  }

  /**
   * The gradient buffer of `t` to write into, and whether to accumulate. Kernels with an accumulate flag
   * use this directly; afterwards call `wrote(t)`.
   */
  gradTarget(t: Tensor<S>): { buf: S; accumulate: boolean } {
    if (t.base) return this.gradTarget(t.base);
    if (!t.grad) {
      if (t.isParam) throw new Error(`parameter ${t.name} requires grad but has no gradient buffer`);
      t.grad = this.alloc(t.size, 'activations', `d${t.name}`);
      this.holders.set(t.grad, 1);
    } else if (t.gradInit && (this.holders.get(t.grad) ?? 0) > 1) {
      // Shared with a tensor that may still read it: accumulate into a copy of our own.
      const own = this.alloc(t.size, 'activations', `d${t.name}`);
      this.be.scale({ out: own, x: t.grad, n: t.size, alpha: 1 });
      this.holders.set(t.grad, (this.holders.get(t.grad) ?? 1) - 1);
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
    if (this.finished.has(r)) {
      throw new Error(
        `${r.name}: its gradient was freed in backward (no node reads it again); call tape.keep() on it before backward to read it after`,
      );
    }
    if (this.running) this.consumed.add(r);
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
    // The caller backpropagates from t, so it is the caller's output: its values stay readable.
    this.kept.add(r);
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
    if (this.running) this.consumed.add(r);
    const g = r.grad;
    if (!g || !r.gradInit) return;
    const held = this.holders.get(g);
    // A kept tensor keeps its gradient: its inputs share the store (and copy before accumulating).
    if (held !== undefined && !this.kept.has(r)) {
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
    this.freeGradIfUnheld(g);
  }

  /** Runs the recorded closures in reverse. The loss op has already produced its input's gradient. */
  backward(): void {
    if (this.done) throw new Error('backward called twice on one tape');
    this.done = true;
    this.running = true;
    try {
      for (let i = this.nodes.length - 1; i >= 0; i--) {
        const node = this.nodes[i];
        node.run();
        this.finish(node.made);
        node.made = nothingMade();
      }
    } finally {
      this.running = false;
    }
  }

  /** What a node owned is read by no node left to run: free it, sparing what a caller may still read. */
  private finish(made: Made<S>): void {
    for (const t of made.tensors) {
      if (this.kept.has(t)) continue;
      // Without freeing, a finished tensor still stops counting as a holder (fewer copies on write).
      if (this.keepAll) {
        this.release(t);
        continue;
      }
      // A tensor whose gradient no node read is a leaf (or a frozen-path value): its caller may read it.
      if (!this.consumed.has(t)) continue;
      this.release(t);
      this.finished.add(t);
      this.park(t.store);
    }
    if (!this.keepAll) for (const s of made.stores) this.park(s);
  }

  /** Puts a buffer the tape took back in its pool (once; views and foreign stores are not the tape's). */
  private park(s: S): void {
    const kind = this.kinds.get(s);
    if (kind === undefined || this.parked.has(s)) return;
    this.parked.add(s);
    const list = this.pool.get(kind);
    if (list) list.push(s);
    else this.pool.set(kind, [s]);
  }

  /** A tape gradient store no tensor holds any more goes back to the backend. */
  private freeGradIfUnheld(g: S): void {
    if (!this.keepAll && this.holders.get(g) === 0) {
      this.holders.delete(g);
      this.park(g);
    }
  }

  /** `t`'s gradient will not be read or added to by the tape again: it no longer counts as a holder. */
  private release(t: Tensor<S>): void {
    if (!t.grad || this.released.has(t)) return;
    const held = this.holders.get(t.grad);
    if (held === undefined) return;
    this.released.add(t);
    this.holders.set(t.grad, held - 1);
    this.freeGradIfUnheld(t.grad);
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
    for (let k = this.taken.length - 1; k >= 0; k--) {
      const b = this.taken[k];
      if ('s' in b) this.be.free(b.s);
      else this.be.freeInt(b.i);
    }
    this.taken.length = 0;
    this.pool.clear();
    this.kinds.clear();
    this.parked.clear();
    this.finished.clear();
    this.nodes.length = 0;
    this.made = nothingMade();
    this.holders.clear();
    this.released.clear();
    this.consumed.clear();
    this.kept.clear();
  }
}
