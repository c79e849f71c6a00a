// Explicit bind-group layouts read from a kernel's WGSL, so the uniform binding can take a dynamic offset:
// with one layout per binding shape, a bind group depends only on the storage buffers it binds, and the
// same buffers at the next step (the arena hands the same GPUBuffers back) reuse it instead of creating a
// new one per dispatch. Kernels whose declarations do not read as "storage buffers 0..n-1, then at most
// one uniform last" keep the device's 'auto' layout (and a fresh bind group per dispatch).

/** One kernel's binding shape: an access mode per storage binding, and whether a uniform follows. */
export interface BindShape {
  /** 'r' (read-only storage) or 'w' (read_write storage), in binding order. */
  storage: string;
  uniform: boolean;
}

const DECL = /@group\(0\)\s*@binding\((\d+)\)\s*var<\s*(uniform|storage(?:\s*,\s*(read_write|read))?)\s*>/g;

/**
 * The binding shape the WGSL declares, or null when it is not the plain one the engine's kernels use (then
 * the caller keeps 'auto'). `buffers` and `uniform` are what the dispatch passes: a mismatch is left to
 * the 'auto' path, whose validation names the kernel.
 */
export function readBindShape(code: string, buffers: number, uniform: boolean): BindShape | null {
  const modes: string[] = [];
  let uniformAt = -1;
  for (const m of code.matchAll(DECL)) {
    const i = Number(m[1]);
    if (modes[i] !== undefined) return null;
    if (m[2] === 'uniform') {
      if (uniformAt >= 0) return null;
      uniformAt = i;
      modes[i] = 'u';
    } else modes[i] = m[3] === 'read_write' ? 'w' : 'r';
  }
  const n = modes.length;
  for (let i = 0; i < n; i++) if (modes[i] === undefined) return null;
  const hasUniform = uniformAt >= 0;
  if (hasUniform !== uniform || (hasUniform && uniformAt !== n - 1)) return null;
  const storage = modes.slice(0, hasUniform ? n - 1 : n).join('');
  if (storage.length !== buffers) return null;
  return { storage, uniform: hasUniform };
}

export const shapeKey = (s: BindShape): string => `${s.storage}${s.uniform ? 'u' : ''}`;

/** The layout descriptor for a shape: compute-visible storage bindings, the uniform with a dynamic offset. */
export function layoutEntries(s: BindShape, stage: number): GPUBindGroupLayoutEntry[] {
  const entries: GPUBindGroupLayoutEntry[] = [...s.storage].map((m, i) => ({
    binding: i,
    visibility: stage,
    buffer: { type: m === 'w' ? 'storage' : 'read-only-storage' },
  }));
  if (s.uniform)
    entries.push({
      binding: s.storage.length,
      visibility: stage,
      buffer: { type: 'uniform', hasDynamicOffset: true },
    });
  return entries;
}
