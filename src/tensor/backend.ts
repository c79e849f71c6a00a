// The primitive operations the autograd tape is built from, over an abstract storage type S: GpuRegion on
// the GPU backend (each primitive is one of our WGSL kernels) and Float64Array on the CPU twin backend
// (each primitive is the kernel's float64 reference). Model code written on the tape therefore runs on
// both, which is how whole-model gradients and training runs are checked against the twin.
// Argument objects are the kernels' own, defined once beside each kernel (src/gpu/kernels/<op>.ts) over a
// storage type: S here stands where the kernel has GpuRegion, I where it has i32 ids.

import type { MemoryCategory } from '../gpu/arena';
import type { ActivationArgs, ActivationBackwardArgs } from '../gpu/kernels/activation';
import type { AdamwArgs } from '../gpu/kernels/adamw';
import type { AddArgs, AddInPlaceArgs } from '../gpu/kernels/add';
import type { AttentionArgs, AttentionBackwardArgs } from '../gpu/kernels/attention';
import type { BiasAddArgs, BiasGradArgs } from '../gpu/kernels/bias';
import type { Copy2dArgs } from '../gpu/kernels/copy2d';
import type { CrossEntropyArgs, LogSoftmaxGatherArgs } from '../gpu/kernels/crossentropy';
import type { DequantArgs } from '../gpu/kernels/dequant';
import type { DropoutArgs, DropoutBackwardArgs } from '../gpu/kernels/dropout';
import type { EmbeddingBackwardArgs, EmbeddingOpArgs } from '../gpu/kernels/embedding';
import type { GeluArgs, GeluBackwardArgs } from '../gpu/kernels/gelu';
import type { ClipScaleArgs, SumSquaresArgs } from '../gpu/kernels/gradnorm';
import type { KronArgs, KronBackwardArgs } from '../gpu/kernels/kron';
import type { LayerNormArgs, LayerNormBackwardArgs } from '../gpu/kernels/layernorm';
import type { LineNormsArgs, ScaleLinesArgs } from '../gpu/kernels/lines';
import type {
  LoraBackwardRowsArgs,
  LoraBackwardWeightsArgs,
  LoraForwardArgs,
} from '../gpu/kernels/lora-linear';
import type { MatmulArgs } from '../gpu/kernels/matmul';
import type { MatmulMultiArgs } from '../gpu/kernels/matmul-multi';
import type { NmGradInputArgs, NmGradValuesArgs, NmMatmulArgs } from '../gpu/kernels/nm';
import type { SumArgs } from '../gpu/kernels/reduce';
import type {
  LogprobBackwardArgs,
  PairLossArgs,
  PolicyLossArgs,
  SegSumArgs,
  SegSumBackwardArgs,
  TokenLogprobsArgs,
  ValueLossArgs,
} from '../gpu/kernels/rl';
import type { RmsNormArgs, RmsNormBackwardArgs } from '../gpu/kernels/rmsnorm';
import type { RopeArgs } from '../gpu/kernels/rope';
import type { IndexAddArgs, IndexGatherArgs } from '../gpu/kernels/rowindex';
import type { MulVecArgs, MulVecBackwardArgs, ScaleArgs } from '../gpu/kernels/scale';
import type { GatherArgs, ScatterAddArgs } from '../gpu/kernels/sparse';
import type { SwigluArgs, SwigluBackwardArgs } from '../gpu/kernels/swiglu';
import type { TanhArgs, TanhBackwardArgs } from '../gpu/kernels/tanh';
import type { BaseDtype, WeightFormat, WeightLayout } from './weight-format';

