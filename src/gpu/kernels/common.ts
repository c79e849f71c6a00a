// Helpers every kernel shares: 1-D grids that spill into y past 65535 workgroups, the matching WGSL index
// expression, the float32 conversions twins use and how a twin writes into its outputs. Kept tiny on
// purpose; each kernel's WGSL stays readable on its own. No GPU imports: the twins import this file.

export const WG = 256;

/** Workgroup grid for `n` invocations of `wg` threads each, folded into 2-D when x would overflow. */
export function grid1d(n: number, wg = WG, maxPerDim = 65535): [number, number] {
  const groups = Math.max(1, Math.ceil(n / wg));
  if (groups <= maxPerDim) return [groups, 1];
  const y = Math.ceil(groups / maxPerDim);
  return [Math.ceil(groups / y), y];
}

/** WGSL: the flat invocation index for a grid made by grid1d (needs `wid`, `lid`, `nwg` builtins). */
export const FLAT_INDEX = (wg = WG) => `(wid.y * nwg.x + wid.x) * ${wg}u + lid.x`;

/** WGSL builtins parameter list matching FLAT_INDEX. */
export const FLAT_BUILTINS =
  '@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>';

/** out[i] (+)= src[i] for i < src.length: how a twin writes a result into its argument's output. */
export function putInto(out: Float64Array, src: ArrayLike<number>, accumulate = false): void {
  if (accumulate) for (let i = 0; i < src.length; i++) out[i] += src[i];
  else for (let i = 0; i < src.length; i++) out[i] = src[i];
}
