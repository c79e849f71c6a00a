// WGSL for one AdamW step over a flat f32 parameter vector, following torch.optim.AdamW's single-tensor
// path operation for operation. The bias corrections and step size are computed on the CPU in float64
// (as torch does in Python floats) and arrive as uniforms; `withScale` binds one extra f32 that multiplies
// every gradient (the clip factor from gradnorm.ts).
// Bindings come from bindings.ts's planner, so m and v (or gradScale and anything) may share a buffer.
import type { KernelLayout } from './bindings';
import { FLAT_BUILTINS, FLAT_INDEX } from './common';

export const adamwWgsl = (L: KernelLayout, withScale: boolean) => {
  const { params, grads, m, v, gradScale } = L.id;
  return `
struct P { n: u32, decay: f32, beta1: f32, beta2: f32, stepSize: f32, bc2Sqrt: f32, eps: f32, pad: u32 };
${L.decls('P')}
@compute @workgroup_size(256)
fn main(${FLAT_BUILTINS}) {
  let i = ${FLAT_INDEX()};
  if (i >= p.n) { return; }
  let g = ${grads}[i]${withScale ? ` * ${gradScale}[0]` : ''};
  // param.mul_(1 - lr·wd)
  let w = ${params}[i] * p.decay;
  // exp_avg.lerp_(grad, 1 - beta1); exp_avg_sq.mul_(beta2).addcmul_(grad, grad, 1 - beta2)
  let mi = ${m}[i] + (g - ${m}[i]) * (1.0 - p.beta1);
  let vi = ${v}[i] * p.beta2 + (1.0 - p.beta2) * g * g;
  ${m}[i] = mi;
  ${v}[i] = vi;
  // denom = sqrt(v) / sqrt(1 - beta2^t) + eps; param.addcdiv_(m, denom, -lr / (1 - beta1^t))
  ${params}[i] = w - p.stepSize * mi / (sqrt(vi) / p.bc2Sqrt + p.eps);
}`;
};
