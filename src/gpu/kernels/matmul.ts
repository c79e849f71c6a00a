// Dispatch for the matmul family: out[b][M,N] (+)= alpha · op(A)[M,K] · op(B)[K,N], batched with strides
// (0 = broadcast), any transpose, B plain f32 or a frozen weight in any stored format (bFormat: f16, bf16,
// int8 per output channel, nf4; util/quant.ts), widened to f32 inside every variant. A call with at most
// GEMV_MAX_ROWS rows that names no variant goes to the GEMV path (gemv.ts) when it takes it. Otherwise it
// picks the variant (the caller's, else the autotune's choice for the call's shape class in ctx.variants
// under 'matmul/<class>', else the legacy 'matmul' entry, else untunedVariant), checks the regions are large
// enough, and records
// the dispatch with its bindings planned and its kernel memoised by the shared helpers (bindings.ts), like
// every kernel; the caller allocates `out`. MatmulArgs is the one definition of the arguments (the tape's
// backend and the twin take it too). The shader text is in matmul.wgsl.ts, the CPU twin in matmul.ref.ts,
// the variant choice in ../autotune.ts.
//
// Backward needs no kernels of its own: for out = op(A)·op(B), dA = dOut·op(B)ᵀ and dB = op(A)ᵀ·dOut are
// calls with the transpose flags flipped (see matmul.test.ts, "backward through trans flags").

import { type BaseDtype, elemsPerWord, NF4_BLOCK, type WeightFormat } from '../../util/quant';
import type { GpuRegion } from '../arena';
import { regionParts } from '../arena';
import { type GpuContext, type KernelSource, Uniforms } from '../context';
import { GpuKernelError } from '../errors';
import { type KernelLayout, memoKernel, planBindings } from './bindings';
import { GEMV_MAX_ROWS, gemv } from './gemv';
import {
  LANES_SHAPE,
  type MatmulTemplate,
  matmulLanesWgsl,
  matmulNaiveWgsl,
  matmulRegblockWgsl,
  matmulTiledWgsl,
  NAIVE_WG,
  REGBLOCK_SHAPE,
  type RegblockShape,
  SKINNY_SHAPE,
  TILED_SHAPE,
} from './matmul.wgsl';
import { matmulQuadWgsl, QUAD_NARROW_SHAPE, QUAD_SHAPE, quadTile } from './matmul-quad.wgsl';
import { matmulSplitKWgsl, SPLITK_SHAPE } from './matmul-splitk.wgsl';
import { matmulTiled4Wgsl, TILED4_SHAPE } from './matmul-tiled4.wgsl';

/**
 * naive: one output per invocation. regblock: 8×8 register blocks, no workgroup memory (SwiftShader's
 * pick). skinny: regblock shaped 8 columns wide for LoRA's N = r. lanes: register blocks with columns
 * interleaved across neighbouring invocations (contiguous B loads per SIMD group / warp). tiled: scalar
 * workgroup-memory tiles. tiled4: vec4 global and workgroup loads, double-buffered (hardware GPUs).
 * splitk: a 4×64 output tile per workgroup with K split over its invocations (few outputs, long K).
 * quad / quadnarrow: register blocks shared by the four lanes of a subgroup quad, every load four
 * consecutive words (matmul-quad.wgsl.ts; SwiftShader's pick; needs `subgroups` and an f32 B, else the
 * call runs 'lanes'); quadnarrow is 8 columns wide for N = r.
 */
export type MatmulVariant =
  | 'naive'
  | 'regblock'
  | 'tiled'
  | 'lanes'
  | 'skinny'
  | 'tiled4'
  | 'splitk'
  | 'quad'
  | 'quadnarrow';

export const MATMUL_VARIANTS: readonly MatmulVariant[] = [
  'naive',
  'regblock',
  'tiled',
  'lanes',
  'skinny',
  'tiled4',
  'splitk',
  'quad',
  'quadnarrow',
];

/**
 * Shape classes the autotune chooses a variant for, each under ctx.variants 'matmul/<class>'. smallM:
 * few rows (decode past the GEMV path, short batches); skinnyN / skinnyK: a LoRA rank on the output or
 * the reduced axis; transA: weight gradients (op(A) = xᵀ); square: everything else.
 */
export type MatmulClass = 'smallM' | 'skinnyN' | 'skinnyK' | 'transA' | 'square';

export const MATMUL_CLASSES: readonly MatmulClass[] = ['smallM', 'skinnyN', 'skinnyK', 'transA', 'square'];

/** Below these sizes an axis counts as small (a LoRA rank is ≤ 64; decode batches are a few rows). */
export const SMALL_M = 32;
export const SKINNY = 64;

