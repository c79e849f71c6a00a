// The primitive operations the autograd tape is built from, over an abstract storage type S: GpuRegion on
// the GPU backend (each primitive is one of our WGSL kernels) and Float64Array on the CPU twin backend
// (each primitive is the kernel's float64 reference). Model code written on the tape therefore runs on
// both, which is how whole-model gradients and training runs are checked against the twin.
// Argument objects mirror the GPU kernels' own (src/gpu/kernels/*.ts), with S in place of GpuRegion.

import type { MemoryCategory } from '../gpu/arena';
import type { ActivationKind } from '../gpu/kernels/activation.wgsl';
import type { SparseDims } from '../gpu/kernels/sparse';

export interface MatmulP<S> {
  out: S;
  a: S;
  b: S;
  M: number;
  N: number;
  K: number;
  transA?: boolean;
  transB?: boolean;
  batch?: number;
  strideA?: number;
  strideB?: number;
  strideOut?: number;
  accumulate?: boolean;
  alpha?: number;
}

export interface AttentionDimsP {
  B: number;
  T: number;
  S: number;
  Hq: number;
  Hkv: number;
  D: number;
  P?: number;
  scale?: number;
  /** Rows between batch items in k/v (a KV cache's capacity); default S. Forward only. */
  kvStride?: number;
}

