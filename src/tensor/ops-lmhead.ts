// The language-model head and its cross-entropy, chunked over tokens, so the [N, V] logits never exist
// whole (Qwen's vocabulary is 151,936: B4·T512 of them would be 1.2 GB, and their gradient as much again).
// For each chunk of rows: logits = h·Wᵀ into one chunk buffer, the fused cross-entropy writes the per-row
// losses and overwrites the chunk with dLogits (scaled by weight/targets), then dH = dLogits·W and, when the
// head trains (full fine-tuning; GPT-2's head is the tied embedding), dW += dLogitsᵀ·h. All of it runs in
// the forward, as ops.crossEntropy writes its input's gradient there: this is the last op before backward,
// and it records no node (the hidden states' producer reads dH as usual). The head weight may be a frozen
// 16-bit or quantized format: every matmul reading it passes `bFormat`. A head held in row parts (a
// vocabulary too large for one buffer, split-weight.ts) computes each part's logits into a scratch and copies
// them into their column block of the chunk's [rows, V] logits, so the cross-entropy still sees whole rows;
// dH then sums the parts' products. Such a head is frozen: a trained head is one buffer.

import type { CrossEntropyArgs } from '../gpu/kernels/crossentropy';
import { splitOf, widestPart } from './split-weight';
import type { Tape, Tensor } from './tape';

/** Bytes of the chunk's logits buffer the chunk size aims at when the caller gives no rows. */
export const LM_HEAD_BUDGET_BYTES = 64 * 1024 * 1024;

export interface LmHeadLossOptions {
  /** Multiplies the loss and its gradient (1/k under gradient accumulation). Default 1. */
  weight?: number;
  /** Rows per chunk; default from `budgetBytes`. */
  chunkRows?: number;
  /** Bytes of one chunk's logits [rows, V]; default LM_HEAD_BUDGET_BYTES. */
  budgetBytes?: number;
  name?: string;
}

/** Rows per chunk so that one chunk's logits [rows, V] (f32) fit the budget: at least 1, at most N. */
export function lmHeadChunkRows(N: number, V: number, budgetBytes = LM_HEAD_BUDGET_BYTES): number {
  return Math.max(1, Math.min(N, Math.floor(budgetBytes / (4 * V))));
}

/**
 * Mean token cross-entropy of h·Wᵀ against targets (−100 ignored), as a [1] tensor: h [N, d] the final
 * hidden states, w [V, d] the head (stored [out, in]). Writes h's and (when trainable) w's gradients now.
 */
