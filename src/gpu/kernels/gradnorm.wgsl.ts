// WGSL for the clip factor of global gradient-norm clipping (torch.nn.utils.clip_grad_norm_): one workgroup
// sums the partial squared norms in a fixed order and writes min(1, maxNorm / (‖g‖ + 1e-6)) to scale[0].
// The sums of squares themselves come from reduce.wgsl.ts. normSq and scale may share one buffer.
import type { KernelLayout } from './bindings';

export const CLIP_WG = 64;

export const clipScaleWgsl = (L: KernelLayout) => `
struct P { count: u32, maxNorm: f32 };
${L.decls('P')}
var<workgroup> part: array<f32, ${CLIP_WG}>;
@compute @workgroup_size(${CLIP_WG})
fn main(@builtin(local_invocation_id) lid: vec3<u32>) {
  var acc = 0.0;
  for (var i = lid.x; i < p.count; i += ${CLIP_WG}u) { acc += ${L.id.normSq}[i]; }
  part[lid.x] = acc;
  workgroupBarrier();
  for (var s = ${CLIP_WG / 2}u; s > 0u; s >>= 1u) {
    if (lid.x < s) { part[lid.x] += part[lid.x + s]; }
    workgroupBarrier();
  }
  if (lid.x == 0u) {
    // torch: clip_coef = max_norm / (total_norm + 1e-6), clamped to at most 1.
    ${L.id.scale}[0] = min(1.0, p.maxNorm / (sqrt(part[0]) + 1e-6));
  }
}`;