/** The shape class of one call (first match in MATMUL_CLASSES order). */
export function matmulClass(M: number, N: number, K: number, transA = false): MatmulClass {
  if (M <= SMALL_M) return 'smallM';
  if (N <= SKINNY) return 'skinnyN';
  if (K <= SKINNY) return 'skinnyK';
  return transA ? 'transA' : 'square';
}

/** The ctx.variants key of a class. */
export const matmulVariantKey = (c: MatmulClass): string => `matmul/${c}`;

/** The matmul's arguments on any storage S (the tape's op, the CPU twin): see MatmulGpuOptions for the rest. */
export interface MatmulArgs<S = GpuRegion> {
  out: S;
  a: S;
  b: S;
  M: number;
  N: number;
  K: number;
  /** A stored [K,M] row-major instead of [M,K]. */
  transA?: boolean;
  /** B stored [N,K] row-major instead of [K,N]. */
  transB?: boolean;
  /** Default 1. */
  batch?: number;
  /** Elements between batch items; default dense; 0 = broadcast. */
  strideA?: number;
  strideB?: number;
  strideOut?: number;
  /** out += result (gradient accumulation) instead of out = result. */
  accumulate?: boolean;
  /** Result scaled by alpha (default 1); an accumulated old value is not scaled. */
  alpha?: number;
  /**
   * How B is stored when it is a frozen weight (null/absent: plain f32). On the GPU the kernel widens each
   * element as it loads it; on the CPU twin the store already holds the dequantized values, so the twin
   * ignores it. int8 channels follow the format's layout: 'out_in' channels are B's storage rows.
   */
  bFormat?: WeightFormat<S> | null;
}

/** Options only the GPU dispatch has: which variant runs. */
export interface MatmulGpuOptions {
  /**
   * Overrides the autotune's choice (ctx.variants 'matmul/<class>', then 'matmul'); default untunedVariant's
   * when unset. Naming a variant also skips the GEMV path.
   */
  variant?: MatmulVariant;
}

export const isMatmulVariant = (v: unknown): v is MatmulVariant =>
  typeof v === 'string' && (MATMUL_VARIANTS as readonly string[]).includes(v);

/**
 * The kernel's name in labels and errors, e.g. matmul_regblock_nt_f16b, matmul_tiled_nn_int8b_k or
 * matmul_tiled4_nn_vab (vec4 loads of A and B).
 */
const matmulLabel = (variant: MatmulVariant, t: MatmulTemplate) =>
  `matmul_${variant}_${t.transA ? 't' : 'n'}${t.transB ? 't' : 'n'}${t.bDtype === 'f32' ? '' : `_${t.bDtype}b`}${t.bDtype === 'int8' ? `_${t.bChan}` : ''}${t.vecA || t.vecB ? `_v${t.vecA ? 'a' : ''}${t.vecB ? 'b' : ''}` : ''}${t.exact ? '_x' : ''}${t.acc ? '_acc' : ''}`;

/**
 * Which index of op(B) is B's output channel: B's storage rows are n when transposed and k when not, and
 * an 'out_in' weight's channels are its rows ('in_out': its columns).
 */
export const bChannel = (transB: boolean, layout: 'in_out' | 'out_in'): 'k' | 'n' =>
  (layout === 'out_in') === transB ? 'n' : 'k';

/**
 * The bindings of one call through the shared planner: A and B read, O written. Views of one buffer (a
 * flat parameter or gradient buffer) are declared read_write where the planner says so; the same region
 * as both an input and the output cannot be a matmul, so that is refused here, naming the kernel.
 */
function matmulLayout(label: string, t: MatmulTemplate, args: MatmulArgs): KernelLayout {
  const scales = args.bFormat?.scales;
  const vec4 = 'array<vec4<f32>>';
  const L = planBindings(label, [
    { name: 'A', region: args.a, write: false, type: t.vecA ? vec4 : 'array<f32>' },
    {
      name: 'B',
      region: args.b,
      write: false,
      type: t.bDtype !== 'f32' ? 'array<u32>' : t.vecB ? vec4 : 'array<f32>',
    },
    ...(scales ? [{ name: 'S', region: scales, write: false }] : []),
    { name: 'O', region: args.out, write: true },
  ]);
  if (L.id.O !== 'O')
    throw new GpuKernelError(label, 'out is the same region as an input; matmul cannot run in place');
  return L;
}

