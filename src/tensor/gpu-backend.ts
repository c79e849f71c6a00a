// The tape's GPU backend: each primitive is one of our WGSL kernels, storage is arena memory. Thin by
// design: argument objects already match the kernels'; this file adds allocation, integer uploads and the
// embedding-gradient plan that the kernel builds from CPU-side ids.

import { type GpuBuf, type GpuRegion, isView, type MemoryCategory, viewOf } from '../gpu/arena';
import type { GpuContext } from '../gpu/context';
import { activation, activationBackward } from '../gpu/kernels/activation';
import { adamw } from '../gpu/kernels/adamw';
import { add, addInPlace } from '../gpu/kernels/add';
import { attention, attentionBackward } from '../gpu/kernels/attention';
import { biasAdd, biasGrad } from '../gpu/kernels/bias';
import { copy2d } from '../gpu/kernels/copy2d';
import { crossEntropy, logSoftmaxGather } from '../gpu/kernels/crossentropy';
import { dequant, freeWeightGpu, readWeightGpu, uploadWeightGpu } from '../gpu/kernels/dequant';
import { dropout, dropoutBackward } from '../gpu/kernels/dropout';
import { embedding, embeddingBackward, embeddingGradPlan } from '../gpu/kernels/embedding';
import { gelu, geluBackward } from '../gpu/kernels/gelu';
import { clipScale, sumSquares } from '../gpu/kernels/gradnorm';
import { kron, kronBackward } from '../gpu/kernels/kron';
import { layerNorm, layerNormBackward } from '../gpu/kernels/layernorm';
import { lineNorms, scaleLines } from '../gpu/kernels/lines';
import {
  loraBackwardRows,
  loraBackwardWeights,
  loraForward,
  loraFusedPays,
} from '../gpu/kernels/lora-linear';
import { type MatmulArgs, matmul } from '../gpu/kernels/matmul';
import { type MatmulMultiArgs, matmulMulti } from '../gpu/kernels/matmul-multi';
import { nmGradInput, nmGradValues, nmMatmul } from '../gpu/kernels/nm';
import { sum } from '../gpu/kernels/reduce';
import {
  logprobBackward,
  pairLoss,
  policyLoss,
  segSum,
  segSumBackward,
  tokenLogprobs,
  valueLoss,
} from '../gpu/kernels/rl';
import { rmsNorm, rmsNormBackward } from '../gpu/kernels/rmsnorm';
import { rope } from '../gpu/kernels/rope';
import { indexAdd, indexGather } from '../gpu/kernels/rowindex';
import { mulVec, mulVecBackward, scale } from '../gpu/kernels/scale';
import { gather, scatterAdd } from '../gpu/kernels/sparse';
import { swiglu, swigluBackward } from '../gpu/kernels/swiglu';
import { tanh, tanhBackward } from '../gpu/kernels/tanh';
import { perBufferLimit } from '../gpu/summary';
import type { Backend } from './backend';
import { matmulQueue } from './matmul-queue';

export type GpuBackend = Backend<GpuRegion, GpuRegion>;

const own = (s: GpuRegion): GpuBuf | null => (isView(s) ? null : s);

export interface GpuBackendOptions {
  /**
   * Group independent matmuls into matmul-multi dispatches (matmul-queue.ts; default true). Off, every
   * matmul is its own dispatch: what tests that count another change's dispatches compare against.
   */
  groupMatmuls?: boolean;
}

