// Dispatch for fused causal multi-head attention with grouped KV heads (GQA/MQA), a KV-cache offset (S ≥ T)
// and an optional key/value prefix (prefix tuning), plus its recomputing backward (FlashAttention-2 style:
// probabilities are rebuilt from the saved lse, never stored as T×S). Owns the argument types (AttentionArgs,
// AttentionBackwardArgs: the backend and the twin take them too), argument checks and which kernels run;
// bindings and kernel caching go through the shared helpers (bindings.ts). The WGSL is in attention.wgsl.ts
// and the float64 twin in attention.ref.ts. Callers allocate every output; the backward borrows one workspace
// buffer (Δ) from the arena and frees it after recording.
//
// Layouts (row-major f32): q [B,T,Hq·D]; k, v [B,S,Hkv·D]; prefixK/V [P,Hkv·D]; out [B,T,Hq·D];
// lse [B,Hq,T]. Query head h reads kv head floor(h / G), G = Hq / Hkv. Query t sits at real-key position
// t + S − T and sees real keys j ≤ t + S − T plus every prefix key.
//
// Reading a KV cache (forward only): `kvStride` rows between batch items in k/v (the cache's capacity, default S)
// and `kvStart`, an i32 per batch item giving its first valid key (left-padded prompts of different lengths in
// one batch): item b's queries see real keys kvStart[b] ≤ j ≤ t + S − T, and a query that sees no key at all
// (a padding row without a prefix) gets out = 0.
//
// Packed rows (forward and backward): \`segments\`, i32 [B,S], one id per key position (query t has the id of key
// position t + S − T). A real key is seen only by queries with its id, or by every query when its id is negative
// (tokens shared by the row's examples: prompt tuning's virtual tokens); prefix keys by every query as before.
// Padding (id 0) attends to padding, so every query still sees itself: no 0/0. Without segments the kernels and
// their cache keys are exactly the unmasked ones; with them each kernel is a separate '_seg' pipeline.
//
// Four variants, chosen by ctx.variants.get('attention') (the autotune stores attention-tune.ts's pick; see
// attentionVariantOf for the default): 'flash' (default on hardware; register-blocked FlashAttention-2 in
// attention-flash.wgsl.ts: a block of FLASH_SHAPE.R queries or keys per invocation, tiles of the rows it loops
// over, no barriers), 'quad' (default on a software adapter with subgroups; attention-quad.wgsl.ts: the flash
// blocks owned by a quad of invocations splitting head_dim, so SwiftShader's loads are vector loads; ~1.7-2×
// 'flash' there at B8 T128 D64, bench/attention-node.ts), 'rows' (barrier-free, one invocation per query or
// key row) and 'tiled' (the per-row arithmetic with the looped-over rows shared through workgroup memory
// tiles: fewer global reads on real GPUs). All are deterministic and use no atomics; Δ is computed by one
// small kernel, or by 'quad''s dQ kernel when dq is wanted. 'quad' can also store P and dS from dQ for dK/dV
// while both matrices fit QUAD_STORED.maxBytes (attention-quad-stored.wgsl.ts; ~1.15× its backward; off by
// default, see QUAD_STORED).
import { alignBytes, type GpuRegion } from '../arena';
import { type GpuContext, Uniforms } from '../context';
import { GpuKernelError } from '../errors';
import {
  ATTENTION_TILE_ROWS,
  ATTENTION_WG,
  type AttentionBinding,
  type AttentionDeclare,
  type AttentionShader,
  attentionBindingType,
  attentionDeltaWgsl,
  attentionDkvTiledWgsl,
  attentionDkvWgsl,
  attentionDqTiledWgsl,
  attentionDqWgsl,
  attentionForwardTiledWgsl,
  attentionForwardWgsl,
} from './attention.wgsl';
import {
  attentionDkvFlashWgsl,
  attentionDqFlashWgsl,
  attentionForwardFlashWgsl,
  FLASH_SHAPE,
} from './attention-flash.wgsl';
import {
  attentionDkvQuadWgsl,
  attentionDqQuadWgsl,
  attentionForwardQuadWgsl,
  QUAD_SHAPE,
  type QuadShape,
} from './attention-quad.wgsl';
import { attentionDkvStoredWgsl, storedMatrixBytes } from './attention-quad-stored.wgsl';
import { memoKernel, planBindings } from './bindings';
import { grid1d } from './common';

