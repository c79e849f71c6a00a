// The binding planner and kernel memo every generated-WGSL kernel shares. WebGPU refuses a buffer bound
// read-only and writable in one dispatch, and refuses two writable bindings over the same bytes, so an
// in-place call (out === x) or two views of one flat parameter/gradient buffer must change the WGSL:
// `planBindings` resolves the aliasing into declarations and a signature, and `memoKernel` keeps one
// generated kernel per signature; `dispatchPlanned` does both and records the dispatch.
import { type GpuRegion, regionParts } from '../arena';
import type { GpuContext, KernelSource } from '../context';

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

/** One dispatch of a planned kernel: what `dispatchPlanned` needs. */
export interface PlannedDispatch {
  /** Names the kernel in labels and errors (and the planner's overlap errors). */
  label: string;
  /** With the binding layout, determines the WGSL exactly; default `label`. */
  key?: string;
  bindings: BindingSpec[];
  /** The WGSL for a layout (declarations from `L.decls`, aliased names from `L.id`). */
  code: (L: KernelLayout) => string;
  uniforms: ArrayBuffer;
  workgroups: [number, number?, number?];
}

/**
 * Plans the bindings, takes the memoised kernel for (key, layout) and records the dispatch: the three steps
 * every planned kernel takes, for those that need nothing between them.
 */
export function dispatchPlanned(ctx: GpuContext, d: PlannedDispatch): void {
  const L = planBindings(d.label, d.bindings);
  ctx.dispatch({
    kernel: memoKernel(`${d.key ?? d.label}:${L.sig}`, d.label, () => d.code(L)),
    buffers: L.buffers,
    uniforms: d.uniforms,
    workgroups: d.workgroups,
  });
}
