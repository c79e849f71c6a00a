// Dispatch for embedding lookup (token embeddings; GPT-2's position table with ids = positions) and its
// backward. The backward needs no atomics: `embeddingGradPlan` groups positions by token id on the CPU,
// where the ids already are, and uploads the grouping once per batch; every row of dTable is then
// written by exactly one thread per column, summing its positions in order, so results are deterministic.
import type { BaseDtype, WeightFormat } from '../../util/quant';
import type { GpuBuf, GpuRegion } from '../arena';
import { type GpuContext, Uniforms } from '../context';
import { GpuKernelError } from '../errors';
import { type BindingSpec, memoKernel, planBindings } from './bindings';
import { grid1d } from './common';
import { weightArrayType } from './dequant.wgsl';
import { embeddingBackwardWgsl, embeddingWgsl } from './embedding.wgsl';

export interface EmbeddingArgs<S = GpuRegion, I = S> {
  out: S;
  table: S;
  ids: I;
  N: number;
  dim: number;
  accumulate?: boolean;
  /**
   * How a frozen table is stored (null/absent: plain f32): widened as it is read. int8 tables keep one
   * scale per row ('out_in', as the GPT-2 tied head reads them as [V, d]); 'in_out' means per column.
   * The CPU twin's store already holds the dequantized values and ignores it.
   */
  tableFormat?: WeightFormat<S> | null;
  /**
   * The table holds only rows [rowOffset, rowOffset + rows) of the whole vocabulary (one part of a table
   * split along its rows because it exceeds the per-buffer limit, tensor/split-weight.ts): an id in that
   * range reads the part's row id − rowOffset, any other id writes (or adds) nothing, so running every part
   * over the same output fills each position exactly once. Absent: the table is whole.
   */
  rowOffset?: number;
  rows?: number;
}

/** The tape's embedding op: the kernel's arguments plus the ids on the CPU (the twin reads those). */
export interface EmbeddingOpArgs<S = GpuRegion, I = S> extends EmbeddingArgs<S, I> {
  idsCpu: Int32Array;
}

/**
 * The tape's embedding backward: dTable += the rows of dOut gathered by idsCpu. On the GPU the ids become
 * an EmbeddingGradPlan (embeddingGradPlan) that the kernel takes in place of idsCpu.
 */
export interface EmbeddingBackwardArgs<S = GpuRegion> {
  dTable: S;
  dOut: S;
  idsCpu: Int32Array;
  dim: number;
}

/** out[i] (+)= table[ids[i]] for i < N, rows of `dim` floats, ids i32 in [0, V); any table format. */
export function embedding(ctx: GpuContext, args: EmbeddingArgs): void {
  const total = args.N * args.dim;
  const dtype: BaseDtype = args.tableFormat?.dtype ?? 'f32';
  const rowChannels = (args.tableFormat?.layout ?? 'out_in') === 'out_in';
  const accumulate = args.accumulate ?? false;
  const ranged = args.rows !== undefined || args.rowOffset !== undefined;
  const label = `embedding${dtype === 'f32' ? '' : `_${dtype}`}${dtype === 'int8' && !rowChannels ? '_cols' : ''}${accumulate ? '_acc' : ''}${ranged ? '_part' : ''}`;
  if (total === 0) return;
  const bindings: BindingSpec[] = [
    { name: 'table', region: args.table, write: false, type: weightArrayType(dtype) },
  ];
  if (dtype === 'int8' || dtype === 'nf4') {
    const scales = args.tableFormat?.scales;
    if (!scales) throw new GpuKernelError(label, `a ${dtype} table needs its scales`);
    bindings.push({ name: 'scales', region: scales, write: false });
  }
  bindings.push(
    { name: 'ids', region: args.ids, write: false, type: 'array<i32>' },
    { name: 'out', region: args.out, write: true },
  );
  const L = planBindings(label, bindings);
  ctx.dispatch({
    kernel: memoKernel(`${label}:${L.sig}`, label, () =>
      embeddingWgsl(L, dtype, rowChannels, accumulate, ranged),
    ),
    buffers: L.buffers,
    uniforms: ranged
      ? new Uniforms()
          .u32(total)
          .u32(args.dim)
          .u32(args.rowOffset ?? 0)
          .u32(args.rows ?? 0x7fffffff).data
      : new Uniforms().u32(total).u32(args.dim).data,
    workgroups: grid1d(total),
  });
}

