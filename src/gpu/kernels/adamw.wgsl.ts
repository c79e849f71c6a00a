// WGSL for one AdamW step over a flat f32 parameter vector, following torch.optim.AdamW's single-tensor
// path operation for operation. The bias corrections and step size are computed on the CPU in float64
// (as torch does in Python floats) and arrive as uniforms; `withScale` binds one extra f32 that multiplies
// every gradient (the clip factor from gradnorm.ts).
import { FLAT_BUILTINS, FLAT_INDEX } from './common';

export const adamwWgsl = (withScale: boolean) => `
struct P { n: u32, decay: f32, beta1: f32, beta2: f32, stepSize: f32, bc2Sqrt: f32, eps: f32, pad: u32 };
@group(0) @binding(0) var<storage, read_write> params: array<f32>;
@group(0) @binding(1) var<storage, read> grads: array<f32>;
@group(0) @binding(2) var<storage, read_write> m: array<f32>;
@group(0) @binding(3) var<storage, read_write> v: array<f32>;
${
  withScale
    ? '@group(0) @binding(4) var<storage, read> gradScale: array<f32>;\n@group(0) @binding(5) var<uniform> p: P;'
    : '@group(0) @binding(4) var<uniform> p: P;'
}
@compute @workgroup_size(256)
fn main(${FLAT_BUILTINS}) {
  let i = ${FLAT_INDEX()};
  if (i >= p.n) { return; }
  let g = grads[i]${withScale ? ' * gradScale[0]' : ''};
  // param.mul_(1 - lr·wd)
  let w = params[i] * p.decay;
  // exp_avg.lerp_(grad, 1 - beta1); exp_avg_sq.mul_(beta2).addcmul_(grad, grad, 1 - beta2)
  let mi = m[i] + (g - m[i]) * (1.0 - p.beta1);
  let vi = v[i] * p.beta2 + (1.0 - p.beta2) * g * g;
  m[i] = mi;
  v[i] = vi;
  // denom = sqrt(v) / sqrt(1 - beta2^t) + eps; param.addcdiv_(m, denom, -lr / (1 - beta1^t))
  params[i] = w - p.stepSize * mi / (sqrt(vi) / p.bc2Sqrt + p.eps);
}`;