export interface AttentionDims {
  B: number;
  T: number;
  S: number;
  Hq: number;
  Hkv: number;
  D: number;
  /** Prefix keys/values shared by the batch (prefix tuning); 0 or absent for none. */
  P?: number;
  /** Score scale; default 1/√D. */
  scale?: number;
  /** Rows between batch items in k/v, ≥ S; default S (dense [B,S,…]). Forward only. */
  kvStride?: number;
}

/** The largest head_dim the private-array kernels accept (rows live in registers or spill beyond this). */
export const ATTENTION_MAX_D = 256;

export const ATTENTION_VARIANTS = ['rows', 'tiled', 'flash', 'quad'] as const;
export type AttentionVariant = (typeof ATTENTION_VARIANTS)[number];

/** The forward's arguments on any storage (S floats, I i32 ids): the kernel's, the tape op's and the twin's. */
export interface AttentionArgs<S = GpuRegion, I = S> extends AttentionDims {
  out: S;
  lse: S;
  q: S;
  k: S;
  v: S;
  prefixK?: S | null;
  prefixV?: S | null;
  /** i32 [B], each batch item's first visible real key (left-padded batches); forward only. */
  kvStart?: I | null;
  /** i32 [B,S], packed rows' example ids (a real key is seen by queries of its id; negative: by all). */
  segments?: I | null;
}

/** The backward's arguments; a null gradient is not computed. */
export interface AttentionBackwardArgs<S = GpuRegion, I = S> extends AttentionDims {
  dq: S | null;
  dk: S | null;
  dv: S | null;
  dPrefixK?: S | null;
  dPrefixV?: S | null;
  dOut: S;
  q: S;
  k: S;
  v: S;
  prefixK?: S | null;
  prefixV?: S | null;
  out: S;
  lse: S;
  /** The forward's segments (i32 [B,S]), if it had them. */
  segments?: I | null;
}

/** Each template's binding list (names, access, types), taken once from its generator. */
const bindingLists = new Map<string, AttentionBinding[]>();

/**
 * Records one attention kernel through the shared planner and kernel memo (bindings.ts), like every other
 * kernel: `key` names the template, the planner's signature the binding layout, and the WGSL is generated
 * once per pair with the planner's declarations. The kernels name their buffers directly, so a call binding
 * one region to two arguments is refused here, naming the kernel.
 */
function run(
  ctx: GpuContext,
  key: string,
  label: string,
  make: (declare?: AttentionDeclare) => AttentionShader,
  buffers: Record<string, GpuRegion | null | undefined>,
  uniforms: ArrayBuffer,
  workgroups: [number, number, number?],
): void {
  let bindings = bindingLists.get(key);
  if (!bindings) {
    bindings = make().bindings;
    bindingLists.set(key, bindings);
  }
  const L = planBindings(
    label,
    bindings.map((b) => {
      const region = buffers[b.name];
      if (!region) throw new GpuKernelError(label, `buffer "${b.name}" missing`);
      return { name: b.name, region, write: b.write, type: attentionBindingType(b) };
    }),
  );
  const merged = bindings.find((b) => L.id[b.name] !== b.name);
  if (merged)
    throw new GpuKernelError(label, `"${merged.name}" is the same region as "${L.id[merged.name]}"`);
  ctx.dispatch({
    kernel: memoKernel(`${key}:${L.sig}`, label, () => make(() => L.decls('Params')).code),
    buffers: L.buffers,
    uniforms,
    workgroups,
  });
}

interface Checked {
  B: number;
  T: number;
  S: number;
  Hq: number;
  Hkv: number;
  D: number;
  P: number;
  G: number;
  scale: number;
  kvStride: number;
}

function check(
  what: string,
  dims: AttentionDims,
  prefixK?: GpuRegion | null,
  prefixV?: GpuRegion | null,
): Checked {
  const { B, T, S, Hq, Hkv, D } = dims;
  const P = dims.P ?? 0;
  const kvStride = dims.kvStride ?? S;
  for (const [name, v] of Object.entries({ B, T, S, Hq, Hkv, D, P, kvStride })) {
    if (!Number.isInteger(v) || v < 0 || (v === 0 && name !== 'P'))
      throw new Error(
        `${what}: ${name} = ${v} must be a ${name === 'P' ? 'non-negative' : 'positive'} integer`,
      );
  }
  if (S < T) throw new Error(`${what}: S = ${S} keys is fewer than T = ${T} queries`);
  if (kvStride < S) throw new Error(`${what}: kvStride = ${kvStride} rows is fewer than S = ${S} keys`);
  if (Hq % Hkv !== 0) throw new Error(`${what}: Hq = ${Hq} is not a multiple of Hkv = ${Hkv}`);
  if (D > ATTENTION_MAX_D) throw new Error(`${what}: head_dim ${D} exceeds ${ATTENTION_MAX_D}`);
  if (P > 0 && (!prefixK || !prefixV)) throw new Error(`${what}: P = ${P} but prefixK/prefixV not given`);
  const c: Checked = {
    B,
    T,
    S,
    Hq,
    Hkv,
    D,
    P,
    G: Hq / Hkv,
    scale: dims.scale ?? 1 / Math.sqrt(D),
    kvStride,
  };
  return c;
}

