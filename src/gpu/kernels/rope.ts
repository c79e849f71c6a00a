// Dispatch for rotary position embedding (HF rotate_half layout) over x [B, T, H, D]. Positions are
// posOffset + t, or positions[b·T + t] (i32) when given, e.g. when packing restarts them per example. The
// backward of a rotation is the inverse rotation: call with `inverse: true` on dOut. `out` may be `x`
// (in place: each invocation reads its pair before writing it). A `pair` rotates a second tensor at the same
// positions in the same dispatch (generation's keys beside its queries, the keys possibly in place in a KV
// cache whose batch items lie `strideB` apart), one dispatch instead of two.
import type { GpuRegion } from '../arena';
import { type GpuContext, Uniforms } from '../context';
import { type BindingSpec, memoKernel, planBindings } from './bindings';
import { grid1d } from './common';
import { ropeWgsl } from './rope.wgsl';

export interface RopeArgs<S = GpuRegion, I = S> {
  out: S;
  x: S;
  B: number;
  T: number;
  H: number;
  D: number;
  theta: number;
  /** Position of token t of every item is posOffset + t (default 0) unless positions are given. */
  posOffset?: number;
  /** i32 positions[b·T + t]; when given, posOffset is not used. */
  positions?: I | null;
  /** Rotate by −angle (the backward: RoPE is orthogonal). */
  inverse?: boolean;
  /** A second tensor [B, T, H, D] rotated at the same positions in the same dispatch. */
  pair?: RopePair<S> | null;
}

/** The second tensor of a rope call: its own heads, and its batch items strideB elements apart. */
export interface RopePair<S = GpuRegion> {
  out: S;
  x: S;
  H: number;
  /** Elements between batch items (default T·H·D, dense); out and x share it. */
  strideB?: number;
}

export function rope(ctx: GpuContext, args: RopeArgs): void {
  const { B, T, H, D } = args;
  if (D % 2 !== 0) throw new Error(`rope: head dim D = ${D} must be even`);
  const half = D / 2;
  const pair = args.pair ?? null;
  const n1 = B * T * H * half;
  const H2 = pair ? pair.H : 0;
  const stride2 = pair ? (pair.strideB ?? T * H2 * D) : 0;
  if (pair && (!Number.isInteger(H2) || H2 < 1 || !Number.isInteger(stride2) || stride2 < T * H2 * D))
    throw new Error(`rope: pair of ${H2} heads with batch stride ${stride2} (< T·H·D = ${T * H2 * D})`);
  const n = n1 + B * T * H2 * half;
  if (n === 0) return;
  const posOffset = args.posOffset ?? 0;
  if (!Number.isInteger(posOffset) || posOffset < 0)
    throw new Error(`rope: posOffset ${posOffset} must be a non-negative integer`);
  const specs: BindingSpec[] = [
    { name: 'x', region: args.x, write: false },
    { name: 'out', region: args.out, write: true },
  ];
  if (pair)
    specs.push({ name: 'x2', region: pair.x, write: false }, { name: 'out2', region: pair.out, write: true });
  if (args.positions)
    specs.push({ name: 'positions', region: args.positions, write: false, type: 'array<i32>' });
  const L = planBindings('rope', specs);
  const withPos = !!args.positions;
  // invFreq_j = 2^(−j·l2); hi on a 2⁻¹² grid keeps j·hi exact in f32 (see rope.wgsl.ts).
  const l2 = (2 * Math.log2(args.theta)) / D;
  const l2hi = Math.round(l2 * 4096) / 4096;
  ctx.dispatch({
    kernel: memoKernel(`rope${withPos ? '_pos' : ''}${pair ? '_pair' : ''}:${L.sig}`, 'rope', () =>
      ropeWgsl(L, withPos, !!pair),
    ),
    buffers: L.buffers,
    uniforms: new Uniforms()
      .u32(n)
      .u32(T)
      .u32(H)
      .u32(half)
      .u32(D)
      .u32(posOffset)
      .u32(args.inverse ? 1 : 0)
      .f32(l2hi)
      .f32(l2 - l2hi)
      .u32(n1)
      .u32(H2)
      .u32(stride2).data,
    workgroups: grid1d(n),
  });
}
