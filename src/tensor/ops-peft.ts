// Differentiable ops the PEFT methods add on top of ops.ts: standalone activations (bottleneck adapters'
// ReLU / SiLU / exact GELU), a broadcast bias add (BitFit's zero-initialised biases on bias-less models,
// DoRA's base bias after its rescaling), the sparse weight W + scatter(values) with its gather backward
// (sparse fine-tuning), the compact N:M and row updates applied beside the base linear without building
// ΔW (sparse mask=nm, rows), and the PHM weight H = Σᵢ rule[i] ⊗ (left[i]·right[i]) built from matmul and
// copy2d primitives (Compacter). Kept apart from ops.ts so helpers adding other ops do not collide; same
// conventions: shapes checked here with names, gradients written only where needed.

import type { ActivationKind } from '../gpu/kernels/activation.wgsl';
import { LORA_FUSED_MAX_R } from '../gpu/kernels/lora-linear.wgsl';
import type { NmDims } from '../gpu/kernels/nm';
import type { SparseDims } from '../gpu/kernels/sparse';
import { elementwise } from './ops-elementwise';
import { type Tape, Tensor } from './tape';

function check(cond: boolean, msg: () => string): void {
  if (!cond) throw new Error(msg());
}

/** y = f(x) elementwise (ReLU, SiLU, exact GELU). */
export function activation<S, I>(
  tp: Tape<S, I>,
  x: Tensor<S>,
  kind: ActivationKind,
  name: string,
): Tensor<S> {
  const n = x.size;
  return elementwise(
    tp,
    x,
    name,
    (y) => tp.be.activation({ out: y.store, x: x.store, n, kind }),
    (dx, dOut, accumulate) => tp.be.activationBackward({ dx, dOut, x: x.store, n, kind, accumulate }),
  );
}

/** y = x + b over the last dimension (x [..., C], b [C]). */
export function addBias<S, I>(tp: Tape<S, I>, x: Tensor<S>, b: Tensor<S>, name: string): Tensor<S> {
  const cols = x.shape[x.shape.length - 1];
  check(b.size === cols, () => `${name}: bias ${b.name} has ${b.size} values for ${cols} features`);
  const rows = x.size / cols;
  const y = tp.tensor(x.shape, tp.needsGrad(x, b), name);
  tp.be.scale({ out: y.store, x: x.store, n: x.size, alpha: 1 });
  tp.be.biasAdd({ x: y.store, bias: b.store, rows, cols });
  if (y.requiresGrad) {
    tp.record(name, () => {
      const dy = tp.gradOf(y);
      if (!dy) return;
      if (x.requiresGrad) tp.accumulateGrad(x, dy);
      if (b.requiresGrad) {
        const t = tp.gradTarget(b);
        tp.be.biasGrad({ dBias: t.buf, dOut: dy, rows, cols, accumulate: t.accumulate });
        tp.wrote(b);
      }
    });
  }
  return y;
}

/**
 * W_eff = W + scatter(values) for a weight W (canonical [rows=out, cols=in], stored transposed when
 * `dims.transposed`) and values [k] at the fixed distinct indices idx. dValues = gather(dW_eff); W gets dW
 * only if it trains itself (it does not under sparse fine-tuning).
 */
export function sparseWeight<S, I>(
  tp: Tape<S, I>,
  w: Tensor<S>,
  values: Tensor<S>,
  idx: I,
  dims: SparseDims,
  name: string,
): Tensor<S> {
  check(
    w.size === dims.rows * dims.cols,
    () => `${name}: weight ${w.name} [${w.shape}] is not ${dims.rows}×${dims.cols}`,
  );
  check(values.size === dims.k, () => `${name}: ${values.size} values for ${dims.k} indices`);
  const y = tp.tensor(w.shape, tp.needsGrad(w, values), name);
  tp.be.scale({ out: y.store, x: w.store, n: w.size, alpha: 1 });
  tp.be.scatterAdd({ ...dims, w: y.store, values: values.store, idx });
  if (y.requiresGrad) {
    tp.record(name, () => {
      const dy = tp.gradOf(y);
      if (!dy) return;
      if (w.requiresGrad) tp.accumulateGrad(w, dy);
      if (values.requiresGrad) {
        const t = tp.gradTarget(values);
        tp.be.gather({ ...dims, out: t.buf, x: dy, idx, accumulate: t.accumulate });
        tp.wrote(values);
      }
    });
  }
  return y;
}