export function gpuBackend(ctx: GpuContext, opts: GpuBackendOptions = {}): GpuBackend {
  // Matmuls go through the context's queue, which groups independent ones into fewer dispatches.
  const queue = opts.groupMatmuls === false ? null : matmulQueue(ctx);
  const mm = queue ?? {
    matmul: (p: MatmulArgs) => matmul(ctx, p),
    multi: (p: MatmulMultiArgs) => matmulMulti(ctx, p),
  };
  return {
    kind: 'gpu',
    viewAlign: 64,
    maxBufferBytes: perBufferLimit(ctx.limits),
    alloc: (n: number, category: MemoryCategory, label: string) => ctx.arena.alloc(n * 4, category, label),
    free: (s) => {
      const b = own(s);
      if (b) ctx.arena.free(b);
    },
    upload: (data, category, label) => ctx.upload(Float32Array.from(data), category, label),
    uploadInt: (data, label) => ctx.upload(data, 'activations', label),
    freeInt: (s) => {
      const b = own(s);
      if (b) ctx.arena.free(b);
    },
    read: async (s, n) => Float64Array.from(await ctx.readF32(s, n)),
    uploadWeight: (data, shape, dtype, layout, category, label) =>
      uploadWeightGpu(ctx, data, shape, dtype, layout, category, label),
    freeWeight: (store, format) => freeWeightGpu(ctx, store, format),
    readWeight: (store, format, n) => readWeightGpu(ctx, store, format, n),
    dequant: (p) => dequant(ctx, p),
    write: (s, data) => ctx.write(s, Float32Array.from(data)),
    zero: (s, n) => ctx.clear(s, 0, Math.ceil((n * 4) / 4) * 4),
    view: (s, offset, n) => {
      if (isView(s)) throw new Error('a view of a view is not supported');
      return viewOf(s, offset * 4, n * 4);
    },
    copy2d: (p) => copy2d(ctx, p),
    add: (p) => add(ctx, p),
    addInPlace: (p) => addInPlace(ctx, p),
    scale: (p) => scale(ctx, p),
    mulVec: (p) => mulVec(ctx, p),
    lineNorms: (p) => lineNorms(ctx, p),
    scaleLines: (p) => scaleLines(ctx, p),
    kron: (p) => kron(ctx, p),
    kronBackward: (p) => kronBackward(ctx, p),
    mulVecBackward: (p) => mulVecBackward(ctx, p),
    matmul: (p) => mm.matmul(p),
    matmulMulti: (p) => mm.multi(p),
    loraFused: (d) => loraFusedPays(ctx, d),
    loraForward: (p) => loraForward(ctx, p),
    loraBackwardRows: (p) => loraBackwardRows(ctx, p),
    loraBackwardWeights: (p) => loraBackwardWeights(ctx, p),
    biasAdd: (p) => biasAdd(ctx, p),
    biasGrad: (p) => biasGrad(ctx, p),
    layerNorm: (p) => layerNorm(ctx, p),
    layerNormBackward: (p) => layerNormBackward(ctx, p),
    rmsNorm: (p) => rmsNorm(ctx, p),
    rmsNormBackward: (p) => rmsNormBackward(ctx, p),
    gelu: (p) => gelu(ctx, p),
    activation: (p) => activation(ctx, p),
    activationBackward: (p) => activationBackward(ctx, p),
    scatterAdd: (p) => scatterAdd(ctx, p),
    gather: (p) => gather(ctx, p),
    nmMatmul: (p) => nmMatmul(ctx, p),
    nmGradValues: (p) => nmGradValues(ctx, p),
    nmGradInput: (p) => nmGradInput(ctx, p),
    indexAdd: (p) => indexAdd(ctx, p),
    indexGather: (p) => indexGather(ctx, p),
    geluBackward: (p) => geluBackward(ctx, p),
    tanh: (p) => tanh(ctx, p),
    tanhBackward: (p) => tanhBackward(ctx, p),
    swiglu: (p) => swiglu(ctx, p),
    swigluBackward: (p) => swigluBackward(ctx, p),
    rope: (p) => rope(ctx, p),
    attention: (p) => attention(ctx, p),
    attentionBackward: (p) => attentionBackward(ctx, p),
    embedding: (p) => embedding(ctx, p),
    embeddingBackward: (p) => {
      const plan = embeddingGradPlan(ctx, p.idsCpu);
      embeddingBackward(ctx, { dTable: p.dTable, dOut: p.dOut, plan, dim: p.dim });
      // Safe to release now: later work reusing these buffers runs after this dispatch in stream order.
      plan.free();
    },
    crossEntropy: (p) => crossEntropy(ctx, p),
    logSoftmaxGather: (p) => logSoftmaxGather(ctx, p),
    sum: (p) => sum(ctx, p),
    sumSquares: (p) => sumSquares(ctx, p),
    clipScale: (p) => clipScale(ctx, p),
    adamw: (p) => adamw(ctx, p),
    dropout: (p) => dropout(ctx, p),
    dropoutBackward: (p) => dropoutBackward(ctx, p),
    tokenLogprobs: (p) => tokenLogprobs(ctx, p),
    logprobBackward: (p) => logprobBackward(ctx, p),
    policyLoss: (p) => policyLoss(ctx, p),
    valueLoss: (p) => valueLoss(ctx, p),
    pairLoss: (p) => pairLoss(ctx, p),
    segSum: (p) => segSum(ctx, p),
    segSumBackward: (p) => segSumBackward(ctx, p),
  };
}
