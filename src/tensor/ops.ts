// Differentiable operations on the tape. Each op runs its forward primitive now and records a closure that
// runs its backward primitives later, writing input gradients only where they are needed: a frozen weight
// gets no dW, an input that needs no gradient gets no dX. Shapes are checked here, once, with the names of
// the tensors involved, so kernels can trust their dims.

import type { AttentionDims } from '../gpu/kernels/attention';
import type { RopeArgs } from '../gpu/kernels/rope';
import { elementwise } from './ops-elementwise';
import type { Tape, Tensor } from './tape';
import { dtypeOf } from './weight-format';

function check(cond: boolean, msg: () => string): void {
  if (!cond) throw new Error(msg());
}

/** A 16-bit or quantized weight is frozen by construction: its packed store cannot take a gradient. */
function refuseFormattedGrad<S>(w: Tensor<S>, name: string): void {
  check(
    !(w.format && w.requiresGrad),
    () =>
      `${name}: ${w.name} is stored as ${dtypeOf(w.format)} (a frozen base weight) and cannot be trained; ` +
      'train it from an f32 copy (--base-dtype f32) or leave it frozen',
  );
}

const last = (t: Tensor<unknown>): number => t.shape[t.shape.length - 1];
const rowsOf = (t: Tensor<unknown>): number => t.size / last(t);

/** Fresh-gradient guard for ops that write only part of a gradient: zero it first, then accumulate. */
function gradForPartialWrite<S, I>(tp: Tape<S, I>, t: Tensor<S>): S {
  const { buf, accumulate } = tp.gradTarget(t);
  if (!accumulate) tp.be.zero(buf, t.size);
  tp.wrote(t);
  return buf;
}

/**
 * y = x·W (+ b). W is stored [in, out] (GPT-2 Conv1D, layout 'in_out') or [out, in] (nn.Linear, 'out_in').
 * x is [..., in]; y is [..., out]. A frozen W in a 16-bit or quantized format (w.format) is read by the
 * matmul in that format, forward and for dx; it never has a gradient.
 */
export function linear<S, I>(
  tp: Tape<S, I>,
  x: Tensor<S>,
  w: Tensor<S>,
  b: Tensor<S> | null,
  layout: 'in_out' | 'out_in',
  name: string,
): Tensor<S> {
  const inF = last(x);
  const [w0, w1] = w.shape;
  const outF = layout === 'in_out' ? w1 : w0;
  check(
    (layout === 'in_out' ? w0 : w1) === inF,
    () => `${name}: input has ${inF} features, weight ${w.name} is [${w.shape}] (${layout})`,
  );
  refuseFormattedGrad(w, name);
  const N = rowsOf(x);
  const y = tp.tensor([...x.shape.slice(0, -1), outF], tp.needsGrad(x, w, b), name);
  const bFormat = w.format;
  tp.be.matmul({
    out: y.store,
    a: x.store,
    b: w.store,
    bFormat,
    M: N,
    N: outF,
    K: inF,
    transB: layout === 'out_in',
  });
  if (b) tp.be.biasAdd({ x: y.store, bias: b.store, rows: N, cols: outF });
  if (!y.requiresGrad) return y;
  tp.record(name, () => {
    const dy = tp.gradOf(y);
    if (!dy) return;
    if (x.requiresGrad) {
      const t = tp.gradTarget(x);
      // dx = dy · Wᵀ in the [in,out] view: B is W itself, stored [N=in, K=out] for in_out.
      tp.be.matmul({
        out: t.buf,
        a: dy,
        b: w.store,
        bFormat,
        M: N,
        N: inF,
        K: outF,
        transB: layout === 'in_out',
        accumulate: t.accumulate,
      });
      tp.wrote(x);
    }
    if (w.requiresGrad) {
      const t = tp.gradTarget(w);
      if (layout === 'in_out') {
        tp.be.matmul({
          out: t.buf,
          a: x.store,
          b: dy,
          M: inF,
          N: outF,
          K: N,
          transA: true,
          accumulate: t.accumulate,
        });
      } else {
        tp.be.matmul({
          out: t.buf,
          a: dy,
          b: x.store,
          M: outF,
          N: inF,
          K: N,
          transA: true,
          accumulate: t.accumulate,
        });
      }
      tp.wrote(w);
    }
    if (b?.requiresGrad) {
      const t = tp.gradTarget(b);
      tp.be.biasGrad({ dBias: t.buf, dOut: dy, rows: N, cols: outF, accumulate: t.accumulate });
      tp.wrote(b);
    }
  });
  return y;
}