/** Whether segments are given, after refusing them where they are not defined (KV-cache reads). */
function checkSegments(
  what: string,
  c: Checked,
  segments: GpuRegion | null | undefined,
  start: boolean,
): boolean {
  if (!segments) return false;
  if (start || c.kvStride !== c.S)
    throw new Error(
      `${what}: segments (packed rows) cannot be combined with a KV cache read (kvStart, kvStride)`,
    );
  if (segments.bytes < c.B * c.S * 4)
    throw new Error(`${what}: segments hold ${segments.bytes / 4} ids, need B·S = ${c.B * c.S}`);
  return true;
}

function uniforms(c: Checked): ArrayBuffer {
  return new Uniforms()
    .u32(c.B)
    .u32(c.T)
    .u32(c.S)
    .u32(c.Hq)
    .u32(c.Hkv)
    .u32(c.G)
    .u32(c.P)
    .f32(c.scale)
    .u32(c.kvStride).data;
}

/**
 * The autotune's pick, else the default: 'quad' on a software adapter with subgroups (SwiftShader: its lanes'
 * loads become vector loads; fastest there by bench/attention-node.ts), else 'flash'. 'quad' needs the
 * `subgroups` feature: without it (a pick cached elsewhere) 'flash' runs instead.
 */
export function attentionVariantOf(ctx: GpuContext, what = 'attention'): AttentionVariant {
  const v =
    ctx.variants.get('attention') ?? (ctx.adapter.software && ctx.features.subgroups ? 'quad' : 'flash');
  if (!(ATTENTION_VARIANTS as readonly string[]).includes(v))
    throw new Error(`${what}: unknown variant "${v}" (have ${ATTENTION_VARIANTS.join(', ')})`);
  return v === 'quad' && !ctx.features.subgroups ? 'flash' : (v as AttentionVariant);
}

/**
 * The quad block for a kernel owning `rows` rows per (head, batch item): QUAD_SHAPE, with R cut to the next
 * power of two ≥ rows when there are fewer (a decode step's T = 1 computes 1 row, not R copies of it).
 */
export function quadShapeFor(rows: number): QuadShape {
  return { ...QUAD_SHAPE, R: Math.min(QUAD_SHAPE.R, 2 ** Math.ceil(Math.log2(Math.max(1, rows)))) };
}

/** The block shape in kernel cache keys, so a bench that changes FLASH_SHAPE / QUAD_SHAPE gets new kernels. */
const shapeTag = (variant: AttentionVariant, rows: number): string => {
  if (variant === 'flash') return `_${FLASH_SHAPE.R}x${FLASH_SHAPE.C}w${FLASH_SHAPE.wg}`;
  if (variant !== 'quad') return '';
  const q = quadShapeFor(rows);
  return `_${q.R}x${q.C}w${q.wg}u${q.unroll}`;
};

/**
 * Grid of a kernel owning `rows` rows per (head, batch item): 'rows' one invocation each (flat), 'flash' one
 * per block of FLASH_SHAPE.R (flat), 'tiled' one workgroup per ATTENTION_TILE_ROWS, by head, by batch item.
 */
function grid(
  variant: AttentionVariant,
  rows: number,
  heads: number,
  batch: number,
): [number, number, number?] {
  if (variant === 'tiled') return [Math.ceil(rows / ATTENTION_TILE_ROWS), heads, batch];
  if (variant === 'flash') return grid1d(batch * heads * Math.ceil(rows / FLASH_SHAPE.R), FLASH_SHAPE.wg);
  if (variant === 'quad') {
    const q = quadShapeFor(rows);
    return grid1d(4 * batch * heads * Math.ceil(rows / q.R), q.wg);
  }
  return grid1d(batch * heads * rows, ATTENTION_WG);
}

/**
 * out = softmax(scale·q·kᵀ, causal, prefix unmasked)·v per head; lse saved for the backward. `kvStart` (i32 [B],
 * optional) is each batch item's first valid key, for left-padded batches read from a KV cache.
 */
