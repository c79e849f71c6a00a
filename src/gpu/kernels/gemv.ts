// The GEMV path of the matmul family: matmul's exact contract (MatmulArgs: batching with strides, any
// transpose, accumulate, alpha, B in any frozen-weight format) for calls where op(A) has at most
// GEMV_MAX_ROWS rows, which is every matmul of generation's decode step. A tiled or register-blocked matmul
// pads M up to its block (8× the work at M = 1 for 'regblock') and leaves most invocations idle; here one
// invocation computes one output column for all M rows. `gemv` returns false, recording nothing, for a call it
// does not take (more rows, a grid past the limits, a region too small or aliased: matmul then runs or
// names the error), so matmul() can try it first. The shader is gemv.wgsl.ts; the twin is matmul.ref.ts's.
// ctx.variants 'gemv' = 'off' turns the path off (the decode bench times the path it replaces).

import { type BaseDtype, elemsPerWord, NF4_BLOCK } from '../../util/quant';
import { type GpuRegion, regionParts } from '../arena';
import { type GpuContext, Uniforms } from '../context';
import { memoKernel, planBindings } from './bindings';
import { GEMV_WG, type GemvTemplate, gemvBindingTypes, gemvColsPerThread, gemvWgsl } from './gemv.wgsl';
import type { MatmulArgs } from './matmul';

/** The most rows of op(A) the GEMV path takes (generation's batch); past it the matmul kernels win. */
export const GEMV_MAX_ROWS = 8;

const isUint = (v: number) => Number.isInteger(v) && v >= 0 && v < 2 ** 32;

/** True when regions a and b share bytes of one buffer. */
function overlaps(a: GpuRegion, b: GpuRegion): boolean {
  const x = regionParts(a);
  const y = regionParts(b);
  return x.buffer === y.buffer && x.offset < y.offset + y.size && y.offset < x.offset + x.size;
}

const label = (t: GemvTemplate) =>
  `gemv${t.rows}_${t.transA ? 't' : 'n'}${t.transB ? 't' : 'n'}${t.bDtype === 'f32' ? '' : `_${t.bDtype}b`}${t.bDtype === 'int8' ? `_${t.bChan}` : ''}${t.vec ? '_v4' : ''}`;

/** out[b][M,N] (+)= alpha · op(A)[M,K] · op(B)[K,N] for M ≤ GEMV_MAX_ROWS; false if the call is not taken. */
export function gemv(ctx: GpuContext, args: MatmulArgs): boolean {
  if (ctx.variants.get('gemv') === 'off') return false;
  const { M, N, K } = args;
  const transA = args.transA ?? false;
  const transB = args.transB ?? false;
  const bDtype: BaseDtype = args.bFormat?.dtype ?? 'f32';
  const batch = args.batch ?? 1;
  const strideA = args.strideA ?? M * K;
  const strideB = args.strideB ?? K * N;
  const strideOut = args.strideOut ?? M * N;
  for (const v of [M, N, K, batch, strideA, strideB, strideOut]) if (!isUint(v)) return false;
  if (M < 1 || M > GEMV_MAX_ROWS || N === 0 || K === 0 || batch === 0) return false;
  if (batch > 1 && strideOut < M * N) return false;
  // B's output channel (matmul.ts's bChannel): its storage rows are n when transposed and k when not, and
  // an 'out_in' weight's channels are its rows.
  const bChan =
    bDtype === 'int8' ? (((args.bFormat?.layout ?? 'out_in') === 'out_in') === transB ? 'n' : 'k') : 'n';
  const scales = args.bFormat?.scales ?? null;
  if ((bDtype === 'int8' || bDtype === 'nf4') && !scales) return false;
  if (bDtype === 'int8' && batch > 1 && strideB !== 0) return false;

  // Sizes as matmul checks them; a call that fails them is left to matmul, which names the problem.
  const need = (stride: number, size: number) => (batch - 1) * stride + size;
  const holds = (r: GpuRegion, elems: number, perWord = 1) =>
    regionParts(r).size >= Math.ceil(elems / perWord) * 4;
  if (!holds(args.a, need(strideA, M * K))) return false;
  if (!holds(args.b, need(strideB, K * N), elemsPerWord(bDtype))) return false;
  if (!holds(args.out, need(strideOut, M * N))) return false;
  if (scales) {
    const count = bDtype === 'int8' ? (bChan === 'n' ? N : K) : Math.ceil(need(strideB, K * N) / NF4_BLOCK);
    if (!holds(scales, count)) return false;
  }
  if (Math.max(need(strideA, M * K), need(strideB, K * N), need(strideOut, M * N)) >= 2 ** 32) return false;
  // The output must not share bytes with an input (matmul refuses in-place calls); A and B may be bound with
  // different element types here, so they must not share a buffer's bytes either.
  if (overlaps(args.out, args.a) || overlaps(args.out, args.b) || (scales && overlaps(args.out, scales)))
    return false;
  if (overlaps(args.a, args.b)) return false;

  // The vector path: four stored elements of B per load, aligned to 4 in every batch item.
  const aligned = (v: number) => v % 4 === 0;
  const vec = transB
    ? !transA && aligned(K) && (batch === 1 || (aligned(strideA) && aligned(strideB)))
    : aligned(N) && (batch === 1 || aligned(strideB));
  const t: GemvTemplate = { rows: M, transA, transB, bDtype, bChan, vec };
  const maxDim = ctx.limits.maxComputeWorkgroupsPerDimension;
  const groups = Math.ceil(N / gemvColsPerThread(t) / GEMV_WG);
  if (groups > maxDim || batch > maxDim) return false;

  const name = label(t);
  const types = gemvBindingTypes(t);
  const L = planBindings(name, [
    { name: 'A', region: args.a, write: false, type: types.a },
    { name: 'B', region: args.b, write: false, type: types.b },
    ...(scales ? [{ name: 'S', region: scales, write: false }] : []),
    { name: 'O', region: args.out, write: true },
  ]);
  const kernel = memoKernel(`${name}:${L.sig}`, name, () => gemvWgsl(t, L));
  const uniforms = new Uniforms()
    .u32(M)
    .u32(N)
    .u32(K)
    .u32(strideA)
    .u32(strideB)
    .u32(strideOut)
    .u32(args.accumulate ? 1 : 0)
    .f32(args.alpha ?? 1).data;
  ctx.dispatch({ kernel, buffers: L.buffers, uniforms, workgroups: [groups, 1, batch] });
  return true;
}