export function add<S, I>(tp: Tape<S, I>, a: Tensor<S>, b: Tensor<S>, name: string): Tensor<S> {
  check(a.size === b.size, () => `${name}: adding [${a.shape}] and [${b.shape}]`);
  const y = tp.tensor(a.shape, tp.needsGrad(a, b), name);
  tp.be.add({ out: y.store, a: a.store, b: b.store, n: a.size });
  if (y.requiresGrad) {
    tp.record(name, () => {
      // Both inputs' gradients are dy: handed on, not copied (see Tape.routeGrad).
      tp.routeGrad(y, [a.requiresGrad ? a : null, b.requiresGrad ? b : null]);
    });
  }
  return y;
}

export function layerNorm<S, I>(
  tp: Tape<S, I>,
  x: Tensor<S>,
  gamma: Tensor<S>,
  beta: Tensor<S>,
  eps: number,
  name: string,
): Tensor<S> {
  const cols = last(x);
  const rows = rowsOf(x);
  check(
    gamma.size === cols && beta.size === cols,
    () => `${name}: norm weights of ${gamma.size} for ${cols} features`,
  );
  const y = tp.tensor(x.shape, tp.needsGrad(x, gamma, beta), name);
  const mean = tp.scratch(rows, `${name}.mean`);
  const rstd = tp.scratch(rows, `${name}.rstd`);
  tp.be.layerNorm({
    out: y.store,
    mean,
    rstd,
    x: x.store,
    gamma: gamma.store,
    beta: beta.store,
    rows,
    cols,
    eps,
  });
  if (y.requiresGrad) {
    tp.record(name, () => {
      const dy = tp.gradOf(y);
      if (!dy) return;
      const dx = x.requiresGrad ? tp.gradTarget(x) : null;
      const dg = gamma.requiresGrad ? tp.gradTarget(gamma) : null;
      const db = beta.requiresGrad ? tp.gradTarget(beta) : null;
      // Parameter grads of one norm are either both fresh or both accumulated (they are written together).
      tp.be.layerNormBackward({
        dx: dx?.buf ?? null,
        dGamma: dg?.buf ?? null,
        dBeta: db?.buf ?? null,
        dOut: dy,
        x: x.store,
        mean,
        rstd,
        gamma: gamma.store,
        rows,
        cols,
        accumulateDx: dx?.accumulate ?? false,
        accumulateParams: dg?.accumulate ?? db?.accumulate ?? false,
      });
      if (dx) tp.wrote(x);
      if (dg) tp.wrote(gamma);
      if (db) tp.wrote(beta);
    });
  }
  return y;
}

export function rmsNorm<S, I>(
  tp: Tape<S, I>,
  x: Tensor<S>,
  gamma: Tensor<S>,
  eps: number,
  name: string,
): Tensor<S> {
  const cols = last(x);
  const rows = rowsOf(x);
  check(gamma.size === cols, () => `${name}: norm weight of ${gamma.size} for ${cols} features`);
  const y = tp.tensor(x.shape, tp.needsGrad(x, gamma), name);
  const rstd = tp.scratch(rows, `${name}.rstd`);
  tp.be.rmsNorm({ out: y.store, rstd, x: x.store, gamma: gamma.store, rows, cols, eps });
  if (y.requiresGrad) {
    tp.record(name, () => {
      const dy = tp.gradOf(y);
      if (!dy) return;
      const dx = x.requiresGrad ? tp.gradTarget(x) : null;
      const dg = gamma.requiresGrad ? tp.gradTarget(gamma) : null;
      tp.be.rmsNormBackward({
        dx: dx?.buf ?? null,
        dGamma: dg?.buf ?? null,
        dOut: dy,
        x: x.store,
        rstd,
        gamma: gamma.store,
        rows,
        cols,
        accumulateDx: dx?.accumulate ?? false,
        accumulateParams: dg?.accumulate ?? false,
      });
      if (dx) tp.wrote(x);
      if (dg) tp.wrote(gamma);
    });
  }
  return y;
}

export function gelu<S, I>(tp: Tape<S, I>, x: Tensor<S>, name: string): Tensor<S> {
  const n = x.size;
  return elementwise(
    tp,
    x,
    name,
    (y) => tp.be.gelu({ out: y.store, x: x.store, n }),
    (dx, dOut, accumulate) => tp.be.geluBackward({ dx, dOut, x: x.store, n, accumulate }),
  );
}

