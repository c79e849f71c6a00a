// CPU float64 twins of the fused LoRA kernels (lora-linear.ts), same argument objects over Float64Array:
// the plain sums the kernels compute, in the layouts they name (A [r, in], B [out, r], row-major).
import type { LoraBackwardRowsArgs, LoraBackwardWeightsArgs, LoraForwardArgs } from './lora-linear';

type F = Float64Array;

export function loraForwardTwin(a: LoraForwardArgs<F>): void {
  const { M, inF, outF, r, s } = a;
  for (let m = 0; m < M; m++) {
    for (let j = 0; j < r; j++) {
      let acc = 0;
      for (let k = 0; k < inF; k++) acc += a.x[m * inF + k] * a.A[j * inF + k];
      a.t[m * r + j] = acc;
    }
    for (let n = 0; n < outF; n++) {
      let acc = 0;
      for (let j = 0; j < r; j++) acc += a.t[m * r + j] * a.B[n * r + j];
      a.y[m * outF + n] += s * acc;
    }
  }
}

export function loraBackwardRowsTwin(a: LoraBackwardRowsArgs<F>): void {
  const { M, inF, outF, r, s, dx } = a;
  for (let m = 0; m < M; m++) {
    for (let j = 0; j < r; j++) {
      let acc = 0;
      for (let n = 0; n < outF; n++) acc += a.dy[m * outF + n] * a.B[n * r + j];
      a.u[m * r + j] = s * acc;
    }
    if (!dx) continue;
    for (let i = 0; i < inF; i++) {
      let acc = 0;
      for (let j = 0; j < r; j++) acc += a.u[m * r + j] * a.A[j * inF + i];
      dx[m * inF + i] = (a.accumulateDx ? dx[m * inF + i] : 0) + acc;
    }
  }
}

export function loraBackwardWeightsTwin(a: LoraBackwardWeightsArgs<F>): void {
  const { M, inF, outF, r, s, dA, dB } = a;
  if (dA) {
    for (let j = 0; j < r; j++)
      for (let i = 0; i < inF; i++) {
        let acc = 0;
        for (let m = 0; m < M; m++) acc += a.u[m * r + j] * a.x[m * inF + i];
        dA[j * inF + i] = (a.accumulateDA ? dA[j * inF + i] : 0) + acc;
      }
  }
  if (dB) {
    for (let n = 0; n < outF; n++)
      for (let j = 0; j < r; j++) {
        let acc = 0;
        for (let m = 0; m < M; m++) acc += a.dy[m * outF + n] * a.t[m * r + j];
        dB[n * r + j] = (a.accumulateDB ? dB[n * r + j] : 0) + s * acc;
      }
  }
}
