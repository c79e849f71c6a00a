// The decoder-only transformer of both families on the autograd tape: GPT-2 (LayerNorm, learned positions,
// fused c_attn, GELU-tanh, tied head) and Llama (RMSNorm, RoPE, grouped-query attention, SwiGLU, optional
// q/k/v biases, tied or untied head). It exposes *sites* where fine-tuning methods attach — every linear,
// each sublayer output, attention's extra keys/values, the input embeddings — through `ModelHooks`, and it
// imports nothing from the methods themselves. With a KV cache (kvcache.ts) in the input, the same forward runs
// generation's prefill and decode steps: new keys/values go into the cache and attention reads all filled rows;
// the training path (no cache) is unchanged. Packed rows (several examples per row) pass their positions and
// segment ids: attention then stays within each example, so each sees what it would alone. A frozen
// embedding or head held in row parts (tensor/split-weight.ts: above the device's per-buffer limit) is read
// part by part here, in the lookup and in the logits.

import { type LinearSite, type LinearTensors, modelTensors, type NormTensors } from '../formats/architecture';
import type { ModelConfig } from '../formats/model-config';
import type { GemvMultiArgs, GemvMultiPart } from '../gpu/kernels/gemv-multi';
import { checkpoint } from '../tensor/checkpoint';
import * as op from '../tensor/ops';
import { linearResidual, ropePair } from '../tensor/ops-multi';
import type { ParamSet } from '../tensor/params';
import { splitEmbedding, splitLinear, splitOf } from '../tensor/split-weight';
import type { Tape, Tensor } from '../tensor/tape';
import type { KvCache } from './kvcache';

/** A linear layer as PEFT names it (declared with the tensors in formats/architecture.ts). */
export type { LinearSite };

export interface SublayerSite {
  layer: number;
  kind: 'attn' | 'mlp';
  /** Module path of the sublayer ("transformer.h.0.attn", "model.layers.0.self_attn", ...). */
  path: string;
}

/** Where methods plug in. Every hook is optional; the default is the plain model. */
export interface ModelHooks<S, I> {
  /** Replaces a linear layer's forward; `base` runs the frozen layer (so LoRA adds to it, IA3 scales it). */
  linear?(tp: Tape<S, I>, site: LinearSite, x: Tensor<S>, base: (x: Tensor<S>) => Tensor<S>): Tensor<S>;
  /**
   * True when `linear` only adds to what `base` returns (LoRA): base's output may then carry more than the
   * projection (the residual, folded into its dispatch), and the sum is unchanged.
   */
  additiveLinear?: boolean;
  /** Transforms a sublayer's output before the residual add (bottleneck adapters). */
  sublayer?(tp: Tape<S, I>, site: SublayerSite, h: Tensor<S>): Tensor<S>;
  /** Extra keys/values seen by every query of a layer (prefix tuning), each [P, Hkv·D]. */
  prefix?(tp: Tape<S, I>, layer: number): { k: Tensor<S>; v: Tensor<S> } | null;
  /** Virtual tokens prepended to the input embeddings (prompt tuning): [n, d] or null. */
  virtualTokens?(tp: Tape<S, I>): Tensor<S> | null;
  /**
   * Where the real tokens' positions start (prefix tuning: n). HF treats the n prefix entries as past keys and
   * numbers new tokens from the past length, so they take positions n..n+T−1; the prefix keys are never
   * rotated. Absent: 0. With a KV cache the cache's own positionOffset applies instead.
   */
  positionOffset?(): number;
}

export interface ForwardInput<S = unknown, I = unknown> {
  /** Token ids [B·T]. */
  ids: Int32Array;
  B: number;
  T: number;
  /** Position ids [B·T] (packing restarts them per example); default t (+ virtual tokens). */
  positions?: Int32Array;
  /**
   * Segment ids [B·T] of packed rows (pack.ts: 1.. per example, 0 padding): a token attends only to tokens of
   * its own segment (and the prefix and virtual tokens, which every segment sees). Absent: one per row.
   */
  segments?: Int32Array;
  /**
   * Generation (no gradients): this call's tokens fill cache rows [cache.length, +T'), attention reads every
   * filled row, and positions come from the cache (row − the item's first valid row). Virtual tokens are
   * inserted on the first call only, after each item's left padding. `positions` must not be given.
   */
  cache?: KvCache<S, I>;
  /** Logits of each item's last position only, [B, 1, V] (what generation reads); no gradients. */
  lastOnly?: boolean;
  /**
   * With a cache: run the plain kernels (k/v copied into the cache, separate RoPE and residual adds)
   * instead of the lean step: the reference the lean step is tested and timed against.
   */
  plain?: boolean;
  /**
   * With a cache, lean: several single-row projections of one input in one dispatch (q/k/v, gate/up) where
   * the device has it (generate.ts's DecodeAccel); false when it does not take a call (separate matmuls).
   */
  linears?: (p: GemvMultiArgs<S>) => boolean;
}

