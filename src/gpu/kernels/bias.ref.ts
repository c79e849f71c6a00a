// CPU float64 twins of bias add and bias grad (bias.ts). x, dOut are [rows, cols] row-major; bias [cols].
import type { BiasAddArgs, BiasGradArgs } from './bias';
import { putInto } from './common';

/** x[r,c] + bias[c], as a new array. */
export function biasAddRef(args: BiasAddArgs<ArrayLike<number>>): Float64Array {
  const { x, bias, rows, cols } = args;
  const out = new Float64Array(rows * cols);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[r * cols + c] = x[r * cols + c] + bias[c];
  return out;
}

/** dBias[c] = Σ_r dOut[r,c] (the gradient of biasAdd with respect to bias; dx is dOut itself). */
export function biasGradRef(
  args: Pick<BiasGradArgs<ArrayLike<number>>, 'dOut' | 'rows' | 'cols'>,
): Float64Array {
  const { dOut, rows, cols } = args;
  const dBias = new Float64Array(cols);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) dBias[c] += dOut[r * cols + c];
  return dBias;
}

/** The twin of biasAdd(): x += bias per row, in place. */
export function biasAddTwin(p: BiasAddArgs<Float64Array>): void {
  putInto(p.x, biasAddRef(p));
}

/** The twin of biasGrad(). */
export function biasGradTwin(p: BiasGradArgs<Float64Array>): void {
  putInto(p.dBias, biasGradRef(p), p.accumulate);
}