/** The kernel for one variant, template and binding layout, generated once (the context caches pipelines). */
export function matmulKernel(variant: MatmulVariant, t: MatmulTemplate, L: KernelLayout): KernelSource {
  const label = matmulLabel(variant, t);
  const source = (): string => {
    switch (variant) {
      case 'naive':
        return matmulNaiveWgsl(t, L);
      case 'regblock':
        return matmulRegblockWgsl(t, L);
      case 'skinny':
        return matmulRegblockWgsl(t, L, SKINNY_SHAPE);
      case 'lanes':
        return matmulLanesWgsl(t, L);
      case 'tiled':
        return matmulTiledWgsl(t, L);
      case 'tiled4':
        return matmulTiled4Wgsl(t, L);
      case 'splitk':
        return matmulSplitKWgsl(t, L);
      case 'quad':
        return matmulQuadWgsl(t, L, QUAD_SHAPE);
      case 'quadnarrow':
        return matmulQuadWgsl(t, L, QUAD_NARROW_SHAPE);
    }
  };
  return memoKernel(`${label}:${L.sig}`, label, source);
}

const blockTile = (s: RegblockShape): [number, number] => [s.wgX * s.rn, s.wgY * s.rm];

/** Output elements covered by one workgroup along x (columns) and y (rows). */
function workgroupTile(variant: MatmulVariant): [number, number] {
  switch (variant) {
    case 'naive':
      return [NAIVE_WG, NAIVE_WG];
    case 'regblock':
      return blockTile(REGBLOCK_SHAPE);
    case 'skinny':
      return blockTile(SKINNY_SHAPE);
    case 'lanes':
      return blockTile(LANES_SHAPE);
    case 'tiled':
      return [TILED_SHAPE.wg * TILED_SHAPE.rb, TILED_SHAPE.wg * TILED_SHAPE.rb];
    case 'tiled4':
      return [TILED4_SHAPE.wg * 4, TILED4_SHAPE.wg * 4];
    case 'splitk':
      return [SPLITK_SHAPE.quads * 4, SPLITK_SHAPE.rows];
    case 'quad':
      return quadTile(QUAD_SHAPE);
    case 'quadnarrow':
      return quadTile(QUAD_NARROW_SHAPE);
  }
}

/**
 * The variant of a call when nothing was tuned (tests, the page before a tune): on a software adapter with
 * quad operations (SwiftShader) the quad kernels, measured 1.6-2× every other variant there in every class
 * (bench/matmul-node.ts); elsewhere regblock, which never loses badly.
 */
export function untunedVariant(
  ctx: Pick<GpuContext, 'adapter' | 'features'>,
  cls: MatmulClass,
): MatmulVariant {
  if (!(ctx.adapter.software && ctx.features.subgroups)) return 'regblock';
  return cls === 'skinnyN' ? 'quadnarrow' : 'quad';
}

const isQuad = (v: MatmulVariant) => v === 'quad' || v === 'quadnarrow';

/**
 * Whether an operand can be read as vec4<f32>: its contiguous axis and its batch stride are multiples of
 * 4 (so a 4-element quad never straddles a row or the edge, and every quad starts on a 16-byte boundary)
 * and its binding starts and ends on 16 bytes.
 */
function vec4Readable(r: GpuRegion, contiguous: number, stride: number, batch: number): boolean {
  const { offset, size } = regionParts(r);
  return contiguous % 4 === 0 && (batch === 1 || stride % 4 === 0) && offset % 16 === 0 && size % 16 === 0;
}

/** True when two regions share bytes of one buffer. */
function overlapping(x: GpuRegion, y: GpuRegion): boolean {
  const a = regionParts(x);
  const b = regionParts(y);
  return a.buffer === b.buffer && a.offset < b.offset + b.size && b.offset < a.offset + a.size;
}

const isUint = (v: number) => Number.isInteger(v) && v >= 0 && v < 2 ** 32;

