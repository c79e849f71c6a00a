// WGSL for 'splitk', the matmul family's variant for few outputs and a long reduction (LoRA's gradients:
// dB = (x·A)ᵀ·dY has M = r rows and K = tokens; decode past the GEMV path): the register-blocked variants
// give such a call only a handful of workgroups, which leaves a hardware GPU idle. Here a workgroup owns a
// 4-row × 64-column output tile and splits K among its 16 rows of invocations (invocation row y takes
// k ≡ y mod 16), then sums the 16 partial blocks through workgroup memory in a fixed order, so results are
// bitwise repeatable (no float atomics). Same contract as the other variants (matmul.wgsl.ts).

import type { KernelLayout } from './bindings';
import { aAddr, bAddr, type MatmulTemplate, matmulHeader, OFFSETS, range } from './matmul.wgsl';

/** Invocations: 16 column quads × 16 K slices; rows per workgroup. */
export const SPLITK_SHAPE = { quads: 16, slices: 16, rows: 4 } as const;

export function matmulSplitKWgsl(t: MatmulTemplate, L: KernelLayout): string {
  const { quads, slices, rows } = SPLITK_SHAPE;
  const a = aAddr(t, 'm0');
  const b = bAddr(t, 'n0');
  const rs = range(rows);
  const cs = range(4);
  // 16 KiB: the whole of WebGPU's default workgroup storage.
  const red = slices * quads * rows;
  return `${matmulHeader(t, L)}
var<workgroup> red: array<vec4<f32>, ${red}>; // [slice][quad][row]

@compute @workgroup_size(${quads}, ${slices})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  ${OFFSETS}
  let n0 = wid.x * ${quads * 4}u + lid.x * 4u;
  let m0 = wid.y * ${rows}u;
  // Rows and columns past the edge are clamped for loading and dropped at the store; no early return,
  // because the barrier below needs every invocation.
${rs.map((i) => `  var ia${i} = ${aAddr(t, `min(m0 + ${i}u, p.M - 1u)`).base} + lid.y * ${a.step};`).join('\n')}
${cs.map((j) => `  let cn${j} = min(n0 + ${j}u, p.N - 1u);\n  var ib${j} = ${bAddr(t, `cn${j}`).base} + lid.y * ${b.step};`).join('\n')}
  var c: array<vec4<f32>, ${rows}>;
  for (var k = lid.y; k < p.K; k = k + ${slices}u) {
    let bv = vec4<f32>(${cs.map((j) => `loadB(ib${j}, k, cn${j})`).join(', ')});
${rs.map((i) => `    c[${i}] = fma(vec4<f32>(A[ia${i}]), bv, c[${i}]);`).join('\n')}
${rs.map((i) => `    ia${i} = ia${i} + ${slices}u * ${a.step};`).join('\n')}
${cs.map((j) => `    ib${j} = ib${j} + ${slices}u * ${b.step};`).join('\n')}
  }
${rs.map((i) => `  red[(lid.y * ${quads}u + lid.x) * ${rows}u + ${i}u] = c[${i}];`).join('\n')}
  workgroupBarrier();
  // Invocation rows 0..rows-1 each sum one output row over the slices, in slice order.
  if (lid.y < ${rows}u) {
    var s = vec4<f32>(0.0);
    for (var y = 0u; y < ${slices}u; y = y + 1u) {
      s = s + red[(y * ${quads}u + lid.x) * ${rows}u + lid.y];
    }
    let m = m0 + lid.y;
    if (m < p.M && n0 < p.N) { store4(oOff + m * p.N, n0, s); }
  }
}`;
}