export function swiglu<S, I>(tp: Tape<S, I>, gate: Tensor<S>, up: Tensor<S>, name: string): Tensor<S> {
  check(gate.size === up.size, () => `${name}: gate [${gate.shape}] and up [${up.shape}] differ`);
  const y = tp.tensor(gate.shape, tp.needsGrad(gate, up), name);
  tp.be.swiglu({ out: y.store, gate: gate.store, up: up.store, n: gate.size });
  if (y.requiresGrad) {
    tp.record(name, () => {
      const dy = tp.gradOf(y);
      if (!dy) return;
      // swigluBackward overwrites; go through temporaries when a gradient is already partly summed.
      const fresh = (t: Tensor<S>) => t.requiresGrad && !tp.gradTarget(t).accumulate;
      if ((!gate.requiresGrad || fresh(gate)) && (!up.requiresGrad || fresh(up))) {
        tp.be.swigluBackward({
          dGate: gate.requiresGrad ? tp.gradTarget(gate).buf : null,
          dUp: up.requiresGrad ? tp.gradTarget(up).buf : null,
          dOut: dy,
          gate: gate.store,
          up: up.store,
          n: gate.size,
        });
        if (gate.requiresGrad) tp.wrote(gate);
        if (up.requiresGrad) tp.wrote(up);
      } else {
        if (gate.requiresGrad)
          tp.writeGrad(gate, (d) =>
            tp.be.swigluBackward({
              dGate: d,
              dUp: null,
              dOut: dy,
              gate: gate.store,
              up: up.store,
              n: gate.size,
            }),
          );
        if (up.requiresGrad)
          tp.writeGrad(up, (d) =>
            tp.be.swigluBackward({
              dGate: null,
              dUp: d,
              dOut: dy,
              gate: gate.store,
              up: up.store,
              n: gate.size,
            }),
          );
      }
    });
  }
  return y;
}

/** Rotary embedding over x [B, T, H·D] (HF rotate_half); the backward is the inverse rotation. */
export function rope<S, I>(
  tp: Tape<S, I>,
  x: Tensor<S>,
  dims: Omit<RopeArgs<S, I>, 'out' | 'x' | 'inverse'>,
  name: string,
): Tensor<S> {
  check(x.size === dims.B * dims.T * dims.H * dims.D, () => `${name}: [${x.shape}] is not B·T·H·D`);
  const y = tp.tensor(x.shape, tp.needsGrad(x), name);
  tp.be.rope({ out: y.store, x: x.store, ...dims });
  if (y.requiresGrad) {
    tp.record(name, () => {
      const dy = tp.gradOf(y);
      if (!dy) return;
      tp.writeGrad(x, (d) => tp.be.rope({ out: d, x: dy, ...dims, inverse: true }));
    });
  }
  return y;
}

/**
 * Causal attention over q [B,T,Hq·D], k/v [B,S,Hkv·D], with an optional shared prefix [P, Hkv·D]. Reading a
 * KV cache: k/v are [B, kvStride, Hkv·D] of which the first S rows per item are attended, and `kvStart` (i32
 * [B]) gives each item's first visible key (left padding). Those two are forward-only (generation).
 * `segments` (i32 [B,S], packed rows) blocks attention across examples: a real key is seen only by queries
 * of its own id, or by every query when its id is negative; differentiable.
 */
