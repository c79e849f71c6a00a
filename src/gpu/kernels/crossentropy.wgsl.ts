// WGSL for fused softmax cross-entropy over rows of logits: one workgroup per row computes the row's
// log-sum-exp with an online max/sum (a single read of the row), then the loss and, in the same dispatch,
// the gradient scale·(softmax − onehot). Variants: loss only (also serves log-prob gathering through a
// sign) and loss with gradient. Bindings come from bindings.ts's planner: writing the gradient over the
// logits (dLogits = logits) merges the two into one read_write binding, which is safe because every
// thread reads its elements before writing them and the target logit is read before the first barrier.
// The row's (max, Σexp) pairs combine by a tree in workgroup memory (9 barriers), or, with the device's
// `subgroups` feature, by subgroupMax/subgroupAdd within each subgroup and one pass over the subgroups'
// partials (1 barrier); partials sit at local_index / subgroup_size (subgroups over consecutive indices).
import type { KernelLayout } from './bindings';

export const CE_WG = 256;

/**
 * Row r (workgroup r, folded into y past 65535), with mx = max x and S = Σ exp(x − mx):
 * losses[r] = sign·((mx − x[t]) + log S), or 0 when t is ignored (t < 0 or t ≥ V, e.g. -100); with a
 * gradient, d[r, j] = scale·(exp(x_j − mx)/S − [j = t]), or 0 for ignored rows.
 */
/** How a row's partial (max, sum) pairs combine: a workgroup-memory tree, or subgroup operations. */
export type CeReduce = 'tree' | 'subgroup';

const TREE = `
  wm[lid.x] = m;
  ws[lid.x] = s;
  workgroupBarrier();
  for (var k = ${CE_WG / 2}u; k > 0u; k >>= 1u) {
    if (lid.x < k) {
      let m1 = wm[lid.x];
      let m2 = wm[lid.x + k];
      let mm = max(m1, m2);
      ws[lid.x] = ws[lid.x] * exp(m1 - mm) + ws[lid.x + k] * exp(m2 - mm);
      wm[lid.x] = mm;
    }
    workgroupBarrier();
  }
  let rowMax = wm[0];
  let rowSum = ws[0];`;

const SUBGROUP = `
  let sm = subgroupMax(m);
  let ss = subgroupAdd(s * exp(m - sm));
  if (sgi == 0u) { wm[lid.x / sgs] = sm; ws[lid.x / sgs] = ss; }
  workgroupBarrier();
  let parts = (${CE_WG}u + sgs - 1u) / sgs;
  var rowMax = NEG_BIG;
  for (var k = 0u; k < parts; k++) { rowMax = max(rowMax, wm[k]); }
  var rowSum = 0.0;
  for (var k = 0u; k < parts; k++) { rowSum += ws[k] * exp(wm[k] - rowMax); }`;

export const crossEntropyWgsl = (L: KernelLayout, withGrad: boolean, reduce: CeReduce = 'tree') => {
  const { logits, targets, losses, dLogits } = L.id;
  const grad = !withGrad
    ? ''
    : `

  // exp(x − max)/Σ rather than exp(x − lse): lse = max + log Σ rounds at the scale of |x|, so large logit
  // offsets cost digits (1e-3 relative error seen on SwiftShader at offsets of ±250); x − max does not.
  let mx = rowMax;
  let inv = 1.0 / rowSum;
  for (var j = lid.x; j < p.V; j += ${CE_WG}u) {
    let onehot = select(0.0, 1.0, valid && j == u32(t));
    ${dLogits}[base + j] = select(0.0, p.scale * (exp(${logits}[base + j] - mx) * inv - onehot), valid);
  }`;
  return `${reduce === 'subgroup' ? 'enable subgroups;\n' : ''}
struct P { N: u32, V: u32, scale: f32, sign: f32 };
${L.decls('P')}
var<workgroup> wm: array<f32, ${CE_WG}>;
var<workgroup> ws: array<f32, ${CE_WG}>;
const NEG_BIG = -3.0e38;
@compute @workgroup_size(${CE_WG})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>,
        @builtin(num_workgroups) nwg: vec3<u32>${
          reduce === 'subgroup'
            ? ', @builtin(subgroup_invocation_id) sgi: u32, @builtin(subgroup_size) sgs: u32'
            : ''
        }) {
  let row = wid.y * nwg.x + wid.x;
  if (row >= p.N) { return; }
  let base = row * p.V;
  let t = ${targets}[row];
  let valid = t >= 0 && u32(t) < p.V;
  // Read the target logit before any thread may overwrite the row (in-place variant).
  var xt = 0.0;
  if (lid.x == 0u && valid) { xt = ${logits}[base + u32(t)]; }
  // Online max and rescaled sum of exponentials over this thread's strided elements.
  var m = NEG_BIG;
  var s = 0.0;
  for (var j = lid.x; j < p.V; j += ${CE_WG}u) {
    let x = ${logits}[base + j];
    if (x > m) { s = s * exp(m - x) + 1.0; m = x; } else { s += exp(x - m); }
  }
${reduce === 'subgroup' ? SUBGROUP : TREE}
  if (lid.x == 0u) {
    // (max − x_t) + log Σ: the difference first, so a large common offset in the row costs no precision.
    ${losses}[row] = select(0.0, p.sign * ((rowMax - xt) + log(rowSum)), valid);
  }${grad}
}`;
};