/**
 * out = y + x·ΔWᵀ for an N:M-structured ΔW held as compact values [outF·inF·n/m] at fixed indices (flat
 * canonical [out, in], sorted, n per group of m inputs): y is the base linear's output [..., outF], x its
 * input [..., inF]. Neither ΔW nor a dense dW is formed: dValues and dx come from the structured kernels.
 */
export function nmLinear<S, I>(
  tp: Tape<S, I>,
  y: Tensor<S>,
  x: Tensor<S>,
  values: Tensor<S>,
  idx: I,
  d: Omit<NmDims, 'rows'>,
  name: string,
): Tensor<S> {
  const rows = x.size / d.inF;
  const dims = { ...d, rows };
  check(
    Number.isInteger(rows) && y.size === rows * d.outF,
    () => `${name}: x [${x.shape}] and y [${y.shape}] do not fit ${d.inF}→${d.outF}`,
  );
  check(
    values.size === (d.outF * d.inF * d.n) / d.m,
    () => `${name}: ${values.size} values for ${d.n}:${d.m} of ${d.outF}×${d.inF}`,
  );
  const out = tp.tensor(y.shape, tp.needsGrad(y, x, values), name);
  tp.be.scale({ out: out.store, x: y.store, n: y.size, alpha: 1 });
  tp.be.nmMatmul({ ...dims, y: out.store, x: x.store, v: values.store, idx, accumulate: true });
  if (out.requiresGrad) {
    tp.record(name, () => {
      const dy = tp.gradOf(out);
      if (!dy) return;
      if (y.requiresGrad) tp.accumulateGrad(y, dy);
      if (values.requiresGrad) {
        const t = tp.gradTarget(values);
        tp.be.nmGradValues({ ...dims, dv: t.buf, dy, x: x.store, idx, accumulate: t.accumulate });
        tp.wrote(values);
      }
      if (x.requiresGrad) {
        const t = tp.gradTarget(x);
        tp.be.nmGradInput({ ...dims, dx: t.buf, dy, v: values.store, idx, accumulate: t.accumulate });
        tp.wrote(x);
      }
    });
  }
  return out;
}

/**
 * out = y + x·ΔWᵀ where ΔW [outF, inF] is zero except rows idx (k distinct output rows), which hold values
 * [k, inF]: z = values·xᵀ [k, tokens] (a dense product over the k rows only) is added into y's columns idx.
 * Backward: dz = dy's columns idx, dValues = dz·x, dx = dzᵀ·values; nothing of size outF×inF is formed.
 */