/** out[b][M,N] (+)= alpha · op(A)[M,K] · op(B)[K,N]. */
export function matmul(ctx: GpuContext, args: MatmulArgs & MatmulGpuOptions): void {
  const { M, N, K } = args;
  // Decode-sized calls: the GEMV path when it takes the call (it records nothing when it does not).
  if (args.variant === undefined && M <= GEMV_MAX_ROWS && gemv(ctx, args)) return;
  const transA = args.transA ?? false;
  const transB = args.transB ?? false;
  const bDtype: BaseDtype = args.bFormat?.dtype ?? 'f32';
  const batch = args.batch ?? 1;
  const strideA = args.strideA ?? M * K;
  const strideB = args.strideB ?? K * N;
  const strideOut = args.strideOut ?? M * N;
  const cls = matmulClass(M, N, K, transA);
  const chosen =
    args.variant ??
    ctx.variants.get(matmulVariantKey(cls)) ??
    ctx.variants.get('matmul') ??
    untunedVariant(ctx, cls);
  let variant: MatmulVariant = isMatmulVariant(chosen) ? chosen : 'regblock';
  // The quad kernels need quad operations and read B as plain f32 words (a packed weight's lanes would
  // share words: gathers again); anything else takes the lanes kernel, their nearest relative.
  if (isQuad(variant) && (bDtype !== 'f32' || !ctx.features.subgroups)) variant = 'lanes';
  const bChan = bDtype === 'int8' ? bChannel(transB, args.bFormat?.layout ?? 'out_in') : 'n';
  let vecA = variant === 'tiled4' && vec4Readable(args.a, transA ? M : K, strideA, batch);
  let vecB = variant === 'tiled4' && bDtype === 'f32' && vec4Readable(args.b, transB ? K : N, strideB, batch);
  // One region bound under two element types would be two overlapping bindings: read both alike.
  if (vecA !== vecB && overlapping(args.a, args.b)) vecA = vecB = false;
  const template: MatmulTemplate = { transA, transB, bDtype, bChan, vecA, vecB };
  if (isQuad(variant)) {
    const [tx, ty] = workgroupTile(variant);
    template.exact = M % ty === 0 && N % tx === 0;
    template.acc = args.accumulate ?? false;
  }
  const label = matmulLabel(variant, template);
  const fail = (msg: string) => new GpuKernelError(label, msg);

  for (const [name, v] of Object.entries({ M, N, K, batch, strideA, strideB, strideOut })) {
    if (!isUint(v)) throw fail(`${name} = ${v} is not a non-negative 32-bit integer`);
  }
  if (M === 0 || N === 0 || batch === 0) return;
  if (batch > 1 && strideOut < M * N)
    throw fail(`strideOut ${strideOut} < M·N = ${M * N}: batch items would write over each other`);
  // Elements each operand must hold: the last batch item's start plus one matrix.
  const need = (stride: number, size: number) => (batch - 1) * stride + size;
  const check = (what: string, r: GpuRegion, elems: number, perWord = 1) => {
    // Packed values are read a whole u32 word at a time.
    const bytes = Math.ceil(elems / perWord) * 4;
    const have = regionParts(r).size;
    if (have < bytes) throw fail(`${what} holds ${have} bytes; this call reads or writes ${bytes}`);
  };
  check('a', args.a, need(strideA, M * K));
  check('b', args.b, need(strideB, K * N), elemsPerWord(bDtype));
  if (bDtype === 'int8' || bDtype === 'nf4') {
    const scales = args.bFormat?.scales;
    if (!scales) throw fail(`a ${bDtype} B needs its scales`);
    // int8 scales are per channel of one matrix: batch items at a stride would each need their own.
    if (bDtype === 'int8' && batch > 1 && strideB !== 0)
      throw fail('an int8 B is one matrix: batch it by broadcast (strideB 0) only');
    const count = bDtype === 'int8' ? (bChan === 'n' ? N : K) : Math.ceil(need(strideB, K * N) / NF4_BLOCK);
    check('bFormat.scales', scales, count);
  }
  check('out', args.out, need(strideOut, M * N));
  const maxIndex = Math.max(need(strideA, M * K), need(strideB, K * N), need(strideOut, M * N));
  if (maxIndex >= 2 ** 32) throw fail(`indices reach ${maxIndex}, past 32 bits`);

  const L = matmulLayout(label, template, args);
  const kernel = matmulKernel(variant, template, L);
  const [tx, ty] = workgroupTile(variant);
  const gx = Math.ceil(N / tx);
  const gy = Math.ceil(M / ty);
  // Batch rides on z; past the per-dimension limit it is split into several dispatches.
  const maxZ = ctx.limits.maxComputeWorkgroupsPerDimension;
  for (let b0 = 0; b0 < batch; b0 += maxZ) {
    const uniforms = new Uniforms()
      .u32(M)
      .u32(N)
      .u32(K)
      .u32(b0)
      .u32(strideA)
      .u32(strideB)
      .u32(strideOut)
      .u32(args.accumulate ? 1 : 0)
      .f32(args.alpha ?? 1).data;
    ctx.dispatch({
      kernel,
      buffers: L.buffers,
      uniforms,
      workgroups: [gx, gy, Math.min(maxZ, batch - b0)],
    });
  }
}

/** Floating-point operations of one call: 2·M·N·K·batch (a multiply and an add per term). */
export function matmulFlops(M: number, N: number, K: number, batch = 1): number {
  return 2 * M * N * K * batch;
}
