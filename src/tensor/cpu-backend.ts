// The tape's CPU twin backend: float64 storage and every primitive computed by the kernels' float64
// references (src/gpu/kernels/*.ref.ts). Running the same model code here gives the reference logits,
// gradients and training curves that the GPU must match, and exact central differences of whole models.

import { activationBackwardRef, activationRef } from '../gpu/kernels/activation.ref';
import { adamwRef } from '../gpu/kernels/adamw.ref';
import { attentionBackwardRef, attentionRef } from '../gpu/kernels/attention.ref';
import { biasAddRef, biasGradRef } from '../gpu/kernels/bias.ref';
import { copy2dRef } from '../gpu/kernels/copy2d.ref';
import { crossEntropyRef, logSoftmaxGatherRef } from '../gpu/kernels/crossentropy.ref';
import { dropoutBackwardRef, dropoutRef } from '../gpu/kernels/dropout.ref';
import { embeddingBackwardRef, embeddingRef } from '../gpu/kernels/embedding.ref';
import { geluBackwardRef, geluRef } from '../gpu/kernels/gelu.ref';
import { clipScaleRef } from '../gpu/kernels/gradnorm.ref';
import { kronBackwardRef, kronRef } from '../gpu/kernels/kron.ref';
import { layerNormBackwardRef, layerNormRef } from '../gpu/kernels/layernorm.ref';
import { lineNormsRef, scaleLinesRef } from '../gpu/kernels/lines.ref';
import { matmulRef } from '../gpu/kernels/matmul.ref';
import { sumRef, sumSquaresRef } from '../gpu/kernels/reduce.ref';
import {
  logprobBackwardRef,
  pairLossRef,
  policyLossRef,
  segSumBackwardRef,
  segSumRef,
  tokenLogprobsRef,
  valueLossRef,
} from '../gpu/kernels/rl.ref';
import { rmsNormBackwardRef, rmsNormRef } from '../gpu/kernels/rmsnorm.ref';
import { ropeRef } from '../gpu/kernels/rope.ref';
import { mulVecBackwardRef, mulVecRef } from '../gpu/kernels/scale.ref';
import { gatherRef, scatterAddRef } from '../gpu/kernels/sparse.ref';
import { swigluBackwardRef, swigluRef } from '../gpu/kernels/swiglu.ref';
import { tanhBackwardRef, tanhRef } from '../gpu/kernels/tanh.ref';
import type { Backend } from './backend';

export type CpuBackend = Backend<Float64Array, Int32Array>;

