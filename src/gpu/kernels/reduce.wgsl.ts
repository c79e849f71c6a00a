// WGSL for deterministic reductions (sum, sum of squares). One kernel serves both stages of the two-stage
// reduction: each workgroup sums a fixed, n-determined slice of x into out[outIndex + workgroup], so the
// order of additions never depends on scheduling and repeated runs give bit-identical results. Bindings
// come from bindings.ts's planner, so x and out may be views of one buffer.
import type { KernelLayout } from './bindings';

export const REDUCE_WG = 256;

/**
 * Workgroup g sums x[i] (or x[i]², when `square`) over i = g·WG + lid + k·stride, tree-reduces in shared
 * memory, and writes scale·total to out[outIndex + g]. `stride` = groups·WG, so the grid is 1-D and small.
 */
export const reduceWgsl = (L: KernelLayout, square: boolean) => `
struct P { n: u32, stride: u32, outIndex: u32, scale: f32 };
${L.decls('P')}
var<workgroup> part: array<f32, ${REDUCE_WG}>;
@compute @workgroup_size(${REDUCE_WG})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  var acc = 0.0;
  for (var i = wid.x * ${REDUCE_WG}u + lid.x; i < p.n; i += p.stride) {
    let v = ${L.id.x}[i];
    acc += ${square ? 'v * v' : 'v'};
  }
  part[lid.x] = acc;
  workgroupBarrier();
  for (var s = ${REDUCE_WG / 2}u; s > 0u; s >>= 1u) {
    if (lid.x < s) { part[lid.x] += part[lid.x + s]; }
    workgroupBarrier();
  }
  if (lid.x == 0u) { ${L.id.out}[p.outIndex + wid.x] = p.scale * part[0]; }
}`;