export interface HiddenResult<S> {
  /** Number of virtual tokens prepended (their logits are included; their labels must be ignored). */
  virtual: number;
  /** The final norm's output [B·T', d], what the head reads (RLHF value and reward heads read it too). */
  hidden: Tensor<S>;
}

export interface ForwardResult<S> extends HiddenResult<S> {
  /** [B, T', V] where T' = T + virtual tokens. */
  logits: Tensor<S>;
}

export function forward<S, I>(
  tp: Tape<S, I>,
  c: ModelConfig,
  ps: ParamSet<S, I>,
  input: ForwardInput<S, I>,
  hooks: ModelHooks<S, I> = {},
): ForwardResult<S> {
  const { hidden, virtual } = forwardHidden(tp, c, ps, input, hooks);
  const Tout = input.lastOnly ? 1 : input.T + virtual;
  const logits = headLogits(tp, hidden, ps.get(modelTensors(c).head));
  return { logits: tp.reshape(logits, [input.B, Tout, c.vocabSize]), virtual, hidden };
}

/** Logits [N, V] = hidden [N, d] · headᵀ, the head whole or (frozen, above the buffer limit) in row parts. */
export function headLogits<S, I>(tp: Tape<S, I>, hidden: Tensor<S>, head: Tensor<S>): Tensor<S> {
  const split = splitOf(head);
  if (split) return splitLinear(tp, hidden, split, 'lm_head');
  return op.linear(tp, hidden, head, null, 'out_in', 'lm_head');
}

/** The token embedding of ids, from a table whole or (frozen, above the buffer limit) in row parts. */
function embed<S, I>(tp: Tape<S, I>, table: Tensor<S>, ids: Int32Array, name: string): Tensor<S> {
  const split = splitOf(table);
  return split ? splitEmbedding(tp, split, ids, name) : op.embedding(tp, table, ids, name);
}

export interface HiddenOptions {
  /**
   * Activation checkpointing per block (training only): each block keeps only its input and runs again in
   * backward (checkpoint.ts).
   */
  checkpointing?: boolean;
}

/**
 * The model up to the final norm, without the head: what a chunked loss (ops-lmhead.ts) or a value head
 * reads, so the [B·T', V] logits are never made here. Generation and callers of `forward` get logits.
 */
