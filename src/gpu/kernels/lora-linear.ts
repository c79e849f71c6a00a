// Dispatch for the fused LoRA path (issue 12): LoRA's rank-r work around a base linear in fewer passes.
// Forward: y += s·(x·Aᵀ)·Bᵀ in one kernel (x·Aᵀ kept per row block in workgroup memory and written out
// for the backward) instead of two matmuls. Backward: u = s·dy·B with dx (+)= u·A in one kernel, then dA
// and dB in one more, instead of four matmuls. A [r, in], B [out, r] (PEFT's nn.Linear layouts); x
// [M, in], y and dy [M, out]; r ≤ LORA_FUSED_MAX_R (larger ranks take the matmul path in ops-peft.ts).
import type { GpuRegion } from '../arena';
import { type GpuContext, Uniforms } from '../context';
import { dispatchPlanned } from './bindings';
import { grid1d } from './common';
import {
  LORA_FUSED_MAX_R,
  LORA_ROWS,
  loraBackwardRowsWgsl,
  loraBackwardWeightsWgsl,
  loraForwardWgsl,
} from './lora-linear.wgsl';

export { LORA_FUSED_MAX_R };

/** The shapes every LoRA kernel takes: M rows, in → out features, rank r, scale s. */
export interface LoraDims {
  M: number;
  inF: number;
  outF: number;
  r: number;
  s: number;
}

/** y [M, out] += s·t·Bᵀ and t [M, r] = x·Aᵀ (t written). */
export interface LoraForwardArgs<S = GpuRegion> extends LoraDims {
  y: S;
  t: S;
  x: S;
  A: S;
  B: S;
}

/** u [M, r] = s·dy·B (written); dx [M, in] (+)= u·A when dx is given. */
export interface LoraBackwardRowsArgs<S = GpuRegion> extends LoraDims {
  u: S;
  dx: S | null;
  accumulateDx?: boolean;
  dy: S;
  A: S;
  B: S;
}

/** dA [r, in] (+)= uᵀ·x and dB [out, r] (+)= s·dyᵀ·t, each only when given. */
export interface LoraBackwardWeightsArgs<S = GpuRegion> extends LoraDims {
  dA: S | null;
  accumulateDA?: boolean;
  dB: S | null;
  accumulateDB?: boolean;
  u: S;
  x: S;
  dy: S;
  t: S;
}

/**
 * Whether the fused kernels take a LoRA site: ranks up to LORA_FUSED_MAX_R on a hardware adapter, where
 * a step's CPU recording (per-dispatch cost) weighs against kernels that are fast anyway. On SwiftShader
 * they lose in GPU time to the tuned matmuls (M 512, 256→256, r 8: forward 49 ms against 11, rows 53
 * against 10, weights 46 against 4; M 64: 13 ms against 4 per site all told), so the matmuls stay there.
 * Not yet timed on a hardware GPU. `ctx.variants.get('lora')` forces 'fused' or 'matmul' (tests, bench).
 */
export function loraFusedPays(ctx: GpuContext, d: Pick<LoraDims, 'M' | 'r'>): boolean {
  if (d.r < 1 || d.r > LORA_FUSED_MAX_R || d.M === 0) return false;
  const forced = ctx.variants.get('lora');
  if (forced === 'fused') return true;
  if (forced === 'matmul') return false;
  return !ctx.adapter.software;
}

function checkRank(label: string, d: LoraDims): void {
  if (d.r < 1 || d.r > LORA_FUSED_MAX_R)
    throw new Error(`${label}: rank ${d.r} outside 1..${LORA_FUSED_MAX_R} of the fused LoRA kernels`);
}

const dimsUniforms = (d: LoraDims) => new Uniforms().u32(d.M).u32(d.inF).u32(d.outF).u32(d.r).f32(d.s);

/** Row-block grid: one workgroup per LORA_ROWS rows. */
const rowGrid = (M: number) => grid1d(Math.ceil(M / LORA_ROWS), 1);

export function loraForward(ctx: GpuContext, a: LoraForwardArgs): void {
  checkRank('lora_forward', a);
  if (a.M === 0) return;
  dispatchPlanned(ctx, {
    label: 'lora_forward',
    bindings: [
      { name: 'x', region: a.x, write: false },
      { name: 'A', region: a.A, write: false },
      { name: 'B', region: a.B, write: false },
      { name: 't', region: a.t, write: true },
      { name: 'y', region: a.y, write: true },
    ],
    code: loraForwardWgsl,
    uniforms: dimsUniforms(a).data,
    workgroups: rowGrid(a.M),
  });
}

export function loraBackwardRows(ctx: GpuContext, a: LoraBackwardRowsArgs): void {
  checkRank('lora_backward_rows', a);
  if (a.M === 0) return;
  const hasDx = a.dx !== null;
  dispatchPlanned(ctx, {
    label: 'lora_backward_rows',
    key: `lora_backward_rows${hasDx ? '_dx' : ''}`,
    bindings: [
      { name: 'dy', region: a.dy, write: false },
      { name: 'B', region: a.B, write: false },
      ...(a.dx ? [{ name: 'A', region: a.A, write: false }] : []),
      { name: 'u', region: a.u, write: true },
      ...(a.dx ? [{ name: 'dx', region: a.dx, write: true }] : []),
    ],
    code: (L) => loraBackwardRowsWgsl(L, hasDx),
    uniforms: dimsUniforms(a).u32(a.accumulateDx ? 1 : 0).data,
    workgroups: rowGrid(a.M),
  });
}

export function loraBackwardWeights(ctx: GpuContext, a: LoraBackwardWeightsArgs): void {
  checkRank('lora_backward_weights', a);
  const nA = a.dA ? a.r * a.inF : 0;
  const total = nA + (a.dB ? a.outF * a.r : 0);
  if (total === 0) return;
  const hasA = a.dA !== null;
  const hasB = a.dB !== null;
  dispatchPlanned(ctx, {
    label: 'lora_backward_weights',
    key: `lora_backward_weights${hasA ? '_a' : ''}${hasB ? '_b' : ''}`,
    bindings: [
      ...(a.dA
        ? [
            { name: 'u', region: a.u, write: false },
            { name: 'x', region: a.x, write: false },
          ]
        : []),
      ...(a.dB
        ? [
            { name: 'dy', region: a.dy, write: false },
            { name: 't', region: a.t, write: false },
          ]
        : []),
      ...(a.dA ? [{ name: 'dA', region: a.dA, write: true }] : []),
      ...(a.dB ? [{ name: 'dB', region: a.dB, write: true }] : []),
    ],
    code: (L) => loraBackwardWeightsWgsl(L, hasA, hasB),
    uniforms: dimsUniforms(a)
      .u32(nA)
      .u32(total)
      .u32(a.accumulateDA ? 1 : 0)
      .u32(a.accumulateDB ? 1 : 0).data,
    workgroups: grid1d(total),
  });
}
