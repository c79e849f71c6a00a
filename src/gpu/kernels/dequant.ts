// Dispatch for dequant: a frozen weight in any stored format (util/quant.ts) widened to a plain f32 buffer,
// for the rare readers that need f32 values of a formatted weight (a merge, DoRA's column norms, a
// selective method's copy of the base slice). The hot readers (matmul, embedding) widen inside their own
// kernels instead and never make this copy. The caller allocates `out` (n f32) and frees it. Also the
// device side of a formatted weight's life: upload (packed by util/quant.ts), free, and read back.
import {
  type BaseDtype,
  dequantizeWeight,
  encodeWeight,
  int8RowsCols,
  storageRowsCols,
  type WeightFormat,
  type WeightLayout,
  weightBytes,
} from '../../util/quant';
import { type GpuBuf, type GpuRegion, isView, type MemoryCategory, regionParts } from '../arena';
import { type GpuContext, Uniforms } from '../context';
import { GpuKernelError } from '../errors';
import { type BindingSpec, memoKernel, planBindings } from './bindings';
import { grid1d } from './common';
import { dequantWgsl, weightArrayType } from './dequant.wgsl';

export interface DequantArgs<S = GpuRegion> {
  out: S;
  values: S;
  format: WeightFormat<S> | null;
  /** The weight's shape (the last axis contiguous): int8 channels follow it and the format's layout. */
  shape: readonly number[];
}

/** out = the stored weight's values as f32 (an f32 weight is copied). */
export function dequant(ctx: GpuContext, args: DequantArgs): void {
  const dtype = args.format?.dtype ?? 'f32';
  const layout = args.format?.layout ?? 'out_in';
  const n = args.shape.reduce((a, b) => a * b, 1);
  const [, cols] = storageRowsCols(args.shape);
  const label = `dequant_${dtype}${dtype === 'int8' ? `_${layout}` : ''}`;
  if (n === 0) return;
  const need = weightBytes(args.shape, dtype, layout);
  const have = (r: GpuRegion) => regionParts(r).size;
  if (have(args.values) < need.values)
    throw new GpuKernelError(
      label,
      `values hold ${have(args.values)} bytes; [${args.shape}] needs ${need.values}`,
    );
  const bindings: BindingSpec[] = [
    { name: 'values', region: args.values, write: false, type: weightArrayType(dtype) },
  ];
  if (need.scales) {
    const s = args.format?.scales;
    if (!s) throw new GpuKernelError(label, `a ${dtype} weight needs its scales`);
    if (have(s) < need.scales)
      throw new GpuKernelError(label, `scales hold ${have(s)} bytes; [${args.shape}] needs ${need.scales}`);
    bindings.push({ name: 'scales', region: s, write: false });
  }
  bindings.push({ name: 'out', region: args.out, write: true });
  const L = planBindings(label, bindings);
  ctx.dispatch({
    kernel: memoKernel(`${label}:${L.sig}`, label, () => dequantWgsl(L, dtype, layout === 'out_in')),
    buffers: L.buffers,
    uniforms: new Uniforms().u32(n).u32(cols).data,
    workgroups: grid1d(n),
  });
}

/** A frozen weight on the device: its packed words and its format (null: plain f32, as `upload`). */
export interface GpuWeight {
  store: GpuBuf;
  format: WeightFormat<GpuRegion> | null;
}

/**
 * Uploads a weight in `dtype`: values packed by util/quant.ts (the words the kernels read) in one buffer
 * and int8/nf4 scales in another, both under `category` and labelled after the weight.
 */
export function uploadWeightGpu(
  ctx: GpuContext,
  data: ArrayLike<number>,
  shape: readonly number[],
  dtype: BaseDtype,
  layout: WeightLayout,
  category: MemoryCategory,
  label: string,
): GpuWeight {
  if (dtype === 'f32') return { store: ctx.upload(Float32Array.from(data), category, label), format: null };
  const enc = encodeWeight(data, shape, dtype, layout);
  const store = ctx.upload(enc.words, category, label);
  const scales = enc.scales ? ctx.upload(enc.scales, category, `${label}.scales`) : null;
  const format: WeightFormat<GpuRegion> = { dtype, scales, layout };
  if (dtype === 'int8') format.channels = enc.scales?.length ?? 0;
  return { store, format };
}

/** Frees a weight's values and scales. */
export function freeWeightGpu(
  ctx: GpuContext,
  store: GpuRegion,
  format: WeightFormat<GpuRegion> | null,
): void {
  if (!isView(store)) ctx.arena.free(store);
  const s = format?.scales;
  if (s && !isView(s)) ctx.arena.free(s);
}

/** The first n values of a stored weight, dequantized in float64 on the host from the words read back. */
export async function readWeightGpu(
  ctx: GpuContext,
  store: GpuRegion,
  format: WeightFormat<GpuRegion> | null,
  n: number,
): Promise<Float64Array> {
  if (!format || format.dtype === 'f32') return Float64Array.from(await ctx.readF32(store, n));
  const { dtype, layout } = format;
  const shape = dtype === 'int8' ? int8RowsCols(n, format) : [n];
  const bytes = weightBytes(shape, dtype, layout);
  const words = new Uint32Array(await ctx.readBytes(store, bytes.values));
  const scales =
    bytes.scales && format.scales ? new Float32Array(await ctx.readBytes(format.scales, bytes.scales)) : null;
  return dequantizeWeight({ words, scales }, shape, dtype, layout);
}