export function forwardHidden<S, I>(
  tp: Tape<S, I>,
  c: ModelConfig,
  ps: ParamSet<S, I>,
  input: ForwardInput<S, I>,
  hooks: ModelHooks<S, I> = {},
  opts: HiddenOptions = {},
): HiddenResult<S> {
  const { B, T, cache } = input;
  if (input.ids.length !== B * T) throw new Error(`forward: ${input.ids.length} ids for B=${B}, T=${T}`);
  if ((cache || input.lastOnly) && tp.grad)
    throw new Error('forward: a KV cache and lastOnly are for generation, on a tape without gradients');
  if (cache && input.positions) throw new Error('forward: with a KV cache, positions come from the cache');
  if (cache && input.segments)
    throw new Error('forward: segments (packed rows) are for training, not a KV cache');
  if (input.segments && input.segments.length !== B * T)
    throw new Error(`forward: ${input.segments.length} segment ids for B=${B}, T=${T}`);
  if (input.positions && input.positions.length !== B * T)
    throw new Error(`forward: ${input.positions.length} position ids for B=${B}, T=${T}`);
  if (cache && cache.B !== B) throw new Error(`forward: a KV cache of ${cache.B} items for B=${B}`);
  const d = c.hiddenSize;
  const t = modelTensors(c);
  const param = (name: string) => ps.get(name);

  // Embeddings, with virtual tokens (prompt tuning) prepended per batch item (after its padding, with a cache).
  let x = embed(tp, param(t.embed), input.ids, 'embed');
  const virt = !cache || cache.length === 0 ? (hooks.virtualTokens?.(tp) ?? null) : null;
  const nv = virt ? virt.shape[0] : 0;
  const Tt = T + nv;
  if (virt) x = prependVirtual(tp, virt, x, B, T, d, cache?.start);
  let positions: Int32Array;
  if (cache) {
    cache.reserve(Tt);
    positions = cache.positions(Tt);
    const top = positions.reduce((m, p) => Math.max(m, p), 0);
    if (top >= c.maxPositions)
      throw new Error(`position ${top} (KV cache) is past the model's ${c.maxPositions} positions`);
  } else {
    if (Tt > c.maxPositions)
      throw new Error(`sequence of ${Tt} tokens exceeds the model's ${c.maxPositions} positions`);
    positions = new Int32Array(B * Tt);
    for (let b = 0; b < B; b++) {
      for (let t = 0; t < Tt; t++) {
        positions[b * Tt + t] = t < nv ? t : input.positions ? nv + input.positions[b * T + t - nv] : t;
      }
    }
  }
  const off = cache ? 0 : (hooks.positionOffset?.() ?? 0);
  if (off > 0) {
    for (let i = 0; i < positions.length; i++) positions[i] += off;
    const top = positions.reduce((m, p) => Math.max(m, p), 0);
    if (top >= c.maxPositions)
      throw new Error(
        `position ${top} (real tokens start at ${off}, after the prefix) is past the model's ${c.maxPositions} positions`,
      );
  }
  const customPositions = off > 0 || nv > 0 || input.positions !== undefined || !!cache;
  if (t.positions) x = op.add(tp, x, embed(tp, param(t.positions), positions, 'wpe'), 'embed+pos');
  const posDev = c.positional === 'rope' && customPositions ? tp.ints(positions, 'positions') : null;
  const segDev = input.segments ? tp.ints(rowSegments(input.segments, B, T, nv), 'segments') : null;

  const dims = {
    B,
    T: Tt,
    positions: posDev,
    segments: segDev,
    cache,
    plain: input.plain,
    linears: input.linears,
  };
  const ckpt = !!opts.checkpointing && tp.grad && !cache;
  for (let i = 0; i < c.numLayers; i++) {
    x = ckpt
      ? checkpoint(tp, x, (inner, xin) => block(inner, c, ps, xin, i, dims, hooks), `${t.blocks[i].path}`)
      : block(tp, c, ps, x, i, dims, hooks);
  }
  cache?.advance(Tt);
  if (input.lastOnly && Tt > 1) x = lastRows(tp, x, B, Tt, d);
  const xf = norm(tp, c, ps, x, t.finalNorm);
  return { virtual: nv, hidden: xf };
}