export function rowsLinear<S, I>(
  tp: Tape<S, I>,
  y: Tensor<S>,
  x: Tensor<S>,
  values: Tensor<S>,
  idx: I,
  d: { k: number; outF: number; inF: number },
  name: string,
): Tensor<S> {
  const rows = x.size / d.inF;
  check(
    Number.isInteger(rows) && y.size === rows * d.outF,
    () => `${name}: x [${x.shape}] and y [${y.shape}] do not fit ${d.inF}→${d.outF}`,
  );
  check(
    values.size === d.k * d.inF,
    () => `${name}: values ${values.name} [${values.shape}] is not [${d.k}, ${d.inF}]`,
  );
  const be = tp.be;
  const cols = { k: d.k, len: rows, cols: d.outF, byColumn: true };
  const out = tp.tensor(y.shape, tp.needsGrad(y, x, values), name);
  be.scale({ out: out.store, x: y.store, n: y.size, alpha: 1 });
  const z = tp.scratch(d.k * rows, `${name}.z`);
  be.matmul({ out: z, a: values.store, b: x.store, M: d.k, N: rows, K: d.inF, transB: true });
  be.indexAdd({ ...cols, out: out.store, x: z, idx });
  if (out.requiresGrad) {
    tp.record(name, () => {
      const dy = tp.gradOf(out);
      if (!dy) return;
      if (y.requiresGrad) tp.accumulateGrad(y, dy);
      if (!values.requiresGrad && !x.requiresGrad) return;
      const dz = tp.scratch(d.k * rows, `${name}.dz`);
      be.indexGather({ ...cols, out: dz, x: dy, idx });
      if (values.requiresGrad) {
        const t = tp.gradTarget(values);
        be.matmul({ out: t.buf, a: dz, b: x.store, M: d.k, N: d.inF, K: rows, accumulate: t.accumulate });
        tp.wrote(values);
      }
      if (x.requiresGrad) {
        const t = tp.gradTarget(x);
        be.matmul({
          out: t.buf,
          a: dz,
          b: values.store,
          M: rows,
          N: d.inF,
          K: d.k,
          transA: true,
          accumulate: t.accumulate,
        });
        tp.wrote(x);
      }
    });
  }
  return out;
}

/**
 * The PHM weight H [n·P, n·Q] (stored [in, out], used with layout 'in_out'), H[(a,p),(b,q)] =
 * Σᵢ rule[i,a,b]·(left[i]·right[i])[p,q], from rule [n,n,n], left [n,P,r], right [n,r,Q] — the adapters
 * library's kronecker_product(rule, W).sum(0) with W = bmm(left, right). Built as S = bmm(left, right),
 * M = ruleᵀ·S ([(a,b), (p,q)]) and n² block copies into H's [(a,p), (b,q)] order; the backward runs the
 * same steps transposed.
 */
export function phmWeight<S, I>(
  tp: Tape<S, I>,
  rule: Tensor<S>,
  left: Tensor<S>,
  right: Tensor<S>,
  name: string,
): Tensor<S> {
  const [n, P, r] = left.shape;
  const Q = right.shape[2];
  check(
    rule.shape.length === 3 && rule.shape.every((x) => x === n),
    () => `${name}: rule ${rule.name} is [${rule.shape}], expected [${n},${n},${n}]`,
  );
  check(
    right.shape[0] === n && right.shape[1] === r,
    () =>
      `${name}: right ${right.name} is [${right.shape}], expected [${n},${r},Q] to match left [${left.shape}]`,
  );
  const be = tp.be;
  const PQ = P * Q;
  const s = tp.scratch(n * PQ, `${name}.S`);
  be.matmul({
    out: s,
    a: left.store,
    b: right.store,
    M: P,
    N: Q,
    K: r,
    batch: n,
    strideA: P * r,
    strideB: r * Q,
    strideOut: PQ,
  });
  const m = tp.scratch(n * n * PQ, `${name}.M`);
  be.matmul({ out: m, a: rule.store, b: s, M: n * n, N: PQ, K: n, transA: true });
  const h = tp.tensor([n * P, n * Q], tp.needsGrad(rule, left, right), name);
  const blocks = (toH: boolean, src: S, dst: S) => {
    for (let a = 0; a < n; a++) {
      for (let b = 0; b < n; b++) {
        const mOff = (a * n + b) * PQ;
        const hOff = a * P * n * Q + b * Q;
        be.copy2d({
          out: dst,
          x: src,
          rows: P,
          cols: Q,
          srcStride: toH ? Q : n * Q,
          srcOffset: toH ? mOff : hOff,
          dstStride: toH ? n * Q : Q,
          dstOffset: toH ? hOff : mOff,
        });
      }
    }
  };
  blocks(true, m, h.store);
  if (h.requiresGrad) {
    tp.record(name, () => {
      const dh = tp.gradOf(h);
      if (!dh) return;
      const dm = tp.scratch(n * n * PQ, `${name}.dM`);
      blocks(false, dh, dm);
      if (rule.requiresGrad) {
        // dRule[i, (a,b)] = Σ_pq S[i, pq]·dM[(a,b), pq]
        const t = tp.gradTarget(rule);
        be.matmul({ out: t.buf, a: s, b: dm, M: n, N: n * n, K: PQ, transB: true, accumulate: t.accumulate });
        tp.wrote(rule);
      }
      if (!left.requiresGrad && !right.requiresGrad) return;
      // dS[i, pq] = Σ_(a,b) rule[i, (a,b)]·dM[(a,b), pq]
      const ds = tp.scratch(n * PQ, `${name}.dS`);
      be.matmul({ out: ds, a: rule.store, b: dm, M: n, N: PQ, K: n * n });
      const batch = { batch: n, strideOut: 0, strideA: 0, strideB: 0 };
      if (left.requiresGrad) {
        const t = tp.gradTarget(left);
        be.matmul({
          ...batch,
          out: t.buf,
          a: ds,
          b: right.store,
          M: P,
          N: r,
          K: Q,
          transB: true,
          strideA: PQ,
          strideB: r * Q,
          strideOut: P * r,
          accumulate: t.accumulate,
        });
        tp.wrote(left);
      }
      if (right.requiresGrad) {
        const t = tp.gradTarget(right);
        be.matmul({
          ...batch,
          out: t.buf,
          a: left.store,
          b: ds,
          M: r,
          N: Q,
          K: P,
          transA: true,
          strideA: P * r,
          strideB: PQ,
          strideOut: r * Q,
          accumulate: t.accumulate,
        });
        tp.wrote(right);
      }
    });
  }
  return h;
}