export function attention<S, I>(
  tp: Tape<S, I>,
  q: Tensor<S>,
  k: Tensor<S>,
  v: Tensor<S>,
  dims: AttentionDims,
  prefix: { k: Tensor<S>; v: Tensor<S> } | null,
  name: string,
  kvStart: I | null = null,
  segments: I | null = null,
): Tensor<S> {
  const { B, T, S: Sk, Hq, Hkv, D } = dims;
  const stride = dims.kvStride ?? Sk;
  check(q.size === B * T * Hq * D, () => `${name}: q [${q.shape}] is not B·T·Hq·D`);
  check(
    k.size === B * stride * Hkv * D && v.size === k.size,
    () => `${name}: k/v [${k.shape}] are not B·${dims.kvStride === undefined ? 'S' : 'kvStride'}·Hkv·D`,
  );
  const P = prefix ? prefix.k.size / (Hkv * D) : 0;
  const full = { ...dims, P };
  const y = tp.tensor(q.shape, tp.needsGrad(q, k, v, prefix?.k, prefix?.v), name);
  check(
    !y.requiresGrad || (stride === Sk && !kvStart),
    () => `${name}: reading a KV cache (kvStride, kvStart) is forward-only; use a tape without gradients`,
  );
  const lse = tp.scratch(B * Hq * T, `${name}.lse`);
  tp.be.attention({
    ...full,
    out: y.store,
    lse,
    q: q.store,
    k: k.store,
    v: v.store,
    prefixK: prefix?.k.store ?? null,
    prefixV: prefix?.v.store ?? null,
    kvStart,
    segments,
  });
  if (y.requiresGrad) {
    tp.record(name, () => {
      const dy = tp.gradOf(y);
      if (!dy) return;
      // The kernel overwrites its outputs: give it temporaries for gradients that already hold a sum.
      const targets = [q, k, v, prefix?.k ?? null, prefix?.v ?? null].map((t) => {
        if (!t?.requiresGrad) return null;
        const g = tp.gradTarget(t);
        if (!g.accumulate) return { t, buf: g.buf, tmp: false };
        return { t, buf: tp.be.alloc(t.size, 'workspace', `d${t.name}.tmp`), tmp: true };
      });
      tp.be.attentionBackward({
        ...full,
        dq: targets[0]?.buf ?? null,
        dk: targets[1]?.buf ?? null,
        dv: targets[2]?.buf ?? null,
        dPrefixK: targets[3]?.buf ?? null,
        dPrefixV: targets[4]?.buf ?? null,
        dOut: dy,
        q: q.store,
        k: k.store,
        v: v.store,
        prefixK: prefix?.k.store ?? null,
        prefixV: prefix?.v.store ?? null,
        out: y.store,
        lse,
        segments,
      });
      for (const g of targets) {
        if (!g) continue;
        if (g.tmp) {
          tp.be.addInPlace({ a: tp.gradTarget(g.t).buf, b: g.buf, n: g.t.size });
          tp.be.free(g.buf);
        }
        tp.wrote(g.t);
      }
    });
  }
  return y;
}

/**
 * Rows of `table` [V, dim] picked by ids (known on the CPU too, for the deterministic backward). A frozen
 * table in a 16-bit or quantized format is read in that format (int8: one scale per row).
 */
export function embedding<S, I>(tp: Tape<S, I>, table: Tensor<S>, ids: Int32Array, name: string): Tensor<S> {
  refuseFormattedGrad(table, name);
  const [V, dim] = table.shape;
  for (let i = 0; i < ids.length; i++) {
    check(
      ids[i] >= 0 && ids[i] < V,
      () => `${name}: token id ${ids[i]} at position ${i} is outside the vocabulary of ${V}`,
    );
  }
  const N = ids.length;
  const y = tp.tensor([N, dim], tp.needsGrad(table), name);
  const idsDev = tp.ints(ids, `${name}.ids`);
  tp.be.embedding({
    out: y.store,
    table: table.store,
    tableFormat: table.format,
    ids: idsDev,
    idsCpu: ids,
    N,
    dim,
  });
  if (y.requiresGrad) {
    tp.record(name, () => {
      const dy = tp.gradOf(y);
      if (!dy) return;
      const buf = gradForPartialWrite(tp, table);
      tp.be.embeddingBackward({ dTable: buf, dOut: dy, idsCpu: ids, dim });
    });
  }
  return y;
}

/** Columns [offset, offset+width) of x [N, C] as a new [N, width] tensor (e.g. q, k, v out of c_attn). */
export function sliceCols<S, I>(
  tp: Tape<S, I>,
  x: Tensor<S>,
  offset: number,
  width: number,
  name: string,
): Tensor<S> {
  const C = last(x);
  const N = rowsOf(x);
  check(offset + width <= C, () => `${name}: columns [${offset}, ${offset + width}) of ${C}`);
  const y = tp.tensor([...x.shape.slice(0, -1), width], tp.needsGrad(x), name);
  tp.be.copy2d({
    out: y.store,
    x: x.store,
    rows: N,
    cols: width,
    srcStride: C,
    srcOffset: offset,
    dstStride: width,
    dstOffset: 0,
  });
  if (y.requiresGrad) {
    tp.record(name, () => {
      const dy = tp.gradOf(y);
      if (!dy) return;
      const buf = gradForPartialWrite(tp, x);
      tp.be.copy2d({
        out: buf,
        x: dy,
        rows: N,
        cols: width,
        srcStride: width,
        srcOffset: 0,
        dstStride: C,
        dstOffset: offset,
        accumulate: true,
      });
    });
  }
  return y;
}

