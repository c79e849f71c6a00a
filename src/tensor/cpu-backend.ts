// The tape's CPU twin backend: float64 storage and every primitive computed by its kernel's float64 twin
// (src/gpu/kernels/<op>.ref.ts), which takes the same argument object as the kernel with Float64Array and
// Int32Array storage. Running the same model code here gives the reference logits, gradients and training
// curves that the GPU must match, and exact central differences of whole models. A frozen weight in a 16-bit
// or quantized dtype is held as the float64 values of exactly what the GPU stores (util/quant.ts), so the
// twin computes with the dequantized weights and its kernels ignore the format.

import { activationBackwardTwin, activationTwin } from '../gpu/kernels/activation.ref';
import { adamwTwin } from '../gpu/kernels/adamw.ref';
import { addInPlaceTwin, addTwin } from '../gpu/kernels/add.ref';
import { attentionBackwardTwin, attentionTwin } from '../gpu/kernels/attention.ref';
import { biasAddTwin, biasGradTwin } from '../gpu/kernels/bias.ref';
import { copy2dTwin } from '../gpu/kernels/copy2d.ref';
import { crossEntropyTwin, logSoftmaxGatherTwin } from '../gpu/kernels/crossentropy.ref';
import { dropoutBackwardTwin, dropoutTwin } from '../gpu/kernels/dropout.ref';
import { embeddingBackwardTwin, embeddingTwin } from '../gpu/kernels/embedding.ref';
import { geluBackwardTwin, geluTwin } from '../gpu/kernels/gelu.ref';
import { clipScaleTwin, sumSquaresTwin } from '../gpu/kernels/gradnorm.ref';
import { kronBackwardTwin, kronTwin } from '../gpu/kernels/kron.ref';
import { layerNormBackwardTwin, layerNormTwin } from '../gpu/kernels/layernorm.ref';
import { lineNormsTwin, scaleLinesTwin } from '../gpu/kernels/lines.ref';
import {
  loraBackwardRowsTwin,
  loraBackwardWeightsTwin,
  loraForwardTwin,
} from '../gpu/kernels/lora-linear.ref';
import { LORA_FUSED_MAX_R } from '../gpu/kernels/lora-linear.wgsl';
import { matmulTwin } from '../gpu/kernels/matmul.ref';
import { matmulMultiRef } from '../gpu/kernels/matmul-multi.ref';
import { nmGradInputTwin, nmGradValuesTwin, nmMatmulTwin } from '../gpu/kernels/nm.ref';
import { sumTwin } from '../gpu/kernels/reduce.ref';
import {
  logprobBackwardTwin,
  pairLossTwin,
  policyLossTwin,
  segSumBackwardTwin,
  segSumTwin,
  tokenLogprobsTwin,
  valueLossTwin,
} from '../gpu/kernels/rl.ref';
import { rmsNormBackwardTwin, rmsNormTwin } from '../gpu/kernels/rmsnorm.ref';
import { ropeTwin } from '../gpu/kernels/rope.ref';
import { indexAddTwin, indexGatherTwin } from '../gpu/kernels/rowindex.ref';
import { mulVecBackwardTwin, mulVecTwin, scaleTwin } from '../gpu/kernels/scale.ref';
import { gatherTwin, scatterAddTwin } from '../gpu/kernels/sparse.ref';
import { swigluBackwardTwin, swigluTwin } from '../gpu/kernels/swiglu.ref';
import { tanhBackwardTwin, tanhTwin } from '../gpu/kernels/tanh.ref';
import { dequantizeWeight, encodeWeight } from '../util/quant';
import type { Backend } from './backend';

export type CpuBackend = Backend<Float64Array, Int32Array>;

export function cpuBackend(): CpuBackend {
  return {
    kind: 'cpu',
    viewAlign: 1,
    alloc: (n) => new Float64Array(n),
    free: () => undefined,
    upload: (data) => Float64Array.from(data),
    uploadInt: (data) => Int32Array.from(data),
    freeInt: () => undefined,
    read: async (s, n) => s.slice(0, n),
    uploadWeight: (data, shape, dtype, layout) => {
      if (dtype === 'f32') return { store: Float64Array.from(data), format: null };
      const enc = encodeWeight(data, shape, dtype, layout);
      const scales = enc.scales ? Float64Array.from(enc.scales) : null;
      const format = {
        dtype,
        scales,
        layout,
        ...(dtype === 'int8' ? { channels: scales?.length ?? 0 } : {}),
      };
      return { store: dequantizeWeight(enc, shape, dtype, layout), format };
    },
    freeWeight: () => undefined,
    readWeight: async (s, _format, n) => s.slice(0, n),
    dequant: (p) =>
      p.out.set(
        p.values.subarray(
          0,
          p.shape.reduce((a, b) => a * b, 1),
        ),
      ),
    write: (s, data) => s.set(Array.from(data)),
    zero: (s, n) => s.fill(0, 0, n),
    view: (s, offset, n) => s.subarray(offset, offset + n),
    copy2d: copy2dTwin,
    add: addTwin,
    addInPlace: addInPlaceTwin,
    scale: scaleTwin,
    mulVec: mulVecTwin,
    mulVecBackward: mulVecBackwardTwin,
    lineNorms: lineNormsTwin,
    scaleLines: scaleLinesTwin,
    kron: kronTwin,
    kronBackward: kronBackwardTwin,
    matmul: matmulTwin,
    matmulMulti: matmulMultiRef,
    // The twin takes the fused path wherever the kernels can: their twins are what model tests check.
    loraFused: (d) => d.r <= LORA_FUSED_MAX_R,
    loraForward: loraForwardTwin,
    loraBackwardRows: loraBackwardRowsTwin,
    loraBackwardWeights: loraBackwardWeightsTwin,
    biasAdd: biasAddTwin,
    biasGrad: biasGradTwin,
    layerNorm: layerNormTwin,
    layerNormBackward: layerNormBackwardTwin,
    rmsNorm: rmsNormTwin,
    rmsNormBackward: rmsNormBackwardTwin,
    gelu: geluTwin,
    geluBackward: geluBackwardTwin,
    tanh: tanhTwin,
    tanhBackward: tanhBackwardTwin,
    swiglu: swigluTwin,
    swigluBackward: swigluBackwardTwin,
    activation: activationTwin,
    activationBackward: activationBackwardTwin,
    scatterAdd: scatterAddTwin,
    gather: gatherTwin,
    nmMatmul: nmMatmulTwin,
    nmGradValues: nmGradValuesTwin,
    nmGradInput: nmGradInputTwin,
    indexAdd: indexAddTwin,
    indexGather: indexGatherTwin,
    rope: ropeTwin,
    attention: attentionTwin,
    attentionBackward: attentionBackwardTwin,
    embedding: embeddingTwin,
    embeddingBackward: embeddingBackwardTwin,
    crossEntropy: crossEntropyTwin,
    logSoftmaxGather: logSoftmaxGatherTwin,
    sum: sumTwin,
    sumSquares: sumSquaresTwin,
    clipScale: clipScaleTwin,
    adamw: adamwTwin,
    dropout: dropoutTwin,
    dropoutBackward: dropoutBackwardTwin,
    tokenLogprobs: tokenLogprobsTwin,
    logprobBackward: logprobBackwardTwin,
    policyLoss: policyLossTwin,
    valueLoss: valueLossTwin,
    pairLoss: pairLossTwin,
    segSum: segSumTwin,
    segSumBackward: segSumBackwardTwin,
  };
}
