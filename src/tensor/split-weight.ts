// Frozen weights held in row parts: a [rows, cols] tensor whose buffer would exceed the device's per-buffer
// binding limit (a 1B model's f32 embedding, [128256, 2048] = 1.05 GB, against a 1 GiB or smaller
// maxStorageBufferBindingSize) is uploaded as parts along its first axis, each within the limit, in any base
// dtype (frozenPartRows keeps parts on whole words, NF4 blocks and int8 row scales, so every stored value is
// the whole tensor's). The tensor a ParamSet holds for it keeps its full shape and, as its store, the first
// part's store; the parts are found from that store (splitOf), so nothing about tensors or ParamSets
// changes. The readers that a split tensor reaches (the embedding lookup, the LM head, the logits of
// forward()) ask splitOf and loop over the parts; a split tensor is frozen by construction (a trained tensor
// lives whole in the flat trainable buffer, and one above the limit is refused before anything loads).

import { frozenPartRows } from '../formats/model-config';
import type { MemoryCategory } from '../gpu/arena';
import type { Backend } from './backend';
import { freeFrozen, type ParamSpec, type SharedFrozen, uploadFrozen } from './params';
import type { Tape, Tensor } from './tape';
import type { WeightFormat } from './weight-format';

/** One part: rows [row0, row0 + rows) of the whole tensor, in a buffer (and format) of its own. */
export interface WeightPart<S> {
  row0: number;
  rows: number;
  store: S;
  format: WeightFormat<S> | null;
}

/** A frozen [rows, cols] tensor held in row parts (at least two). */
export interface SplitWeight<S> {
  name: string;
  shape: readonly [number, number];
  parts: readonly WeightPart<S>[];
}

/** Split tensors by their first part's store (the store their Tensor carries). */
const registry = new WeakMap<object, SplitWeight<unknown>>();

/** The parts `t` is held in, or null when it is one buffer. */
export function splitOf<S>(t: { store: S }): SplitWeight<S> | null {
  const s = t.store;
  if (typeof s !== 'object' || s === null) return null;
  return (registry.get(s) as SplitWeight<S> | undefined) ?? null;
}

/** The per-buffer limit a backend states (Backend.maxBufferBytes: the GPU's), else none. */
export function backendBufferLimit(be: { readonly maxBufferBytes?: number }): number {
  const v = be.maxBufferBytes;
  return v !== undefined && v > 0 ? v : Number.POSITIVE_INFINITY;
}

/** Rows [r0, r1) of row-major values with `cols` columns, without a copy when the values are a typed array. */
function rowsOf(data: ArrayLike<number>, cols: number, r0: number, r1: number): ArrayLike<number> {
  const sub = (data as { subarray?: (a: number, b: number) => ArrayLike<number> }).subarray;
  if (typeof sub === 'function') return sub.call(data, r0 * cols, r1 * cols);
  return Array.from({ length: (r1 - r0) * cols }, (_, i) => data[r0 * cols + i]);
}

/**
 * Uploads a frozen tensor as uploadFrozen does, in row parts when its buffer would exceed `maxBufferBytes`
 * (each part labelled with its rows, counted under `category`). Returns the store and format its Tensor
 * carries: the first part's, registered so splitOf finds every part. Free it with freeFrozenSplit.
 */
export function uploadFrozenSplit<S, I>(
  be: Backend<S, I>,
  spec: Pick<ParamSpec, 'name' | 'shape' | 'data' | 'dtype' | 'layout'>,
  maxBufferBytes: number,
  category: MemoryCategory = 'frozen',
): { store: S; format: WeightFormat<S> | null } {
  const dtype = spec.dtype ?? 'f32';
  const layout = spec.layout ?? 'out_in';
  let counts: number[];
  try {
    counts = frozenPartRows(spec.shape, dtype, layout, maxBufferBytes);
  } catch (e) {
    throw new Error(
      `${spec.name} [${spec.shape}] (${dtype}) exceeds the ${maxBufferBytes}-byte buffer limit: ${(e as Error).message}`,
    );
  }
  if (counts.length === 1) return uploadFrozen(be, spec, category);
  const [rows, cols] = spec.shape;
  const parts: WeightPart<S>[] = [];
  let row0 = 0;
  try {
    for (const n of counts) {
      const data = spec.data ? rowsOf(spec.data, cols, row0, row0 + n) : null;
      const name = `${spec.name}[${row0}:${row0 + n}]`;
      const up = uploadFrozen(be, { name, shape: [n, cols], data, dtype, layout }, category);
      parts.push({ row0, rows: n, ...up });
      row0 += n;
    }
  } catch (e) {
    for (const p of parts) freeFrozen(be, p.store, p.format);
    throw e;
  }
  const split: SplitWeight<S> = { name: spec.name, shape: [rows, cols], parts };
  registry.set(parts[0].store as object, split as SplitWeight<unknown>);
  return { store: parts[0].store, format: parts[0].format };
}

/** Frees what uploadFrozenSplit made: every part of a split tensor, or the one buffer. */
export function freeFrozenSplit<S, I>(be: Backend<S, I>, store: S, format: WeightFormat<S> | null): void {
  const split = splitOf({ store });
  if (!split) {
    freeFrozen(be, store, format);
    return;
  }
  registry.delete(store as object);
  for (const p of split.parts) freeFrozen(be, p.store, p.format);
}

