// WGSL for bias add (x[r,c] += bias[c]) and for the deterministic column reduction that bias grad,
// LayerNorm/RMSNorm dGamma/dBeta and mulVec's dv share. Also owns the binding planner those kernels
// (bias, layernorm, rmsnorm, gelu, swiglu, rope, scale) use, because WebGPU refuses a buffer bound
// read-only and writable in one dispatch, and refuses two writable bindings over the same bytes: an
// in-place call (out === x) or two views of one flat parameter/gradient buffer must change the WGSL.
import { type GpuRegion, regionParts } from '../arena';
import { FLAT_BUILTINS, FLAT_INDEX } from './common';

/** One storage binding as a kernel declares it, before aliasing is resolved. */
export interface BindingSpec {
  /** Logical name used in the kernel template (resolved through `KernelLayout.id`). */
  name: string;
  region: GpuRegion;
  /** True when the kernel writes it. */
  write: boolean;
  /** WGSL element array type; f32 unless stated (RoPE positions are i32). */
  type?: string;
}

/** Bindings after aliasing: what to pass to `dispatch` and how the WGSL must declare and name them. */
export interface KernelLayout {
  buffers: GpuRegion[];
  /** Stable text describing merges and access modes; part of the kernel key. */
  sig: string;
  /** Storage declarations in binding order, then `var<uniform> p: <struct>` bound last. */
  decls(structName: string): string;
  /** The WGSL identifier each logical name resolves to (an in-place output names its input). */
  id: Record<string, string>;
}

/**
 * Resolves a kernel's bindings: a binding covering exactly the bytes of an earlier one is merged into it
 * (in-place use); a binding that shares a GPUBuffer with a written one is declared read_write, since a
 * read-only binding of a buffer written in the same dispatch fails validation. Partial overlaps are a
 * caller bug and throw with the kernel's name.
 */
export function planBindings(label: string, specs: BindingSpec[]): KernelLayout {
  interface Slot {
    name: string;
    buffer: GPUBuffer;
    offset: number;
    size: number;
    write: boolean;
    type: string;
    region: GpuRegion;
  }
  const slots: Slot[] = [];
  const id: Record<string, string> = {};
  // Per spec: the slot it binds to, and whether it was merged into an earlier one.
  const slotOf: number[] = [];
  const merged: boolean[] = [];
  for (const s of specs) {
    const { buffer, offset, size } = regionParts(s.region);
    const type = s.type ?? 'array<f32>';
    const same = slots.findIndex(
      (o) => o.buffer === buffer && o.offset === offset && o.size === size && o.type === type,
    );
    if (same >= 0) {
      slots[same].write ||= s.write;
      id[s.name] = slots[same].name;
      slotOf.push(same);
      merged.push(true);
      continue;
    }
    for (const o of slots) {
      if (o.buffer === buffer && offset < o.offset + o.size && o.offset < offset + size) {
        throw new Error(
          `${label}: "${s.name}" partly overlaps "${o.name}" in buffer "${buffer.label}"; ` +
            'bind the same region (in place) or disjoint ones',
        );
      }
    }
    slots.push({ name: s.name, buffer, offset, size, write: s.write, type, region: s.region });
    id[s.name] = s.name;
    slotOf.push(slots.length - 1);
    merged.push(false);
  }
  const rw = slots.map((s) => s.write || slots.some((o) => o.write && o.buffer === s.buffer));
  const sig = slotOf.map((k, j) => (merged[j] ? `=${k}` : rw[k] ? 'w' : 'r')).join('');
  return {
    buffers: slots.map((s) => s.region),
    sig,
    id,
    decls: (structName) =>
      slots
        .map(
          (s, i) =>
            `@group(0) @binding(${i}) var<storage, ${rw[i] ? 'read_write' : 'read'}> ${s.name}: ${s.type};`,
        )
        .concat(`@group(0) @binding(${slots.length}) var<uniform> p: ${structName};`)
        .join('\n'),
  };
}

export const biasAddWgsl = (L: KernelLayout) => `
struct P { n: u32, cols: u32 };
${L.decls('P')}
@compute @workgroup_size(256)
fn main(${FLAT_BUILTINS}) {
  let i = ${FLAT_INDEX()};
  if (i >= p.n) { return; }
  ${L.id.x}[i] = ${L.id.x}[i] + ${L.id.bias}[i % p.cols];
}`;

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