/**
 * LoRA's extra path added into the base output in place: y += s·(x·Aᵀ)·Bᵀ, with A [r, in] and B [out, r]
 * (PEFT's nn.Linear layouts). Neither s·(x·A)·B nor y + it is ever a tensor: the only new storage is
 * t = x·Aᵀ [N, r]. The result shares y's storage and gradient (y's producer, a linear, never reads its own
 * output); its backward reads that gradient (before y's producer, which was recorded first) and writes
 * dA, dB, dx with s folded in: no scaled copies. Where the backend says the fused kernels pay
 * (lora-linear.ts loraFusedPays: rank ≤ 64 on a hardware GPU) they do it in one pass forward and two
 * backward (t and the sum in one kernel; u = s·dy·B with dx; dA with dB); else matmuls with s as alpha
 * and the sum as accumulate (2 forward, 4 backward).
 */
export function loraAddInto<S, I>(
  tp: Tape<S, I>,
  y: Tensor<S>,
  x: Tensor<S>,
  A: Tensor<S>,
  B: Tensor<S>,
  s: number,
  name: string,
): Tensor<S> {
  const [r, inF] = A.shape;
  const outF = B.shape[0];
  const N = x.size / inF;
  check(
    x.shape[x.shape.length - 1] === inF && B.shape[1] === r && y.size === N * outF,
    () => `${name}: x [${x.shape}], A [${A.shape}], B [${B.shape}] and y [${y.shape}] do not chain`,
  );
  const dims = { M: N, inF, outF, r, s };
  // The meter backend answers undefined: either path allocates the same.
  const fused = r <= LORA_FUSED_MAX_R && !!tp.be.loraFused({ M: N, r });
  const xa = tp.scratch(N * r, `${name}.xA`);
  if (fused) tp.be.loraForward({ ...dims, y: y.store, t: xa, x: x.store, A: A.store, B: B.store });
  else {
    tp.be.matmul({ out: xa, a: x.store, b: A.store, M: N, N: r, K: inF, transB: true });
    tp.be.matmul({
      out: y.store,
      a: xa,
      b: B.store,
      M: N,
      N: outF,
      K: r,
      transB: true,
      alpha: s,
      accumulate: true,
    });
  }
  const root = y.base ?? y;
  const out = new Tensor<S>(y.shape, y.store, tp.needsGrad(y, x, A, B), name, false, root);
  if (!out.requiresGrad) return out;
  // The matmul backward's d(xA), taken now (N·r, small) so each site has its own: a buffer freed by one
  // site's backward and taken again by the next would order their matmuls (matmul-queue.ts groups
  // independent ones into one dispatch).
  const dxa =
    !fused && (A.requiresGrad || x.requiresGrad) ? tp.scratch(N * r, `d${name}.xA`, 'workspace') : null;
  tp.record(name, () => {
    const dy = tp.gradOf(out);
    if (!dy) return;
    if (fused) loraBackwardFused(tp, dims, dy, xa, x, A, B, name);
    else loraBackwardMatmuls(tp, dims, dy, xa, dxa, x, A, B);
  });
  return out;
}