/** A frozen weight's values (dequantized), its parts read in order when it is split. */
export async function readFrozen<S, I>(
  be: Backend<S, I>,
  store: S,
  format: WeightFormat<S> | null,
  n: number,
): Promise<Float64Array> {
  const split = splitOf({ store });
  if (!split) return be.readWeight(store, format, n);
  const cols = split.shape[1];
  const out = new Float64Array(n);
  for (const p of split.parts) {
    const at = p.row0 * cols;
    if (at >= n) break;
    const got = await be.readWeight(p.store, p.format, Math.min(p.rows * cols, n - at));
    out.set(got, at);
  }
  return out;
}

/**
 * Frozen tensors uploaded now, each split when above `maxBufferBytes`, handed to a ParamSet as its `base`
 * (the set borrows them; its dispose releases them, which frees them). What the meter runs a plan on, so a
 * plan counts exactly the parts a FrozenBase would upload.
 */
export function splitFrozenSet<S, I>(
  be: Backend<S, I>,
  specs: readonly ParamSpec[],
  maxBufferBytes: number,
): SharedFrozen<S> {
  const held = new Map<string, { shape: readonly number[]; store: S; format: WeightFormat<S> | null }>();
  for (const s of specs) {
    if (s.trainable) continue;
    held.set(s.name, { shape: s.shape, ...uploadFrozenSplit(be, s, maxBufferBytes) });
  }
  let released = false;
  return {
    has: (n) => held.has(n),
    get: (n) => {
      const h = held.get(n);
      if (!h) throw new Error(`frozen tensor ${n} is not in this set`);
      return h;
    },
    release: () => {
      if (released) return;
      released = true;
      for (const h of held.values()) freeFrozenSplit(be, h.store, h.format);
    },
  };
}

/** Checks ids against the vocabulary, as ops.embedding does. */
function checkIds(ids: Int32Array, V: number, name: string): void {
  for (let i = 0; i < ids.length; i++) {
    if (!(ids[i] >= 0 && ids[i] < V))
      throw new Error(`${name}: token id ${ids[i]} at position ${i} is outside the vocabulary of ${V}`);
  }
}

/**
 * Rows of a split frozen table picked by ids, [N, cols]: one lookup per part over the same output, each
 * writing only the positions whose id falls in its rows (embedding's rowOffset/rows), so every position is
 * written exactly once. The table is frozen: no gradient flows to it (nor is one recorded).
 */
export function splitEmbedding<S, I>(
  tp: Tape<S, I>,
  split: SplitWeight<S>,
  ids: Int32Array,
  name: string,
): Tensor<S> {
  const [V, dim] = split.shape;
  checkIds(ids, V, name);
  const N = ids.length;
  const y = tp.tensor([N, dim], false, name);
  const idsDev = tp.ints(ids, `${name}.ids`);
  for (const p of split.parts) {
    tp.be.embedding({
      out: y.store,
      table: p.store,
      tableFormat: p.format,
      ids: idsDev,
      idsCpu: ids,
      N,
      dim,
      rowOffset: p.row0,
      rows: p.rows,
    });
  }
  return y;
}

/** The widest part's rows: the column width of the scratch a per-part product needs. */
export const widestPart = <S>(split: SplitWeight<S>): number =>
  split.parts.reduce((m, p) => Math.max(m, p.rows), 0);

/**
 * y [N, V] = x [N, d] · Wᵀ for a split frozen W [V, d] (stored [out, in], as the LM head): each part's
 * [N, Vp] product into a scratch, copied into its column block of y (matmul writes dense rows only).
 * Backward: dx (+)= Σ_p dy[:, block p] · W_p, a block copied out of dy per part.
 */
export function splitLinear<S, I>(
  tp: Tape<S, I>,
  x: Tensor<S>,
  split: SplitWeight<S>,
  name: string,
): Tensor<S> {
  const [V, d] = split.shape;
  if (x.shape[x.shape.length - 1] !== d)
    throw new Error(
      `${name}: input has ${x.shape[x.shape.length - 1]} features, weight ${split.name} is [${split.shape}]`,
    );
  const N = x.size / d;
  const be = tp.be;
  const y = tp.tensor([...x.shape.slice(0, -1), V], tp.needsGrad(x), name);
  const wide = widestPart(split);
  const tmp = be.alloc(N * wide, 'workspace', `${name}.part`);
  for (const p of split.parts) {
    be.matmul({ out: tmp, a: x.store, b: p.store, bFormat: p.format, M: N, N: p.rows, K: d, transB: true });
    be.copy2d({
      out: y.store,
      x: tmp,
      rows: N,
      cols: p.rows,
      srcStride: p.rows,
      srcOffset: 0,
      dstStride: V,
      dstOffset: p.row0,
    });
  }
  be.free(tmp);
  if (!y.requiresGrad) return y;
  tp.record(name, () => {
    const dy = tp.gradOf(y);
    if (!dy || !x.requiresGrad) return;
    const g = tp.gradTarget(x);
    const part = be.alloc(N * wide, 'workspace', `${name}.dpart`);
    split.parts.forEach((p, i) => {
      be.copy2d({
        out: part,
        x: dy,
        rows: N,
        cols: p.rows,
        srcStride: V,
        srcOffset: p.row0,
        dstStride: p.rows,
        dstOffset: 0,
      });
      // dx [N, d] (+)= dy_p [N, Vp] · W_p [Vp, d].
      be.matmul({
        out: g.buf,
        a: part,
        b: p.store,
        bFormat: p.format,
        M: N,
        N: d,
        K: p.rows,
        accumulate: i > 0 || g.accumulate,
      });
    });
    be.free(part);
    tp.wrote(x);
  });
  return y;
}
