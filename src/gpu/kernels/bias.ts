// Dispatch for bias add and bias grad, plus the two helpers the other row/column kernels of this family
// (layernorm, rmsnorm, scale) build on: a memo of generated kernels by key, and the deterministic
// two-stage column reduction (no float atomics: every sum has a fixed order for a given shape).
import type { GpuRegion } from '../arena';
import { type GpuContext, type KernelSource, Uniforms } from '../context';
import {
  type BindingSpec,
  biasAddWgsl,
  COL_WG,
  colReduceWgsl,
  type KernelLayout,
  planBindings,
} from './bias.wgsl';
import { grid1d } from './common';

const kernels = new Map<string, KernelSource>();

/** The kernel for `key`, generating its WGSL once; `key` must determine the text exactly. */
export function memoKernel(key: string, label: string, code: () => string): KernelSource {
  let k = kernels.get(key);
  if (!k) {
    k = { key, label, code: code() };
    kernels.set(key, k);
  }
  return k;
}

/** x[r,c] += bias[c], in place, for x [rows, cols]. */
export function biasAdd(
  ctx: GpuContext,
  args: { x: GpuRegion; bias: GpuRegion; rows: number; cols: number },
): void {
  const { rows, cols } = args;
  const n = rows * cols;
  if (n === 0) return;
  const L = planBindings('bias_add', [
    { name: 'x', region: args.x, write: true },
    { name: 'bias', region: args.bias, write: false },
  ]);
  ctx.dispatch({
    kernel: memoKernel(`bias_add:${L.sig}`, 'bias_add', () => biasAddWgsl(L)),
    buffers: L.buffers,
    uniforms: new Uniforms().u32(n).u32(cols).data,
    workgroups: grid1d(n),
  });
}

/** dBias[c] (+)= Σ_r dOut[r,c], for dOut [rows, cols]. */
export function biasGrad(
  ctx: GpuContext,
  args: { dBias: GpuRegion; dOut: GpuRegion; rows: number; cols: number; accumulate?: boolean },
): void {
  colReduce(
    ctx,
    'bias_grad',
    [{ name: 'dOut', region: args.dOut }],
    [{ dst: args.dBias, expr: (id) => `${id.dOut}[i]` }],
    args.rows,
    args.cols,
    args.accumulate ?? false,
  );
}

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
