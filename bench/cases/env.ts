// What every benchmark case gets: our GpuContext, TF.js (WebGPU backend) and jax-js on the same page, a sync for
// each, the timing options and a progress logger. A case is one function (env) => Promise<CaseResult>.
import type * as tfjs from '@tensorflow/tfjs-core';
import type { GpuContext } from '../../src/gpu/context';
import type { TimingOptions } from '../types';

export interface BenchEnv {
  ctx: GpuContext;
  tf: typeof tfjs;
  /** Submits TF.js's recorded work and waits for the GPU: the TF.js twin of ctx.sync() (no readback). */
  tfSync(): Promise<void>;
  timing: TimingOptions;
  /** True when jax-js's WebGPU backend started (jaxjs.ts); its cases are skipped otherwise. */
  jax: boolean;
  log(message: string): void;
}

/** Seeded uniform values in [-1, 1): the same inputs for both sides and every run. */
export function randomF32(n: number, seed: number): Float32Array {
  let s = seed >>> 0;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    // xorshift32: fast enough for 4M-element inputs, and reproducible.
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    out[i] = (s / 4294967296) * 2 - 1;
  }
  return out;
}
