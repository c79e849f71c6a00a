// Row and column reduction helpers shared by the per-row kernels (layernorm, rmsnorm) and
// the column sums (bias grad, LayerNorm/RMSNorm dGamma/dBeta, scale's mulVec dv).
// Rows: a row's statistics are reduced either by one thread per row (no barriers: best for narrow rows, and
// on SwiftShader where barriers are slow) or by one 64-thread workgroup per row with a fixed-order tree in
// workgroup memory (wide rows on real GPUs); `rowFrame` gives the WGSL pieces, `rowVariant` the choice.
// Columns: a two-stage column sum with no float atomics, so every sum has a fixed order for a given shape.
// Both are deterministic.
import type { GpuRegion } from '../arena';
import { type GpuContext, Uniforms } from '../context';
import { type BindingSpec, type KernelLayout, memoKernel, planBindings } from './bindings';
import { FLAT_INDEX, grid1d } from './common';

export type RowVariant = 'thread' | 'workgroup';

/** Threads per workgroup in both variants (rows per workgroup, or threads sharing one row). */
export const ROW_WG = 64;

/** The pieces a row kernel's text is assembled from, per variant. */
export interface RowFrame {
  /** Module-scope declarations the reductions need. */
  decls: string;
  /** The row this invocation (or workgroup) owns. */
  row: string;
  /** Loop header over this invocation's columns of the row. */
  forCols: string;
  /** Whole-row sum of a per-invocation partial (f32, or vec2<f32> with `sum2`). */
  sum: (e: string) => string;
  sum2: (e: string) => string;
  /** True for the one invocation that writes per-row results. */
  leader: string;
}

export function rowFrame(v: RowVariant): RowFrame {
  if (v === 'thread') {
    return {
      decls: '',
      row: FLAT_INDEX(ROW_WG),
      forCols: 'for (var c = 0u; c < p.cols; c++)',
      sum: (e) => e,
      sum2: (e) => e,
      leader: 'true',
    };
  }
  // The row comes from the workgroup id only, so the early return above each reduction stays uniform.
  return {
    decls: `
var<workgroup> red: array<f32, ${ROW_WG}>;
var<workgroup> red2: array<vec2<f32>, ${ROW_WG}>;
fn wgSum(v: f32, t: u32) -> f32 {
  red[t] = v;
  workgroupBarrier();
  for (var s = ${ROW_WG / 2}u; s > 0u; s >>= 1u) {
    if (t < s) { red[t] = red[t] + red[t + s]; }
    workgroupBarrier();
  }
  let total = red[0];
  workgroupBarrier();
  return total;
}
fn wgSum2(v: vec2<f32>, t: u32) -> vec2<f32> {
  red2[t] = v;
  workgroupBarrier();
  for (var s = ${ROW_WG / 2}u; s > 0u; s >>= 1u) {
    if (t < s) { red2[t] = red2[t] + red2[t + s]; }
    workgroupBarrier();
  }
  let total = red2[0];
  workgroupBarrier();
  return total;
}`,
    row: '(wid.y * nwg.x + wid.x)',
    forCols: `for (var c = lid.x; c < p.cols; c += ${ROW_WG}u)`,
    sum: (e) => `wgSum(${e}, lid.x)`,
    sum2: (e) => `wgSum2(${e}, lid.x)`,
    leader: 'lid.x == 0u',
  };
}

/** Widest row reduced by a single thread on a hardware GPU when nothing forces the choice. */
export const THREAD_ROW_MAX_COLS = 128;

/**
 * Thread-per-row or workgroup-per-row for a row reduction. `ctx.variants.get('rowreduce')` ('thread' or
 * 'workgroup') forces it (tests, autotune). On a hardware GPU wide rows take a workgroup each (coalesced
 * reads, many threads per row) and narrow rows a thread each. On a software adapter (SwiftShader) barriers
 * cost so much that a thread per row wins everywhere measured (256×768 LayerNorm fwd+bwd: 40 ms against
 * 183 ms) except when there are too few rows to occupy the CPU cores (1×4096: 3.7 ms against 1.1 ms).
 */
export function rowVariant(ctx: GpuContext, rows: number, cols: number): RowVariant {
  const forced = ctx.variants.get('rowreduce');
  if (forced === 'thread' || forced === 'workgroup') return forced;
  if (ctx.adapter.software) return rows < 4 && cols > THREAD_ROW_MAX_COLS ? 'workgroup' : 'thread';
  return cols <= THREAD_ROW_MAX_COLS ? 'thread' : 'workgroup';
}

/** The dispatch grid for `rows` rows in variant `v` (folded into y past 65535 workgroups). */
export function rowGrid(v: RowVariant, rows: number): [number, number] {
  return v === 'thread' ? grid1d(rows, ROW_WG) : grid1d(rows, 1);
}