/** One decoder block (attention and MLP sublayers with their residuals) over x [B·T, d]. */
export function block<S, I>(
  tp: Tape<S, I>,
  c: ModelConfig,
  ps: ParamSet<S, I>,
  x: Tensor<S>,
  i: number,
  dims: {
    B: number;
    T: number;
    positions: I | null;
    segments?: I | null;
    cache?: KvCache<S, I>;
    /** With a cache: the training path's kernels (no lean step). */
    plain?: boolean;
    /** ForwardInput.linears. */
    linears?: (p: GemvMultiArgs<S>) => boolean;
  },
  hooks: ModelHooks<S, I> = {},
): Tensor<S> {
  const { B, T: Tt, positions: posDev, cache } = dims;
  const d = c.hiddenSize;
  const H = c.numHeads;
  const Hkv = c.numKvHeads;
  const D = c.headDim;
  const b = modelTensors(c).blocks[i];
  const lin = (l: LinearTensors, xx: Tensor<S>): Tensor<S> => linearAt(tp, ps, l, xx, hooks);
  const { attnPath, mlpPath, path: lp } = b;
  // Generation's lean step (no gradients, a KV cache): keys and values go straight into the cache rows, q and
  // k rotate in one dispatch, and residuals accumulate into x inside the output projections — 5 dispatches
  // fewer per Llama layer. Each part needs the plain linear there (no linear hook) and the residual part no
  // sublayer hook (it needs the un-added output); `plain` keeps the training path's kernels throughout.
  const lean = !!cache && !tp.grad && !dims.plain;
  const leanLinear = lean && !hooks.linear;
  const norm1 = norm(tp, c, ps, x, b.attnNorm);
  let q: Tensor<S>;
  let k: Tensor<S> | null = null;
  let v: Tensor<S> | null = null;
  // This call's cache rows, when the projections can write there.
  const slot = leanLinear && cache ? cache.slots(i, Tt) : null;
  let inCache = false;
  // One dispatch for several single-row projections of one input (decode steps, where the device has it).
  const multi = leanLinear && Tt === 1 ? (dims.linears ?? null) : null;
  const fused =
    multi && !('fused' in b.attnIn)
      ? multiLinear(tp, ps, multi, norm1, B, [
          [b.attnIn.q, H * D, `${attnPath}.q`],
          [b.attnIn.k, Hkv * D, `${attnPath}.k`, slot?.k, slot?.strideB],
          [b.attnIn.v, Hkv * D, `${attnPath}.v`, slot?.v, slot?.strideB],
        ])
      : null;
  if ('fused' in b.attnIn) {
    // GPT-2's c_attn: one projection whose output columns are [q | k | v].
    const qkv = lin(b.attnIn.fused, norm1);
    q = op.sliceCols(tp, qkv, 0, d, `${attnPath}.q`);
    if (slot && (B === 1 || Tt === 1)) {
      // k and v columns copied from qkv straight into the cache rows (one strided copy each).
      for (const [col, dst] of [
        [d, slot.k],
        [2 * d, slot.v],
      ] as const)
        tp.be.copy2d({
          out: dst,
          x: qkv.store,
          rows: B * Tt,
          cols: d,
          srcStride: 3 * d,
          srcOffset: col,
          dstStride: Tt === 1 ? slot.strideB : d,
          dstOffset: 0,
        });
      inCache = true;
    } else {
      k = op.sliceCols(tp, qkv, d, d, `${attnPath}.k`);
      v = op.sliceCols(tp, qkv, 2 * d, d, `${attnPath}.v`);
    }
  } else if (fused) {
    q = tensorOf(fused[0]);
    k = fused[1];
    v = fused[2];
    inCache = !!slot;
  } else {
    q = lin(b.attnIn.q, norm1);
    if (slot && projectInto(tp, ps, b.attnIn.k, norm1, slot.k, B, Tt, slot.strideB)) {
      if (!projectInto(tp, ps, b.attnIn.v, norm1, slot.v, B, Tt, slot.strideB))
        throw new Error(`${attnPath}: v is not projected into the cache where k is`);
      inCache = true;
    } else {
      k = lin(b.attnIn.k, norm1);
      v = lin(b.attnIn.v, norm1);
    }
  }
  if (c.positional === 'rope') {
    const rp = { B, T: Tt, D, theta: c.ropeTheta ?? 10000, positions: posDev };
    if (lean) {
      // q and k in one dispatch: q into a new tensor, k in place in the cache rows (or into a new tensor).
      const qr = tp.tensor(q.shape, false, `${attnPath}.q_rope`);
      const kr = k ? tp.tensor(k.shape, false, `${attnPath}.k_rope`) : null;
      const pair =
        k && kr
          ? { x: k.store, out: kr.store, H: Hkv }
          : { x: slotOf(slot).k, out: slotOf(slot).k, H: Hkv, strideB: slotOf(slot).strideB };
      tp.be.rope({ out: qr.store, x: q.store, ...rp, H, pair });
      q = qr;
      if (kr) k = kr;
    } else if (dims.plain) {
      q = op.rope(tp, q, { ...rp, H }, `${attnPath}.q_rope`);
      k = op.rope(tp, tensorOf(k), { ...rp, H: Hkv }, `${attnPath}.k_rope`);
    } else {
      // Training: q and k in one dispatch, forward and backward.
      [q, k] = ropePair(tp, q, tensorOf(k), rp, H, Hkv, [`${attnPath}.q_rope`, `${attnPath}.k_rope`]);
    }
  }
  const prefix = hooks.prefix?.(tp, i) ?? null;
  let a: Tensor<S>;
  if (cache) {
    // Generation: append this call's keys/values (unless written there already), then attend over every
    // filled row of the cache.
    const kv = inCache ? cache.layer(i) : cache.write(tp, i, tensorOf(k), tensorOf(v), Tt);
    const dimsC = { B, T: Tt, S: cache.length + Tt, Hq: H, Hkv, D, kvStride: cache.capacity };
    a = op.attention(tp, q, kv.k, kv.v, dimsC, prefix, `${attnPath}.attention`, cache.kvStart);
  } else {
    const dimsA = { B, T: Tt, S: Tt, Hq: H, Hkv, D };
    a = op.attention(
      tp,
      q,
      tensorOf(k),
      tensorOf(v),
      dimsA,
      prefix,
      `${attnPath}.attention`,
      null,
      dims.segments ?? null,
    );
  }
  // Lean: x += a·W_o (+ bias) in the projection itself; x is this call's own activation, updated in place.
  const leanResid = leanLinear && !hooks.sublayer;
  // Training (and the plain cache path): y = x + a·W_o (+ bias) in one dispatch, into a new tensor (x is
  // saved for the norm's backward), where the linear hook only adds to the projection (or there is none).
  const foldResid = !leanResid && !dims.plain && !hooks.sublayer && (!hooks.linear || !!hooks.additiveLinear);
  if (leanResid) linearAddInto(tp, ps, b.attnOut, a, x);
  else if (foldResid) x = residualLinear(tp, ps, b.attnOut, a, x, hooks, `${lp}.resid_attn`);
  else {
    let o = lin(b.attnOut, a);
    if (hooks.sublayer) o = hooks.sublayer(tp, { layer: i, kind: 'attn', path: attnPath }, o);
    x = op.add(tp, x, o, `${lp}.resid_attn`);
  }

  const h = norm(tp, c, ps, x, b.mlpNorm);
  let mIn: Tensor<S>;
  const I = c.intermediateSize;
  const gu =
    multi && !('fc' in b.mlpIn)
      ? multiLinear(tp, ps, multi, h, B, [
          [b.mlpIn.gate, I, `${mlpPath}.gate`],
          [b.mlpIn.up, I, `${mlpPath}.up`],
        ])
      : null;
  if ('fc' in b.mlpIn) {
    mIn = op.gelu(tp, lin(b.mlpIn.fc, h), `${mlpPath}.gelu`);
  } else if (gu) {
    mIn = op.swiglu(tp, tensorOf(gu[0]), tensorOf(gu[1]), `${mlpPath}.swiglu`);
  } else {
    const gt = lin(b.mlpIn.gate, h);
    const upp = lin(b.mlpIn.up, h);
    mIn = op.swiglu(tp, gt, upp, `${mlpPath}.swiglu`);
  }
  if (leanResid) {
    linearAddInto(tp, ps, b.mlpOut, mIn, x);
    return x;
  }
  if (foldResid) return residualLinear(tp, ps, b.mlpOut, mIn, x, hooks, `${lp}.resid_mlp`);
  let m = lin(b.mlpOut, mIn);
  if (hooks.sublayer) m = hooks.sublayer(tp, { layer: i, kind: 'mlp', path: mlpPath }, m);
  x = op.add(tp, x, m, `${lp}.resid_mlp`);
  return x;
}