/** Integer storage (token ids, targets, positions): GpuRegion of i32 on the GPU, Int32Array on the CPU. */
export interface Backend<S, I> {
  readonly kind: 'gpu' | 'cpu';
  alloc(n: number, category: MemoryCategory, label: string): S;
  free(s: S): void;
  upload(data: ArrayLike<number>, category: MemoryCategory, label: string): S;
  uploadInt(data: Int32Array, label: string): I;
  freeInt(i: I): void;
  read(s: S, n: number): Promise<Float64Array>;
  /** Overwrites the first data.length elements of s. */
  write(s: S, data: ArrayLike<number>): void;
  zero(s: S, n: number): void;
  /** out[dstOffset + r·dstStride + c] (+)= x[srcOffset + r·srcStride + c] for r < rows, c < cols. */
  copy2d(p: {
    out: S;
    x: S;
    rows: number;
    cols: number;
    srcStride: number;
    srcOffset: number;
    dstStride: number;
    dstOffset: number;
    accumulate?: boolean;
  }): void;
  add(p: { out: S; a: S; b: S; n: number }): void;
  addInPlace(p: { a: S; b: S; n: number }): void;
  scale(p: { out: S; x: S; n: number; alpha: number; accumulate?: boolean }): void;
  mulVec(p: { out: S; x: S; v: S; rows: number; cols: number; accumulate?: boolean }): void;
  mulVecBackward(p: {
    dx: S | null;
    dv: S | null;
    dOut: S;
    x: S;
    v: S;
    rows: number;
    cols: number;
    accumulateDx?: boolean;
    accumulateDv?: boolean;
  }): void;
  matmul(p: MatmulP<S>): void;
  biasAdd(p: { x: S; bias: S; rows: number; cols: number }): void;
  biasGrad(p: { dBias: S; dOut: S; rows: number; cols: number; accumulate?: boolean }): void;
  layerNorm(p: {
    out: S;
    mean: S;
    rstd: S;
    x: S;
    gamma: S;
    beta: S;
    rows: number;
    cols: number;
    eps: number;
  }): void;
  layerNormBackward(p: {
    dx: S | null;
    dGamma: S | null;
    dBeta: S | null;
    dOut: S;
    x: S;
    mean: S;
    rstd: S;
    gamma: S;
    rows: number;
    cols: number;
    accumulateDx?: boolean;
    accumulateParams?: boolean;
  }): void;
  rmsNorm(p: { out: S; rstd: S; x: S; gamma: S; rows: number; cols: number; eps: number }): void;
  rmsNormBackward(p: {
    dx: S | null;
    dGamma: S | null;
    dOut: S;
    x: S;
    rstd: S;
    gamma: S;
    rows: number;
    cols: number;
    accumulateDx?: boolean;
    accumulateParams?: boolean;
  }): void;
  gelu(p: { out: S; x: S; n: number }): void;
  geluBackward(p: { dx: S; dOut: S; x: S; n: number; accumulate?: boolean }): void;
  /** out = tanh(x) (prefix tuning's reparametrisation MLP). */
  tanh(p: { out: S; x: S; n: number }): void;
  /** dx (+)= dOut·(1 − y²) from the forward's output y = tanh(x). */
  tanhBackward(p: { dx: S; dOut: S; y: S; n: number; accumulate?: boolean }): void;
  swiglu(p: { out: S; gate: S; up: S; n: number }): void;
  swigluBackward(p: { dGate: S | null; dUp: S | null; dOut: S; gate: S; up: S; n: number }): void;
  rope(p: {
    out: S;
    x: S;
    B: number;
    T: number;
    H: number;
    D: number;
    theta: number;
    posOffset?: number;
    positions?: I | null;
    inverse?: boolean;
  }): void;
  /**
   * kvStart: i32 [B], each batch item's first visible real key (left-padded batches); forward only.
   * segments: i32 [B,S], packed rows' example ids (a real key is seen by queries of its id; negative: by all).
   */
  attention(
    p: AttentionDimsP & {
      out: S;
      lse: S;
      q: S;
      k: S;
      v: S;
      prefixK?: S | null;
      prefixV?: S | null;
      kvStart?: I | null;
      segments?: I | null;
    },
  ): void;
  attentionBackward(
    p: AttentionDimsP & {
      dq: S | null;
      dk: S | null;
      dv: S | null;
      dPrefixK?: S | null;
      dPrefixV?: S | null;
      dOut: S;
      q: S;
      k: S;
      v: S;
      prefixK?: S | null;
      prefixV?: S | null;
      out: S;
      lse: S;
      segments?: I | null;
    },
  ): void;
  embedding(p: {
    out: S;
    table: S;
    ids: I;
    idsCpu: Int32Array;
    N: number;
    dim: number;
    accumulate?: boolean;
  }): void;
  embeddingBackward(p: { dTable: S; dOut: S; idsCpu: Int32Array; dim: number }): void;
  /** Fused softmax cross-entropy: per-row losses and dLogits = scale·(softmax − onehot); -100 ignored. */
  crossEntropy(p: {
    losses: S;
    dLogits: S | null;
    logits: S;
    targets: I;
    N: number;
    V: number;
    scale: number;
  }): void;
  logSoftmaxGather(p: { out: S; logits: S; targets: I; N: number; V: number }): void;
  sum(p: { out: S; x: S; n: number; scale?: number; outIndex?: number }): void;
  sumSquares(p: { out: S; x: S; n: number; outIndex?: number }): void;
  clipScale(p: { scale: S; normSq: S; maxNorm: number; normSqCount?: number }): void;
  adamw(p: {
    params: S;
    grads: S;
    m: S;
    v: S;
    n: number;
    lr: number;
    beta1: number;
    beta2: number;
    eps: number;
    weightDecay: number;
    step: number;
    gradScale?: S | null;
  }): void;
  dropout(p: { out: S; x: S; n: number; p: number; seed: number; stream: number }): void;
  dropoutBackward(p: {
    dx: S;
    dOut: S;
    n: number;
    p: number;
    seed: number;
    stream: number;
    accumulate?: boolean;
  }): void;
  /** Standalone activations (bottleneck adapters): out = f(x) for ReLU, SiLU, exact GELU. */
  activation(p: { out: S; x: S; n: number; kind: ActivationKind }): void;
  activationBackward(p: {
    dx: S;
    dOut: S;
    x: S;
    n: number;
    kind: ActivationKind;
    accumulate?: boolean;
  }): void;
  /** w[idx[j]] += alpha·values[j] (sparse fine-tuning; distinct canonical [out, in] flat indices). */
  scatterAdd(p: SparseDims & { w: S; values: S; idx: I; alpha?: number }): void;
  /** out[j] (+)= x[idx[j]] (the scatter's backward). */
  gather(p: SparseDims & { out: S; x: S; idx: I; accumulate?: boolean }): void;
  /** out[k] = ‖row k‖₂ (perRow) or ‖column k‖₂ of x [rows, cols]; no gradient (DoRA's detached norm). */
  lineNorms(p: { out: S; x: S; rows: number; cols: number; perRow: boolean }): void;
  /** out[r,c] = x[r,c]·num[k]/(den[k] + eps), k = r (perRow) or c; null num/den are ones. In place allowed. */
  scaleLines(p: {
    out: S;
    x: S;
    rows: number;
    cols: number;
    perRow: boolean;
    num: S | null;
    den: S | null;
    eps?: number;
  }): void;
  /** out (+)= alpha·(a ⊗ b): a [a0,a1], b [b0,b1], out [a0·b0, a1·b1] or (transOut) its transpose. */
  kron(p: {
    out: S;
    a: S;
    b: S;
    a0: number;
    a1: number;
    b0: number;
    b1: number;
    alpha: number;
    transOut?: boolean;
    accumulate?: boolean;
  }): void;
  kronBackward(p: {
    da: S | null;
    db: S | null;
    dOut: S;
    a: S;
    b: S;
    a0: number;
    a1: number;
    b0: number;
    b1: number;
    alpha: number;
    accumulateDa?: boolean;
    accumulateDb?: boolean;
  }): void;
  // RLHF primitives (ops-rl.ts; kernels in rl.ts). Loss ops write their input's gradient in the forward.
  /** Per row of logits [N, V]: logp = log softmax[t] (0 where t < 0), the softmax's entropy, its lse. */
  tokenLogprobs(p: { logp: S; ent: S; lse: S; logits: S; targets: I; N: number; V: number }): void;
  /** dLogits (+)= g[r]·(onehot(t_r) − softmax_r) from the forward's saved lse. */
  logprobBackward(p: {
    dLogits: S;
    logits: S;
    targets: I;
    lse: S;
    g: S;
    N: number;
    V: number;
    accumulate?: boolean;
  }): void;
  /** Clipped policy loss + β·k3 KL over per-token log-probs; data = [old | ref | adv | w] (4N). */
  policyLoss(p: {
    logp: S;
    data: S;
    g: S;
    stats: S;
    N: number;
    clipLow: number;
    clipHigh: number;
    beta: number;
  }): void;
  /** Clipped value loss; data = [old | ret | w] (3N). */
  valueLoss(p: { v: S; data: S; g: S; stats: S; N: number; clip: number }): void;
  /** Pairwise sigmoid loss over scores [c0, r0, c1, r1, …] against ref of the same layout. */
  pairLoss(p: { s: S; ref: S; ds: S; stats: S; P: number; beta: number }): void;
  /** out[s] = Σ_t w[s·T + t]·x[s·T + t]. */
  segSum(p: { out: S; x: S; w: S; S: number; T: number }): void;
  segSumBackward(p: { dx: S; w: S; dOut: S; S: number; T: number; accumulate?: boolean }): void;
  /** A sub-range [offset, offset+n) of a flat allocation, as storage of its own (views into flat buffers). */
  view(s: S, offset: number, n: number): S;
  /** Elements a view's offset must be a multiple of (GPU: 64 floats = 256 bytes). */
  readonly viewAlign: number;
}