/** Integer storage (token ids, targets, positions): GpuRegion of i32 on the GPU, Int32Array on the CPU. */
export interface Backend<S, I> {
  readonly kind: 'gpu' | 'cpu';
  /**
   * The largest buffer the device binds, where there is one (GPU: maxStorageBufferBindingSize and
   * maxBufferSize): frozen tables above it are uploaded in row parts (split-weight.ts).
   */
  readonly maxBufferBytes?: number;
  alloc(n: number, category: MemoryCategory, label: string): S;
  free(s: S): void;
  upload(data: ArrayLike<number>, category: MemoryCategory, label: string): S;
  uploadInt(data: Int32Array, label: string): I;
  freeInt(i: I): void;
  read(s: S, n: number): Promise<Float64Array>;
  /**
   * A frozen weight stored in `dtype` (weight-format.ts): 'f32' is `upload` with format null; otherwise
   * the packed values and (int8/nf4) scales, counted under `category`. The GPU keeps the packed words that
   * its kernels widen; the CPU twin keeps the float64 values of exactly what is stored (dequantized), so
   * its primitives compute with the same numbers and ignore the format.
   */
  uploadWeight(
    data: ArrayLike<number>,
    shape: readonly number[],
    dtype: BaseDtype,
    layout: WeightLayout,
    category: MemoryCategory,
    label: string,
  ): { store: S; format: WeightFormat<S> | null };
  /** Frees a weight from uploadWeight: its values and its scales. */
  freeWeight(store: S, format: WeightFormat<S> | null): void;
  /** The first n values of a weight in any format, dequantized (a plain f32 weight: `read`). */
  readWeight(store: S, format: WeightFormat<S> | null, n: number): Promise<Float64Array>;
  /** out = a weight in any format widened to f32 values, on the device (merges, DoRA's norms, copies). */
  dequant(p: DequantArgs<S>): void;
  /** Overwrites the first data.length elements of s. */
  write(s: S, data: ArrayLike<number>): void;
  zero(s: S, n: number): void;
  /** out[dstOffset + r·dstStride + c] (+)= x[srcOffset + r·srcStride + c] for r < rows, c < cols. */
  copy2d(p: Copy2dArgs<S>): void;
  add(p: AddArgs<S>): void;
  addInPlace(p: AddInPlaceArgs<S>): void;
  scale(p: ScaleArgs<S>): void;
  mulVec(p: MulVecArgs<S>): void;
  mulVecBackward(p: MulVecBackwardArgs<S>): void;
  matmul(p: MatmulArgs<S>): void;
  /**
   * Independent matmul jobs, each out (+)= addend + bias + Σ alpha·op(A)·op(B) (matmul-multi.ts): one
   * dispatch on the GPU where the bindings fit. The GPU backend may also group plain matmul calls so
   * (matmul-queue.ts); either way every job's result is what separate matmuls would give.
   */
  matmulMulti(p: MatmulMultiArgs<S>): void;
  /** Whether loraAddInto takes the three fused kernels below for these shapes (else matmuls). */
  loraFused(d: { M: number; r: number }): boolean;
  /** LoRA's rank-r path fused (lora-linear.ts, r ≤ 64): y += s·t·Bᵀ with t = x·Aᵀ written out. */
  loraForward(p: LoraForwardArgs<S>): void;
  /** u = s·dy·B written out; dx (+)= u·A when given. */
  loraBackwardRows(p: LoraBackwardRowsArgs<S>): void;
  /** dA (+)= uᵀ·x and dB (+)= s·dyᵀ·t, each when given, in one pass. */
  loraBackwardWeights(p: LoraBackwardWeightsArgs<S>): void;
  biasAdd(p: BiasAddArgs<S>): void;
  biasGrad(p: BiasGradArgs<S>): void;
  layerNorm(p: LayerNormArgs<S>): void;
  layerNormBackward(p: LayerNormBackwardArgs<S>): void;
  rmsNorm(p: RmsNormArgs<S>): void;
  rmsNormBackward(p: RmsNormBackwardArgs<S>): void;
  gelu(p: GeluArgs<S>): void;
  geluBackward(p: GeluBackwardArgs<S>): void;
  /** out = tanh(x) (prefix tuning's reparametrisation MLP). */
  tanh(p: TanhArgs<S>): void;
  /** dx (+)= dOut·(1 − y²) from the forward's output y = tanh(x). */
  tanhBackward(p: TanhBackwardArgs<S>): void;
  swiglu(p: SwigluArgs<S>): void;
  swigluBackward(p: SwigluBackwardArgs<S>): void;
  rope(p: RopeArgs<S, I>): void;
  attention(p: AttentionArgs<S, I>): void;
  attentionBackward(p: AttentionBackwardArgs<S, I>): void;
  embedding(p: EmbeddingOpArgs<S, I>): void;
  embeddingBackward(p: EmbeddingBackwardArgs<S>): void;
  /** Fused softmax cross-entropy: per-row losses and dLogits = scale·(softmax − onehot); -100 ignored. */
  crossEntropy(p: CrossEntropyArgs<S, I>): void;
  logSoftmaxGather(p: LogSoftmaxGatherArgs<S, I>): void;
  sum(p: SumArgs<S>): void;
  sumSquares(p: SumSquaresArgs<S>): void;
  clipScale(p: ClipScaleArgs<S>): void;
  adamw(p: AdamwArgs<S>): void;
  dropout(p: DropoutArgs<S>): void;
  dropoutBackward(p: DropoutBackwardArgs<S>): void;
  /** Standalone activations (bottleneck adapters): out = f(x) for ReLU, SiLU, exact GELU. */
  activation(p: ActivationArgs<S>): void;
  activationBackward(p: ActivationBackwardArgs<S>): void;
  /** w[idx[j]] += alpha·values[j] (sparse fine-tuning; distinct canonical [out, in] flat indices). */
  scatterAdd(p: ScatterAddArgs<S, I>): void;
  /** out[j] (+)= x[idx[j]] (the scatter's backward). */
  gather(p: GatherArgs<S, I>): void;
  /** N:M sparse update from its compact values: y (+)= x·ΔWᵀ, and its gradients (sparse, mask=nm). */
  nmMatmul(p: NmMatmulArgs<S, I>): void;
  nmGradValues(p: NmGradValuesArgs<S, I>): void;
  nmGradInput(p: NmGradInputArgs<S, I>): void;
  /** k indexed rows (or columns) of a matrix += alpha·x [k, len], and gathered back (the rows method). */
  indexAdd(p: IndexAddArgs<S, I>): void;
  indexGather(p: IndexGatherArgs<S, I>): void;
  /** out[k] = ‖row k‖₂ (perRow) or ‖column k‖₂ of x [rows, cols]; no gradient (DoRA's detached norm). */
  lineNorms(p: LineNormsArgs<S>): void;
  /** out[r,c] = x[r,c]·num[k]/(den[k] + eps), k = r (perRow) or c; null num/den are ones. In place allowed. */
  scaleLines(p: ScaleLinesArgs<S>): void;
  /** out (+)= alpha·(a ⊗ b): a [a0,a1], b [b0,b1], out [a0·b0, a1·b1] or (transOut) its transpose. */
  kron(p: KronArgs<S>): void;
  kronBackward(p: KronBackwardArgs<S>): void;
  // RLHF primitives (ops-rl.ts; kernels in rl.ts). Loss ops write their input's gradient in the forward.
  /** Per row of logits [N, V]: logp = log softmax[t] (0 where t < 0), the softmax's entropy, its lse. */
  tokenLogprobs(p: TokenLogprobsArgs<S, I>): void;
  /** dLogits (+)= g[r]·(onehot(t_r) − softmax_r) from the forward's saved lse. */
  logprobBackward(p: LogprobBackwardArgs<S, I>): void;
  /** Clipped policy loss + β·k3 KL over per-token log-probs; data = [old | ref | adv | w] (4N). */
  policyLoss(p: PolicyLossArgs<S>): void;
  /** Clipped value loss; data = [old | ret | w] (3N). */
  valueLoss(p: ValueLossArgs<S>): void;
  /** Pairwise sigmoid loss over scores [c0, r0, c1, r1, …] against ref of the same layout. */
  pairLoss(p: PairLossArgs<S>): void;
  /** out[s] = Σ_t w[s·T + t]·x[s·T + t]. */
  segSum(p: SegSumArgs<S>): void;
  segSumBackward(p: SegSumBackwardArgs<S>): void;
  /** A sub-range [offset, offset+n) of a flat allocation, as storage of its own (views into flat buffers). */
  view(s: S, offset: number, n: number): S;
  /** Elements a view's offset must be a multiple of (GPU: 64 floats = 256 bytes). */
  readonly viewAlign: number;
}