/** GPU buffers grouping positions by token id, for embeddingBackward. Free it when the batch is done. */
export interface EmbeddingGradPlan {
  readonly N: number;
  readonly unique: number;
  free(): void;
}

class GradPlan implements EmbeddingGradPlan {
  private freed = false;
  constructor(
    private readonly ctx: GpuContext,
    readonly N: number,
    readonly unique: number,
    private buf: GpuBuf | null,
  ) {}
  /** The packed plan buffer (null for N = 0); throws once freed, so a stale plan is an error, not garbage. */
  get buffer(): GpuBuf | null {
    if (this.freed) throw new Error('embeddingBackward: the gradient plan was already freed');
    return this.buf;
  }
  free(): void {
    if (this.freed) return;
    this.freed = true;
    if (this.buf) this.ctx.arena.free(this.buf);
    this.buf = null;
  }
}

/**
 * Groups positions by token id (stable: positions stay in ascending order within a group) and uploads
 * [uniqueIds | group starts | positions] as one u32 buffer ('activations': it lives for one batch).
 */
export function embeddingGradPlan(ctx: GpuContext, ids: Int32Array): EmbeddingGradPlan {
  const N = ids.length;
  if (N === 0) return new GradPlan(ctx, 0, 0, null);
  for (let i = 0; i < N; i++) {
    if (ids[i] < 0) throw new Error(`embeddingGradPlan: id ${ids[i]} at position ${i} is negative`);
  }
  const positions = Uint32Array.from({ length: N }, (_, i) => i);
  // Array.prototype.sort is stable, so ties keep position order.
  const order = Array.from(positions).sort((a, b) => ids[a] - ids[b]);
  const uniqueIds: number[] = [];
  const starts: number[] = [];
  for (let k = 0; k < N; k++) {
    const id = ids[order[k]];
    if (k === 0 || id !== ids[order[k - 1]]) {
      uniqueIds.push(id);
      starts.push(k);
    }
  }
  const U = uniqueIds.length;
  starts.push(N);
  const packed = new Uint32Array(2 * U + 1 + N);
  packed.set(uniqueIds, 0);
  packed.set(starts, U);
  packed.set(order, 2 * U + 1);
  const buf = ctx.upload(packed, 'activations', 'embedding.gradPlan');
  return new GradPlan(ctx, N, U, buf);
}

/** dTable[v] += Σ_{i: ids[i] = v} dOut[i], rows of `dim` floats; deterministic, no atomics. */
export function embeddingBackward(
  ctx: GpuContext,
  args: Omit<EmbeddingBackwardArgs, 'idsCpu'> & { plan: EmbeddingGradPlan },
): void {
  const { plan, dim } = args;
  if (!(plan instanceof GradPlan))
    throw new Error('embeddingBackward: plan must come from embeddingGradPlan');
  const buffer = plan.buffer;
  if (!buffer) return;
  const total = plan.unique * dim;
  const L = planBindings('embedding_backward', [
    { name: 'dOut', region: args.dOut, write: false },
    { name: 'plan', region: buffer, write: false, type: 'array<u32>' },
    { name: 'dTable', region: args.dTable, write: true },
  ]);
  ctx.dispatch({
    kernel: memoKernel(`embedding_backward:${L.sig}`, 'embedding_backward', () => embeddingBackwardWgsl(L)),
    buffers: L.buffers,
    uniforms: new Uniforms().u32(total).u32(dim).u32(plan.unique).data,
    workgroups: grid1d(total),
  });
}