/** y = x ⊙ v over the last dimension (IA3 scaling, DoRA magnitudes). */
export function mulVec<S, I>(tp: Tape<S, I>, x: Tensor<S>, v: Tensor<S>, name: string): Tensor<S> {
  const cols = last(x);
  const rows = rowsOf(x);
  check(v.size === cols, () => `${name}: vector of ${v.size} for ${cols} features`);
  const y = tp.tensor(x.shape, tp.needsGrad(x, v), name);
  tp.be.mulVec({ out: y.store, x: x.store, v: v.store, rows, cols });
  if (y.requiresGrad) {
    tp.record(name, () => {
      const dy = tp.gradOf(y);
      if (!dy) return;
      const dx = x.requiresGrad ? tp.gradTarget(x) : null;
      const dv = v.requiresGrad ? tp.gradTarget(v) : null;
      tp.be.mulVecBackward({
        dx: dx?.buf ?? null,
        dv: dv?.buf ?? null,
        dOut: dy,
        x: x.store,
        v: v.store,
        rows,
        cols,
        accumulateDx: dx?.accumulate ?? false,
        accumulateDv: dv?.accumulate ?? false,
      });
      if (dx) tp.wrote(x);
      if (dv) tp.wrote(v);
    });
  }
  return y;
}

/** y = alpha·x. */
export function scale<S, I>(tp: Tape<S, I>, x: Tensor<S>, alpha: number, name: string): Tensor<S> {
  const n = x.size;
  return elementwise(
    tp,
    x,
    name,
    (y) => tp.be.scale({ out: y.store, x: x.store, n, alpha }),
    (dx, dy, accumulate) => tp.be.scale({ out: dx, x: dy, n, alpha, accumulate }),
  );
}

/** Inverted dropout from a counter-based RNG: the backward regenerates the mask instead of storing it. */
export function dropout<S, I>(
  tp: Tape<S, I>,
  x: Tensor<S>,
  p: number,
  seed: number,
  stream: number,
  name: string,
): Tensor<S> {
  if (p <= 0) return x;
  const n = x.size;
  return elementwise(
    tp,
    x,
    name,
    (y) => tp.be.dropout({ out: y.store, x: x.store, n, p, seed, stream }),
    (dx, dOut, accumulate) => tp.be.dropoutBackward({ dx, dOut, n, p, seed, stream, accumulate }),
  );
}

/**
 * Mean softmax cross-entropy of logits [N, V] against targets (-100 ignored), as a [1] tensor. The fused
 * kernel writes d(loss)/d(logits) during the forward pass, so this must be the last op before backward.
 * `weight` multiplies the loss (and its gradient), for losses summed with others.
 */
export function crossEntropy<S, I>(
  tp: Tape<S, I>,
  logits: Tensor<S>,
  targets: Int32Array,
  name: string,
  weight = 1,
): Tensor<S> {
  const V = last(logits);
  const N = rowsOf(logits);
  check(targets.length === N, () => `${name}: ${targets.length} targets for ${N} rows of logits`);
  let count = 0;
  for (let i = 0; i < N; i++) {
    const t = targets[i];
    if (t === -100) continue;
    check(t >= 0 && t < V, () => `${name}: label ${t} at position ${i} is outside the vocabulary of ${V}`);
    count++;
  }
  const scaleBy = count > 0 ? weight / count : 0;
  const losses = tp.scratch(N, `${name}.rows`);
  const loss = tp.tensor([1], false, name);
  const tgt = tp.ints(targets, `${name}.targets`);
  const wantGrad = tp.needsGrad(logits);
  let dLogits: S | null = null;
  if (wantGrad) {
    const t = tp.gradTarget(logits);
    if (t.accumulate)
      throw new Error(`${name}: logits already carry a gradient; cross-entropy must come last`);
    dLogits = t.buf;
    tp.wrote(logits);
  }
  tp.be.crossEntropy({ losses, dLogits, logits: logits.store, targets: tgt, N, V, scale: scaleBy });
  tp.be.sum({ out: loss.store, x: losses, n: N, scale: scaleBy });
  return loss;
}