/** out[i] (+)= src[i]. */
function put(out: Float64Array, src: ArrayLike<number>, accumulate = false): void {
  if (accumulate) for (let i = 0; i < src.length; i++) out[i] += src[i];
  else for (let i = 0; i < src.length; i++) out[i] = src[i];
}

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
    write: (s, data) => s.set(Array.from(data)),
    zero: (s, n) => s.fill(0, 0, n),
    view: (s, offset, n) => s.subarray(offset, offset + n),
    copy2d: (p) => copy2dRef(p.out, p.x, p),
    add: (p) => {
      for (let i = 0; i < p.n; i++) p.out[i] = p.a[i] + p.b[i];
    },
    addInPlace: (p) => {
      for (let i = 0; i < p.n; i++) p.a[i] += p.b[i];
    },
    scale: (p) => {
      for (let i = 0; i < p.n; i++) p.out[i] = (p.accumulate ? p.out[i] : 0) + p.alpha * p.x[i];
    },
    mulVec: (p) => put(p.out, mulVecRef(p.x, p.v, p.rows, p.cols), p.accumulate),
    lineNorms: (p) => put(p.out, lineNormsRef(p.x, p.rows, p.cols, p.perRow)),
    scaleLines: (p) => put(p.out, scaleLinesRef(p.x, p.rows, p.cols, p.perRow, p.num, p.den, p.eps ?? 0)),
    kron: (p) => {
      const r = kronRef(p.a, p.b, p, p.transOut ?? false);
      put(p.out, r, p.accumulate);
    },
    kronBackward: (p) => {
      const r = kronBackwardRef(p.dOut, p.a, p.b, p);
      if (p.da) put(p.da, r.da, p.accumulateDa);
      if (p.db) put(p.db, r.db, p.accumulateDb);
    },
    mulVecBackward: (p) => {
      const r = mulVecBackwardRef(p.dOut, p.x, p.v, p.rows, p.cols);
      if (p.dx) put(p.dx, r.dx, p.accumulateDx);
      if (p.dv) put(p.dv, r.dv, p.accumulateDv);
    },
    matmul: (p) => {
      const r = matmulRef(p.a, p.b, p);
      const alpha = p.alpha ?? 1;
      const batch = p.batch ?? 1;
      const so = p.strideOut ?? p.M * p.N;
      for (let b = 0; b < batch; b++) {
        for (let i = 0; i < p.M * p.N; i++) {
          const o = b * so + i;
          p.out[o] = (p.accumulate ? p.out[o] : 0) + alpha * r[b * p.M * p.N + i];
        }
      }
    },
    biasAdd: (p) => put(p.x, biasAddRef({ x: p.x, bias: p.bias, rows: p.rows, cols: p.cols })),
    biasGrad: (p) => put(p.dBias, biasGradRef(p), p.accumulate),
    layerNorm: (p) => {
      const r = layerNormRef(p.x, p.gamma, p.beta, p.rows, p.cols, p.eps);
      put(p.out, r.out);
      put(p.mean, r.mean);
      put(p.rstd, r.rstd);
    },
    layerNormBackward: (p) => {
      const r = layerNormBackwardRef(p.dOut, p.x, p.gamma, p.rows, p.cols, p.mean, p.rstd);
      if (p.dx) put(p.dx, r.dx, p.accumulateDx);
      if (p.dGamma) put(p.dGamma, r.dGamma, p.accumulateParams);
      if (p.dBeta) put(p.dBeta, r.dBeta, p.accumulateParams);
    },
    rmsNorm: (p) => {
      const r = rmsNormRef(p.x, p.gamma, p.rows, p.cols, p.eps);
      put(p.out, r.out);
      put(p.rstd, r.rstd);
    },
    rmsNormBackward: (p) => {
      const r = rmsNormBackwardRef(p.dOut, p.x, p.gamma, p.rows, p.cols, p.rstd);
      if (p.dx) put(p.dx, r.dx, p.accumulateDx);
      if (p.dGamma) put(p.dGamma, r.dGamma, p.accumulateParams);
    },
    gelu: (p) => put(p.out, geluRef(p.x.subarray(0, p.n))),
    activation: (p) => put(p.out, activationRef(p.kind, p.x.subarray(0, p.n))),
    activationBackward: (p) =>
      put(p.dx, activationBackwardRef(p.kind, p.dOut.subarray(0, p.n), p.x.subarray(0, p.n)), p.accumulate),
    scatterAdd: (p) => scatterAddRef(p.w, p.values, p.idx, p, p.alpha ?? 1),
    gather: (p) => put(p.out, gatherRef(p.x, p.idx, p), p.accumulate),
    geluBackward: (p) =>
      put(p.dx, geluBackwardRef(p.dOut.subarray(0, p.n), p.x.subarray(0, p.n)), p.accumulate),
    tanh: (p) => put(p.out, tanhRef(p.x.subarray(0, p.n))),
    tanhBackward: (p) =>
      put(p.dx, tanhBackwardRef(p.dOut.subarray(0, p.n), p.y.subarray(0, p.n)), p.accumulate),
    swiglu: (p) => put(p.out, swigluRef(p.gate.subarray(0, p.n), p.up.subarray(0, p.n))),
    swigluBackward: (p) => {
      const r = swigluBackwardRef(p.dOut.subarray(0, p.n), p.gate.subarray(0, p.n), p.up.subarray(0, p.n));
      if (p.dGate) put(p.dGate, r.dGate);
      if (p.dUp) put(p.dUp, r.dUp);
    },
    rope: (p) => put(p.out, ropeRef(p.x, p)),
    attention: (p) => {
      const r = attentionRef(p.q, p.k, p.v, p, p.prefixK, p.prefixV, p.kvStart, p.segments);
      put(p.out, r.out);
      put(p.lse, r.lse);
    },
    attentionBackward: (p) => {
      const r = attentionBackwardRef(p.q, p.k, p.v, p.dOut, p, p.prefixK, p.prefixV, p.segments);
      if (p.dq) put(p.dq, r.dq);
      if (p.dk) put(p.dk, r.dk);
      if (p.dv) put(p.dv, r.dv);
      if (p.dPrefixK && r.dPrefixK) put(p.dPrefixK, r.dPrefixK);
      if (p.dPrefixV && r.dPrefixV) put(p.dPrefixV, r.dPrefixV);
    },
    embedding: (p) => put(p.out, embeddingRef(p.table, p.idsCpu, p.dim), p.accumulate),
    embeddingBackward: (p) =>
      put(p.dTable, embeddingBackwardRef(p.dOut, p.idsCpu, p.dTable.length / p.dim, p.dim), true),
    crossEntropy: (p) => {
      const r = crossEntropyRef(p.logits, p.targets, p.N, p.V, p.scale);
      put(p.losses, r.losses);
      if (p.dLogits) put(p.dLogits, r.dLogits);
    },
    logSoftmaxGather: (p) => put(p.out, logSoftmaxGatherRef(p.logits, p.targets, p.N, p.V)),
    sum: (p) => {
      p.out[p.outIndex ?? 0] = sumRef(p.x.subarray(0, p.n), p.scale ?? 1);
    },
    sumSquares: (p) => {
      p.out[p.outIndex ?? 0] = sumSquaresRef(p.x.subarray(0, p.n));
    },
    clipScale: (p) => {
      p.scale[0] = clipScaleRef(p.normSq.subarray(0, p.normSqCount ?? 1), p.maxNorm);
    },
    adamw: (p) => {
      const r = adamwRef(
        p.params.subarray(0, p.n),
        p.grads.subarray(0, p.n),
        p.m.subarray(0, p.n),
        p.v.subarray(0, p.n),
        {
          lr: p.lr,
          beta1: p.beta1,
          beta2: p.beta2,
          eps: p.eps,
          weightDecay: p.weightDecay,
          step: p.step,
          gradScale: p.gradScale ? p.gradScale[0] : 1,
        },
      );
      put(p.params, r.params);
      put(p.m, r.m);
      put(p.v, r.v);
    },
    dropout: (p) => put(p.out, dropoutRef(p.x.subarray(0, p.n), p.p, p.seed, p.stream)),
    dropoutBackward: (p) =>
      put(p.dx, dropoutBackwardRef(p.dOut.subarray(0, p.n), p.p, p.seed, p.stream), p.accumulate),
    tokenLogprobs: (p) => {
      const r = tokenLogprobsRef(p.logits, p.targets, p.N, p.V);
      put(p.logp, r.logp);
      put(p.ent, r.ent);
      put(p.lse, r.lse);
    },
    logprobBackward: (p) =>
      put(p.dLogits, logprobBackwardRef(p.logits, p.targets, p.lse, p.g, p.N, p.V), p.accumulate),
    policyLoss: (p) => {
      const r = policyLossRef(p.logp, p.data, p.N, p);
      put(p.g, r.g);
      put(p.stats, r.stats);
    },
    valueLoss: (p) => {
      const r = valueLossRef(p.v, p.data, p.N, p.clip);
      put(p.g, r.g);
      put(p.stats, r.stats);
    },
    pairLoss: (p) => {
      const r = pairLossRef(p.s, p.ref, p.P, p.beta);
      put(p.ds, r.ds);
      put(p.stats, r.stats);
    },
    segSum: (p) => put(p.out, segSumRef(p.x, p.w, p.S, p.T)),
    segSumBackward: (p) => put(p.dx, segSumBackwardRef(p.w, p.dOut, p.S, p.T), p.accumulate),
  };
}