/** A tensor the code path guarantees (k and v exist unless they went into the cache). */
function tensorOf<S>(t: Tensor<S> | null): Tensor<S> {
  if (!t) throw new Error('transformer: k/v were written into the KV cache');
  return t;
}

function slotOf<S>(s: { k: S; v: S; strideB: number } | null): { k: S; v: S; strideB: number } {
  if (!s) throw new Error('transformer: no KV cache rows to rotate in');
  return s;
}

/**
 * Generation's single-row projections of one input x [B, d] in one dispatch through `multi`: per part [site,
 * N, name, out?, rowStride?], written into `out` (cache rows) when given, else into a new tensor [B, N]
 * (returned; null for `out` parts). Null (nothing recorded) when a site has a bias, a stored format or the
 * 'in_out' layout, or the device declines: the caller then projects part by part.
 */
function multiLinear<S, I>(
  tp: Tape<S, I>,
  ps: ParamSet<S, I>,
  multi: (p: GemvMultiArgs<S>) => boolean,
  x: Tensor<S>,
  B: number,
  parts: Array<[LinearTensors, number, string, S?, number?]>,
): Array<Tensor<S> | null> | null {
  const sites = parts.map(([l]) => linearParts(ps, l));
  if (sites.some((p, j) => p.w.format || !p.transB || p.outF !== parts[j][1])) return null;
  const outs = parts.map(([, N, name, out]) => (out ? null : tp.tensor([B, N], false, name)));
  const specs: GemvMultiPart<S>[] = parts.map(([, N, , out, rowStride], j) => ({
    w: sites[j].w.store,
    N,
    out: out ?? tensorOf(outs[j]).store,
    rowStride,
    bias: sites[j].bias?.store ?? null,
  }));
  return multi({ a: x.store, M: B, K: sites[0].inF, parts: specs }) ? outs : null;
}

