// Dispatch for elementwise add. Backward of out = a + b is the identity to both inputs: the caller
// routes dOut to each (or accumulates it with `addInPlace`), so there is no separate backward kernel.
import type { GpuRegion } from '../arena';
import { type GpuContext, Uniforms } from '../context';
import { addWgsl } from './add.wgsl';
import { grid1d } from './common';

const ADD = { key: 'add', label: 'add', code: addWgsl(false) };
const ADD_INPLACE = { key: 'add_inplace', label: 'add_inplace', code: addWgsl(true) };

export interface AddArgs<S = GpuRegion> {
  out: S;
  a: S;
  b: S;
  n: number;
}

export interface AddInPlaceArgs<S = GpuRegion> {
  a: S;
  b: S;
  n: number;
}

/** out[i] = a[i] + b[i] for i < n. */
export function add(ctx: GpuContext, { out, a, b, n }: AddArgs): void {
  ctx.dispatch({
    kernel: ADD,
    buffers: [a, b, out],
    uniforms: new Uniforms().u32(n).data,
    workgroups: grid1d(n),
  });
}

/** a[i] += b[i] for i < n (gradient accumulation). */
export function addInPlace(ctx: GpuContext, { a, b, n }: AddInPlaceArgs): void {
  ctx.dispatch({
    kernel: ADD_INPLACE,
    buffers: [a, b],
    uniforms: new Uniforms().u32(n).data,
    workgroups: grid1d(n),
  });
}