/** The fused backward: u = s·dy·B with dx (+)= u·A in one pass, then dA and dB in one more. */
function loraBackwardFused<S, I>(
  tp: Tape<S, I>,
  dims: { M: number; inF: number; outF: number; r: number; s: number },
  dy: S,
  xa: S,
  x: Tensor<S>,
  A: Tensor<S>,
  B: Tensor<S>,
  name: string,
): void {
  const needU = A.requiresGrad || x.requiresGrad;
  const u = needU ? tp.be.alloc(dims.M * dims.r, 'workspace', `d${name}.xA`) : null;
  if (u) {
    const gx = x.requiresGrad ? tp.gradTarget(x) : null;
    tp.be.loraBackwardRows({
      ...dims,
      u,
      dx: gx ? gx.buf : null,
      accumulateDx: gx?.accumulate,
      dy,
      A: A.store,
      B: B.store,
    });
    if (gx) tp.wrote(x);
  }
  const gA = A.requiresGrad ? tp.gradTarget(A) : null;
  const gB = B.requiresGrad ? tp.gradTarget(B) : null;
  if (gA || gB) {
    tp.be.loraBackwardWeights({
      ...dims,
      dA: gA ? gA.buf : null,
      accumulateDA: gA?.accumulate,
      dB: gB ? gB.buf : null,
      accumulateDB: gB?.accumulate,
      u: u ?? xa,
      x: x.store,
      dy,
      t: xa,
    });
    if (gA) tp.wrote(A);
    if (gB) tp.wrote(B);
  }
  if (u) tp.be.free(u);
}

/** The matmul backward (ranks above the fused kernels'): dB, d(xA) into `dxa`, dA, dx, s as alpha. */
function loraBackwardMatmuls<S, I>(
  tp: Tape<S, I>,
  dims: { M: number; inF: number; outF: number; r: number; s: number },
  dy: S,
  xa: S,
  dxa: S | null,
  x: Tensor<S>,
  A: Tensor<S>,
  B: Tensor<S>,
): void {
  const { M: N, inF, outF, r, s } = dims;
  if (B.requiresGrad) {
    // dB [out, r] (+)= s·dyᵀ·xA.
    const g = tp.gradTarget(B);
    tp.be.matmul({
      out: g.buf,
      a: dy,
      b: xa,
      M: outF,
      N: r,
      K: N,
      transA: true,
      alpha: s,
      accumulate: g.accumulate,
    });
    tp.wrote(B);
  }
  if (!dxa) return;
  // d(xA) [N, r] = s·dy·B.
  tp.be.matmul({ out: dxa, a: dy, b: B.store, M: N, N: r, K: outF, alpha: s });
  if (A.requiresGrad) {
    const g = tp.gradTarget(A);
    tp.be.matmul({
      out: g.buf,
      a: dxa,
      b: x.store,
      M: r,
      N: inF,
      K: N,
      transA: true,
      accumulate: g.accumulate,
    });
    tp.wrote(A);
  }
  if (x.requiresGrad) {
    const g = tp.gradTarget(x);
    tp.be.matmul({ out: g.buf, a: dxa, b: A.store, M: N, N: inF, K: r, accumulate: g.accumulate });
    tp.wrote(x);
  }
}