/** A linear site's weight, bias and sizes, as op.linear reads them. */
function linearParts<S, I>(ps: ParamSet<S, I>, l: LinearTensors) {
  const { site } = l;
  const w = ps.get(`${site.path}.weight`);
  const [w0, w1] = w.shape;
  const transB = site.layout === 'out_in';
  return {
    w,
    bias: l.bias ? ps.get(`${site.path}.bias`) : null,
    inF: transB ? w1 : w0,
    outF: transB ? w0 : w1,
    transB,
  };
}

/**
 * Generation's k or v projection written straight into KV cache rows: item b's T rows of x·W (+ bias) go to
 * out + b·strideOut (batched matmul, W broadcast). False (nothing recorded) for a bias with B > 1 (the rows
 * are not contiguous for biasAdd); the caller then projects and copies.
 */
function projectInto<S, I>(
  tp: Tape<S, I>,
  ps: ParamSet<S, I>,
  l: LinearTensors,
  x: Tensor<S>,
  out: S,
  B: number,
  T: number,
  strideOut: number,
): boolean {
  const { w, bias, inF, outF, transB } = linearParts(ps, l);
  if (bias && B > 1) return false;
  const batched = B > 1 ? { batch: B, strideA: T * inF, strideB: 0, strideOut } : {};
  tp.be.matmul({ out, a: x.store, b: w.store, bFormat: w.format, M: T, N: outF, K: inF, transB, ...batched });
  if (bias) tp.be.biasAdd({ x: out, bias: bias.store, rows: T, cols: outF });
  return true;
}

/** Generation's residual inside the projection: x += a·W (+ bias), no separate add (no gradients). */
function linearAddInto<S, I>(
  tp: Tape<S, I>,
  ps: ParamSet<S, I>,
  l: LinearTensors,
  a: Tensor<S>,
  x: Tensor<S>,
): void {
  const { w, bias, inF, outF, transB } = linearParts(ps, l);
  const rows = x.size / outF;
  tp.be.matmul({
    out: x.store,
    a: a.store,
    b: w.store,
    bFormat: w.format,
    M: rows,
    N: outF,
    K: inF,
    transB,
    accumulate: true,
  });
  if (bias) tp.be.biasAdd({ x: x.store, bias: bias.store, rows, cols: outF });
}

/** The config's norm (LayerNorm with its bias, or RMSNorm) over x with a norm's tensors. */
function norm<S, I>(
  tp: Tape<S, I>,
  c: ModelConfig,
  ps: ParamSet<S, I>,
  x: Tensor<S>,
  n: NormTensors,
): Tensor<S> {
  const w = ps.get(`${n.path}.weight`);
  if (c.norm === 'rmsnorm') return op.rmsNorm(tp, x, w, c.normEps, n.path);
  // LayerNorm's tensors always include the bias (GPT-2's ln_1, ln_2, ln_f).
  return op.layerNorm(tp, x, w, ps.get(`${n.path}.bias`), c.normEps, n.path);
}

/**
 * x + (the linear layer at a site)(a), the residual folded into the projection's dispatch: the hook (which
 * only adds to its base, ModelHooks.additiveLinear) gets a base that includes x.
 */
function residualLinear<S, I>(
  tp: Tape<S, I>,
  ps: ParamSet<S, I>,
  l: LinearTensors,
  a: Tensor<S>,
  x: Tensor<S>,
  hooks: ModelHooks<S, I>,
  name: string,
): Tensor<S> {
  const { site } = l;
  const base = (aa: Tensor<S>) =>
    linearResidual(
      tp,
      x,
      aa,
      ps.get(`${site.path}.weight`),
      l.bias ? ps.get(`${site.path}.bias`) : null,
      site.layout,
      name,
    );
  return hooks.linear ? hooks.linear(tp, site, a, base) : base(a);
}