export function lmHeadLoss<S, I>(
  tp: Tape<S, I>,
  h: Tensor<S>,
  w: Tensor<S>,
  targets: Int32Array,
  opts: LmHeadLossOptions = {},
): Tensor<S> {
  const name = opts.name ?? 'loss';
  const [V, d] = w.shape;
  const N = h.size / d;
  if (h.shape[h.shape.length - 1] !== d || !Number.isInteger(N))
    throw new Error(`${name}: hidden states [${h.shape}] do not match the head ${w.name} [${w.shape}]`);
  if (targets.length !== N) throw new Error(`${name}: ${targets.length} targets for ${N} rows`);
  let count = 0;
  for (let i = 0; i < N; i++) {
    const t = targets[i];
    if (t === -100) continue;
    if (!(t >= 0 && t < V))
      throw new Error(`${name}: label ${t} at position ${i} is outside the vocabulary of ${V}`);
    count++;
  }
  const scale = count > 0 ? (opts.weight ?? 1) / count : 0;
  const split = splitOf(w);
  // A split head's part scratch [rows, widest part] counts against the chunk's budget too.
  const wide = split ? widestPart(split) : 0;
  const rows = Math.max(1, Math.min(N, opts.chunkRows ?? lmHeadChunkRows(N, V + wide, opts.budgetBytes)));
  const be = tp.be;
  const bFormat = w.format;
  const gradH = tp.needsGrad(h);
  const gradW = tp.needsGrad(w);
  if (split && gradW)
    throw new Error(
      `${name}: the head ${w.name} is held in ${split.parts.length} parts and cannot be trained`,
    );
  const dH = gradH ? tp.gradTarget(h) : null;
  if (dH?.accumulate)
    throw new Error(`${name}: hidden states already carry a gradient; the loss must come last`);
  const dW = gradW ? tp.gradTarget(w) : null;

  const losses = tp.scratch(N, `${name}.rows`);
  const loss = tp.tensor([1], false, name);
  // One chunk covering every row reads h and writes dH in place; more go through row copies.
  const whole = rows >= N;
  const logits = be.alloc(rows * V, 'workspace', `${name}.logits_chunk`);
  const hc = whole ? h.store : be.alloc(rows * d, 'workspace', `${name}.h_chunk`);
  const dhc = !dH ? null : whole ? dH.buf : be.alloc(rows * d, 'workspace', `${name}.dh_chunk`);
  const lc = whole ? losses : be.alloc(rows, 'workspace', `${name}.loss_chunk`);
  const pc = split ? be.alloc(rows * wide, 'workspace', `${name}.logits_part`) : null;
  /** Columns [c0, c0 + cols) of n rows between the chunk's [n, V] logits and the part scratch [n, cols]. */
  const block = (toLogits: boolean, n: number, c0: number, cols: number) =>
    be.copy2d({
      out: toLogits ? logits : pc!,
      x: toLogits ? pc! : logits,
      rows: n,
      cols,
      srcStride: toLogits ? cols : V,
      srcOffset: toLogits ? 0 : c0,
      dstStride: toLogits ? V : cols,
      dstOffset: toLogits ? c0 : 0,
    });
  const rowCopy = (out: S, x: S, n: number, cols: number, srcRow: number, dstRow: number) =>
    be.copy2d({
      out,
      x,
      rows: n,
      cols,
      srcStride: cols,
      srcOffset: srcRow * cols,
      dstStride: cols,
      dstOffset: dstRow * cols,
    });
  const grad = gradH || gradW;
  for (let r0 = 0; r0 < N; r0 += rows) {
    const n = Math.min(rows, N - r0);
    if (!whole) rowCopy(hc, h.store, n, d, r0, 0);
    // logits [n, V] = h_chunk [n, d] · Wᵀ (W stored [V, d]); per part into its column block when split.
    if (!split) be.matmul({ out: logits, a: hc, b: w.store, M: n, N: V, K: d, transB: true, bFormat });
    else
      for (const p of split.parts) {
        be.matmul({ out: pc!, a: hc, b: p.store, M: n, N: p.rows, K: d, transB: true, bFormat: p.format });
        block(true, n, p.row0, p.rows);
      }
    const tgt = tp.ints(whole ? targets : targets.subarray(r0, r0 + n), `${name}.targets`);
    // The kernel overwrites the logits with their gradient (inPlace: the GPU kernel's flag; the twin
    // computes before it writes, so the same storage as dLogits is safe there too).
    const ce: CrossEntropyArgs<S, I> & { inPlace?: boolean } = {
      losses: lc,
      dLogits: grad ? logits : null,
      logits,
      targets: tgt,
      N: n,
      V,
      scale,
      inPlace: grad,
    };
    be.crossEntropy(ce);
    if (!whole)
      be.copy2d({
        out: losses,
        x: lc,
        rows: 1,
        cols: n,
        srcStride: n,
        srcOffset: 0,
        dstStride: n,
        dstOffset: r0,
      });
    if (dH && dhc) {
      // dH chunk [n, d] = dLogits [n, V] · W [V, d]; summed over the parts' column blocks when split.
      if (!split) be.matmul({ out: dhc, a: logits, b: w.store, M: n, N: d, K: V, bFormat });
      else
        split.parts.forEach((p, i) => {
          block(false, n, p.row0, p.rows);
          const b = p.store;
          be.matmul({ out: dhc, a: pc!, b, M: n, N: d, K: p.rows, bFormat: p.format, accumulate: i > 0 });
        });
      if (!whole) rowCopy(dH.buf, dhc, n, d, 0, r0);
    }
    if (dW) {
      // dW [V, d] (+)= dLogitsᵀ [V, n] · h_chunk [n, d].
      const accumulate = r0 > 0 || dW.accumulate;
      be.matmul({ out: dW.buf, a: logits, b: hc, M: V, N: d, K: n, transA: true, accumulate });
    }
  }
  if (dH) tp.wrote(h);
  if (dW) tp.wrote(w);
  if (!whole) {
    be.free(lc);
    if (dhc) be.free(dhc);
    be.free(hc);
  }
  if (pc) be.free(pc);
  be.free(logits);
  be.sum({ out: loss.store, x: losses, n: N, scale });
  return loss;
}