export function attention(ctx: GpuContext, args: AttentionArgs): void {
  const c = check('attention', args, args.prefixK, args.prefixV);
  const variant = attentionVariantOf(ctx, 'attention');
  const prefix = c.P > 0;
  const start = !!args.kvStart;
  const seg = checkSegments('attention', c, args.segments, start);
  const name = `attention_fwd${variant === 'rows' ? '' : `_${variant}`}`;
  const key = `${name}${shapeTag(variant, c.T)}_d${c.D}${prefix ? '_prefix' : ''}${start ? '_start' : ''}${seg ? '_seg' : ''}`;
  run(
    ctx,
    key,
    `${name}(D=${c.D})`,
    (declare) =>
      variant === 'tiled'
        ? attentionForwardTiledWgsl(c.D, prefix, start, seg, declare)
        : variant === 'flash'
          ? attentionForwardFlashWgsl(c.D, prefix, start, seg, declare)
          : variant === 'quad'
            ? attentionForwardQuadWgsl(c.D, prefix, start, seg, declare, quadShapeFor(c.T))
            : attentionForwardWgsl(c.D, prefix, start, seg, declare),
    {
      q: args.q,
      k: args.k,
      v: args.v,
      pk: args.prefixK,
      pv: args.prefixV,
      kvstart: args.kvStart,
      seg: args.segments,
      out: args.out,
      lse: args.lse,
    },
    uniforms(c),
    grid(variant, c.T, c.Hq, c.B),
  );
}

/**
 * The stored-P/dS backward's limit (both matrices together): above it the quad dK/dV recomputes the scores,
 * so long sequences keep memory linear in T. Mutable for benches and tests (0 turns the path off).
 * Off by default: the memory meter and the run predictions do not count the two matrices yet (with it on,
 * the meter-versus-arena tests in model/memory-scaling*.test.ts and train/memory.test.ts fail). Its kernels
 * pass their twin tests, which turn it on (STORED_LIMIT), and bench/attention-node.ts times it.
 */
export const STORED_LIMIT = 8 << 20;
export const QUAD_STORED = { maxBytes: 0 };

/**
 * Bytes attentionBackward borrows from the arena while recording, at most: Δ, one f32 per query row and head,
 * plus the 'quad' variant's stored P and dS where their size is within QUAD_STORED.maxBytes (see storedBytes).
 */
export function attentionWorkspaceBytes(dims: AttentionDims): number {
  return alignBytes(dims.B * dims.Hq * dims.T * 4) + storedBytes(dims);
}

/** Both stored matrices' bytes (arena-aligned) when the stored path may take them, else 0. */
function storedBytes(dims: AttentionDims): number {
  if ((dims.P ?? 0) > 0) return 0;
  const bytes = 2 * alignBytes(storedMatrixBytes(dims.B, dims.Hq, dims.T, dims.S));
  return bytes <= QUAD_STORED.maxBytes ? bytes : 0;
}

/**
 * Gradients of attention given dOut. Overwrites (never accumulates into) each non-null gradient; a null one
 * is skipped entirely. dk/dv sum over the G query heads of a group; prefix grads sum over the batch too.
 */