/** Threads per workgroup of the column reduction (one column per thread). */
export const COL_WG = 64;

/**
 * Column reduction: dst_k[chunk·cols + c] (+)= Σ_{r in chunk} term_k(r, c) for each term k, summed in row
 * order by one thread per (column, chunk), so the result is deterministic without atomics. With one chunk
 * this writes the final [cols] result; with several it writes [chunks, cols] partials that a second pass
 * (this kernel again, term `a[i]`) sums. Terms are WGSL f32 expressions over `r`, `c` and `i = r·cols + c`
 * that name their inputs through the layout (`L.id`).
 */
export const colReduceWgsl = (L: KernelLayout, terms: readonly string[], dsts: readonly string[]) => `
struct P { rows: u32, cols: u32, rowsPerChunk: u32, acc: u32 };
${L.decls('P')}
@compute @workgroup_size(${COL_WG})
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let c = gid.x;
  if (c >= p.cols) { return; }
  let r0 = gid.y * p.rowsPerChunk;
  let r1 = min(p.rows, r0 + p.rowsPerChunk);
  ${terms.map((_, k) => `var s${k} = 0.0;`).join(' ')}
  for (var r = r0; r < r1; r++) {
    let i = r * p.cols + c;
    ${terms.map((t, k) => `s${k} += ${t};`).join('\n    ')}
  }
  let o = gid.y * p.cols + c;
  ${dsts
    .map(
      (d, k) => `if (p.acc != 0u) { ${L.id[d]}[o] = ${L.id[d]}[o] + s${k}; } else { ${L.id[d]}[o] = s${k}; }`,
    )
    .join('\n  ')}
}`;

/** Rows summed by one thread in the first stage of a column reduction over many rows. */
export const COL_CHUNK_ROWS = 128;

/** Row chunks the first stage uses: one (direct) for short inputs, else enough to keep threads busy. */
export function colChunks(rows: number): number {
  return rows <= 2 * COL_CHUNK_ROWS ? 1 : Math.ceil(rows / COL_CHUNK_ROWS);
}

/** One output of a column reduction: dst[c] (+)= Σ_r expr(r, c). */
export interface ColTerm {
  dst: GpuRegion;
  /** WGSL f32 expression over r, c, i = r·cols + c; input names are resolved through `id`. */
  expr: (id: Record<string, string>) => string;
}

/**
 * Column reduction over [rows, cols] inputs: for each term, dst[c] (+)= Σ_r expr. `op` names the kernel
 * and, with the number of terms, must fix the expressions (it is the pipeline key). Over many rows, the
 * first stage writes [chunks, cols] partials to workspace and a second pass sums them in chunk order.
 */
export function colReduce(
  ctx: GpuContext,
  op: string,
  inputs: Array<{ name: string; region: GpuRegion }>,
  terms: ColTerm[],
  rows: number,
  cols: number,
  accumulate: boolean,
): void {
  if (cols === 0 || terms.length === 0) return;
  if (rows === 0) {
    if (!accumulate) for (const t of terms) ctx.clear(t.dst, 0, cols * 4);
    return;
  }
  const chunks = colChunks(rows);
  const partials =
    chunks > 1 ? terms.map(() => ctx.arena.alloc(chunks * cols * 4, 'workspace', `${op}.partials`)) : null;
  const dstNames = terms.map((_, k) => `d${k}`);
  const specs: BindingSpec[] = [
    ...inputs.map((b) => ({ name: b.name, region: b.region, write: false })),
    ...terms.map((t, k) => ({ name: dstNames[k], region: partials ? partials[k] : t.dst, write: true })),
  ];
  const L: KernelLayout = planBindings(op, specs);
  ctx.dispatch({
    kernel: memoKernel(`colreduce:${op}:${terms.length}:${L.sig}`, op, () =>
      colReduceWgsl(
        L,
        terms.map((t) => t.expr(L.id)),
        dstNames,
      ),
    ),
    buffers: L.buffers,
    uniforms: new Uniforms()
      .u32(rows)
      .u32(cols)
      .u32(chunks > 1 ? COL_CHUNK_ROWS : rows)
      .u32(chunks > 1 ? 0 : accumulate ? 1 : 0).data,
    workgroups: [Math.ceil(cols / COL_WG), chunks],
  });
  if (!partials) return;
  // Second stage: the partials are themselves a [chunks, cols] column sum (recursing if chunks is large).
  terms.forEach((t, k) => {
    colReduce(
      ctx,
      'colsum',
      [{ name: 'a', region: partials[k] }],
      [{ dst: t.dst, expr: (id) => `${id.a}[i]` }],
      chunks,
      cols,
      accumulate,
    );
  });
  // Safe to free now: later dispatches that reuse the buffer run after these in stream order.
  for (const b of partials) ctx.arena.free(b);
}