/** A linear layer at a site, through the method's hook when there is one. */
function linearAt<S, I>(
  tp: Tape<S, I>,
  ps: ParamSet<S, I>,
  l: LinearTensors,
  x: Tensor<S>,
  hooks: ModelHooks<S, I>,
): Tensor<S> {
  const { site } = l;
  const base = (xx: Tensor<S>) =>
    op.linear(
      tp,
      xx,
      ps.get(`${site.path}.weight`),
      l.bias ? ps.get(`${site.path}.bias`) : null,
      site.layout,
      site.path,
    );
  return hooks.linear ? hooks.linear(tp, site, x, base) : base(x);
}

/**
 * [n, d] virtual tokens + [B·T, d] embeddings → [B·(n+T), d], each batch item led by the n virtual rows. With
 * `pads` (generation's left padding, no gradients) item b's first pads[b] rows stay in front of the virtual
 * rows, so the virtual tokens directly precede its real ones as they would unpadded.
 */
function prependVirtual<S, I>(
  tp: Tape<S, I>,
  virt: Tensor<S>,
  x: Tensor<S>,
  B: number,
  T: number,
  d: number,
  pads?: ArrayLike<number>,
): Tensor<S> {
  const n = virt.shape[0];
  const Tt = n + T;
  const y = tp.tensor([B * Tt, d], tp.needsGrad(virt, x), 'embed+virtual');
  if (pads && y.requiresGrad) throw new Error('embed+virtual: padded virtual tokens are forward-only');
  const rows = (out: S, src: S, count: number, srcRow: number, dstRow: number) => {
    if (count > 0)
      tp.be.copy2d({
        out,
        x: src,
        rows: count,
        cols: d,
        srcStride: d,
        srcOffset: srcRow * d,
        dstStride: d,
        dstOffset: dstRow * d,
      });
  };
  for (let b = 0; b < B; b++) {
    const pad = pads ? pads[b] : 0;
    rows(y.store, x.store, pad, b * T, b * Tt);
    rows(y.store, virt.store, n, 0, b * Tt + pad);
    rows(y.store, x.store, T - pad, b * T + pad, b * Tt + pad + n);
  }
  if (y.requiresGrad) {
    tp.record('embed+virtual', () => {
      const dy = tp.gradOf(y);
      if (!dy) return;
      for (const [t, rows, srcOff, dstOff] of [
        [virt, n, 0, 0],
        [x, T, n, 0],
      ] as const) {
        if (!t.requiresGrad) continue;
        const g = tp.gradTarget(t);
        if (!g.accumulate) tp.be.zero(g.buf, t.size);
        tp.wrote(t);
        for (let b = 0; b < B; b++) {
          tp.be.copy2d({
            out: g.buf,
            x: dy,
            rows,
            cols: d,
            srcStride: d,
            srcOffset: (b * Tt + srcOff) * d,
            dstStride: d,
            // Virtual tokens are shared by the batch: their gradient sums over it.
            dstOffset: t === virt ? dstOff : b * T * d,
            accumulate: true,
          });
        }
      }
    });
  }
  return y;
}

/**
 * Segment ids per row of the model's input: n virtual tokens (prompt tuning) lead every row and are shared by all
 * its examples (id −1: every query sees them, as each example alone would), then the given ids.
 */
function rowSegments(segments: Int32Array, B: number, T: number, n: number): Int32Array {
  if (n === 0) return segments;
  const out = new Int32Array(B * (n + T));
  for (let b = 0; b < B; b++) {
    out.fill(-1, b * (n + T), b * (n + T) + n);
    out.set(segments.subarray(b * T, (b + 1) * T), b * (n + T) + n);
  }
  return out;
}

/** Rows (b, T−1) of x [B·T, d] as [B, d]: each item's last position (generation reads only those logits). */
function lastRows<S, I>(tp: Tape<S, I>, x: Tensor<S>, B: number, T: number, d: number): Tensor<S> {
  const y = tp.tensor([B, d], false, 'last_rows');
  tp.be.copy2d({
    out: y.store,
    x: x.store,
    rows: B,
    cols: d,
    srcStride: T * d,
    srcOffset: (T - 1) * d,
    dstStride: d,
    dstOffset: 0,
  });
  return y;
}