export function attentionBackward(ctx: GpuContext, args: AttentionBackwardArgs): void {
  const c = check('attentionBackward', args, args.prefixK, args.prefixV);
  const seg = checkSegments('attentionBackward', c, args.segments, false);
  if (c.kvStride !== c.S)
    throw new Error(
      `attentionBackward: kvStride = ${c.kvStride} (a KV cache view) is forward-only; need S = ${c.S}`,
    );
  const variant = attentionVariantOf(ctx, 'attentionBackward');
  const prefix = c.P > 0;
  const wantPk = prefix && !!args.dPrefixK;
  const wantPv = prefix && !!args.dPrefixV;
  if (!args.dq && !args.dk && !args.dv && !wantPk && !wantPv) return;
  const u = uniforms(c);
  const rows = c.B * c.Hq * c.T;
  const needDelta = !!args.dq || !!args.dk || wantPk;
  const delta = needDelta ? ctx.arena.alloc(rows * 4, 'workspace', 'attention.delta') : null;
  const bufs: Record<string, GpuRegion | null | undefined> = {
    q: args.q,
    k: args.k,
    v: args.v,
    pk: args.prefixK,
    pv: args.prefixV,
    dout: args.dOut,
    out: args.out,
    lse: args.lse,
    delta,
    dq: args.dq,
    dk: args.dk,
    dv: args.dv,
    dpk: args.dPrefixK,
    dpv: args.dPrefixV,
    seg: args.segments,
  };
  const D = c.D;
  // 'quad' with dq and real-key gradients wanted, no prefix and small shapes: dQ stores P and dS and dK/dV
  // reads them (attention-quad-stored.wgsl.ts), two products per pair fewer. The matrices are T×S per head.
  const qs = quadShapeFor(c.T);
  const matBytes = storedMatrixBytes(c.B, c.Hq, c.T, c.S);
  const stored =
    variant === 'quad' &&
    !!args.dq &&
    (!!args.dk || !!args.dv) &&
    qs.R % 2 === 0 &&
    qs.C % 2 === 0 &&
    storedBytes(c) > 0;
  const mats = stored
    ? [
        ctx.arena.alloc(matBytes, 'workspace', 'attention.p'),
        ctx.arena.alloc(matBytes, 'workspace', 'attention.ds'),
      ]
    : [];
  [bufs.pmat, bufs.dsmat] = mats;
  // The quad dQ kernel computes Δ itself (and writes it for dK/dV, recorded after it).
  if (delta && !(variant === 'quad' && args.dq)) {
    run(
      ctx,
      `attention_delta_d${D}`,
      `attention_delta(D=${D})`,
      (declare) => attentionDeltaWgsl(D, declare),
      bufs,
      u,
      grid1d(rows, ATTENTION_WG),
    );
  }
  const t = variant === 'rows' ? '' : `_${variant}`;
  const sg = seg ? '_seg' : '';
  if (args.dq) {
    run(
      ctx,
      `attention_dq${t}${shapeTag(variant, c.T)}_d${D}${prefix ? '_prefix' : ''}${sg}${stored ? '_pds' : ''}`,
      `attention_dq${t}(D=${D})`,
      (declare) =>
        variant === 'tiled'
          ? attentionDqTiledWgsl(D, prefix, seg, declare)
          : variant === 'flash'
            ? attentionDqFlashWgsl(D, prefix, seg, declare)
            : variant === 'quad'
              ? attentionDqQuadWgsl(D, prefix, seg, declare, qs, stored)
              : attentionDqWgsl(D, prefix, seg, declare),
      bufs,
      u,
      grid(variant, c.T, c.Hq, c.B),
    );
  }
  const dkv = (isPrefix: boolean, wantDk: boolean, wantDv: boolean) => {
    if (!wantDk && !wantDv) return;
    // Prefix keys are seen by every segment: their kernels are the unmasked ones.
    const masked = seg && !isPrefix;
    const tag = `${isPrefix ? 'prefix_' : ''}${wantDk ? 'dk' : ''}${wantDv ? 'dv' : ''}${t}`;
    // Prefix rows are shared by the batch: their kernels loop over it instead of spreading it on the grid.
    const nrows = isPrefix ? c.P : c.S;
    const batch = isPrefix ? 1 : c.B;
    if (stored && !isPrefix) {
      run(
        ctx,
        `attention_${tag}_pds${shapeTag(variant, nrows)}_d${D}`,
        `attention_${tag}_pds(D=${D})`,
        (declare) => attentionDkvStoredWgsl(D, wantDk, wantDv, declare, quadShapeFor(nrows)),
        bufs,
        u,
        grid(variant, nrows, c.Hkv, batch),
      );
      return;
    }
    run(
      ctx,
      `attention_${tag}${shapeTag(variant, nrows)}_d${D}${masked ? '_seg' : ''}`,
      `attention_${tag}(D=${D})`,
      (declare) =>
        variant === 'tiled'
          ? attentionDkvTiledWgsl(D, isPrefix, wantDk, wantDv, masked, declare)
          : variant === 'flash'
            ? attentionDkvFlashWgsl(D, isPrefix, wantDk, wantDv, masked, declare)
            : variant === 'quad'
              ? attentionDkvQuadWgsl(D, isPrefix, wantDk, wantDv, masked, declare, quadShapeFor(nrows))
              : attentionDkvWgsl(D, isPrefix, wantDk, wantDv, masked, declare),
      bufs,
      u,
      grid(variant, nrows, c.Hkv, batch),
    );
  };
  dkv(false, !!args.dk, !!args.dv);
  if (prefix) dkv(true, wantPk, wantPv);
  // Safe to free now: the arena only recycles it for dispatches recorded later, which run after these.
  if (delta) ctx.arena.free(delta);
  for (const m of mats) ctx.arena.free(m);
}
