// Several GEMVs that read one input, in one dispatch: out_j[m, n] = Σ_k a[m, k] · W_j[n, k] for 2 or 3 plain
// f32 weights W_j stored [N_j, K] (the 'out_in' layout, transB), M ≤ GEMV_MAX_ROWS rows. Generation's decode
// step projects q, k and v (or gate and up) of the same normed row: one dispatch instead of three (two),
// and each part's rows may lie `rowStride` apart (k and v straight into KV cache rows, items capacity·w apart).
// One invocation per output column over all parts. `gemvMulti` returns false, recording nothing, for a call
// it does not take (more rows, a formatted weight, a region too small or shared with the input); the caller
// then runs separate matmuls. The twin is gemvMultiRef.

import { type GpuRegion, regionParts } from '../arena';
import { type GpuContext, Uniforms } from '../context';
import { memoKernel, planBindings } from './bindings';
import { FLAT_BUILTINS, FLAT_INDEX, grid1d } from './common';
import { GEMV_MAX_ROWS } from './gemv';

export interface GemvMultiPart<S = GpuRegion> {
  /** Weight [N, K] row-major (f32). */
  w: S;
  N: number;
  out: S;
  /** Elements between output rows m (default N, dense). */
  rowStride?: number;
}

export interface GemvMultiArgs<S = GpuRegion> {
  /** Input [M, K] row-major. */
  a: S;
  M: number;
  K: number;
  parts: GemvMultiPart<S>[];
}

const WG = 64;

const bytes = (r: GpuRegion) => regionParts(r).size;

function sameBuffer(a: GpuRegion, b: GpuRegion): boolean {
  return regionParts(a).buffer === regionParts(b).buffer;
}

const wgsl = (J: number, id: Record<string, string>, decls: string) => {
  // Four interleaved partial sums per row (k mod 4), then paired: f32 error closer to the tiled kernels'
  // than one running sum over K, and four independent multiply-adds per step.
  const part = (j: number) => `
    let n = col - off;
    let wr = n * p.K;
    var acc: array<vec4<f32>, ${GEMV_MAX_ROWS}>;
    var tail: array<f32, ${GEMV_MAX_ROWS}>;
    let K4 = p.K / 4u;
    for (var q = 0u; q < K4; q++) {
      let k = q * 4u;
      let wv = vec4<f32>(${id[`w${j}`]}[wr + k], ${id[`w${j}`]}[wr + k + 1u], ${id[`w${j}`]}[wr + k + 2u], ${id[`w${j}`]}[wr + k + 3u]);
      for (var m = 0u; m < p.M; m++) {
        let ar = m * p.K + k;
        acc[m] += vec4<f32>(${id.a}[ar], ${id.a}[ar + 1u], ${id.a}[ar + 2u], ${id.a}[ar + 3u]) * wv;
      }
    }
    for (var k = K4 * 4u; k < p.K; k++) {
      let wv = ${id[`w${j}`]}[wr + k];
      for (var m = 0u; m < p.M; m++) { tail[m] += ${id.a}[m * p.K + k] * wv; }
    }
    for (var m = 0u; m < p.M; m++) {
      let s = acc[m];
      ${id[`o${j}`]}[m * p.s${j} + n] = ((s.x + s.y) + (s.z + s.w)) + tail[m];
    }
    return;`;
  let body = '  var off = 0u;\n';
  for (let j = 0; j < J; j++) body += `  if (col < off + p.n${j}) {${part(j)}\n  }\n  off += p.n${j};\n`;
  return `
struct P { M: u32, K: u32, n0: u32, n1: u32, n2: u32, s0: u32, s1: u32, s2: u32 };
${decls}
@compute @workgroup_size(${WG})
fn main(${FLAT_BUILTINS}) {
  let col = ${FLAT_INDEX(WG)};
${body}}`;
};

/** out_j = a · W_jᵀ for every part in one dispatch; false (nothing recorded) when the call is not taken. */
export function gemvMulti(ctx: GpuContext, args: GemvMultiArgs): boolean {
  const { a, M, K, parts } = args;
  const J = parts.length;
  if (J < 2 || J > 3 || M < 1 || M > GEMV_MAX_ROWS || K < 1) return false;
  if (bytes(a) < M * K * 4) return false;
  const strides: number[] = [];
  for (const q of parts) {
    const s = q.rowStride ?? q.N;
    if (q.N < 1 || s < q.N || bytes(q.w) < q.N * K * 4 || bytes(q.out) < ((M - 1) * s + q.N) * 4)
      return false;
    if (sameBuffer(q.out, a) || sameBuffer(q.out, q.w)) return false;
    strides.push(s);
  }
  for (let i = 0; i < J; i++)
    for (let j = i + 1; j < J; j++) if (sameBuffer(parts[i].out, parts[j].out)) return false;
  const L = planBindings('gemv_multi', [
    { name: 'a', region: a, write: false },
    ...parts.map((q, j) => ({ name: `w${j}`, region: q.w, write: false })),
    ...parts.map((q, j) => ({ name: `o${j}`, region: q.out, write: true })),
  ]);
  const n = parts.map((q) => q.N);
  const total = n.reduce((x, y) => x + y, 0);
  ctx.dispatch({
    kernel: memoKernel(`gemv_multi${J}:${L.sig}`, 'gemv_multi', () => wgsl(J, L.id, L.decls('P'))),
    buffers: L.buffers,
    uniforms: new Uniforms()
      .u32(M)
      .u32(K)
      .u32(n[0])
      .u32(n[1])
      .u32(n[2] ?? 0)
      .u32(strides[0])
      .u32(strides[1])
      .u32(strides[2] ?? 0).data,
    workgroups: grid1d(total, WG),
  });
  return true;
}

/** Float64 twin: the same outputs, written into Float64Array outputs. */
export function gemvMultiRef(args: GemvMultiArgs<Float64Array>): void {
  const { a, M, K, parts } = args;
  for (const q of parts) {
    const s = q.rowStride ?? q.N;
    for (let m = 0; m < M; m++)
      for (let nn = 0; nn < q.N; nn++) {
        let acc = 0;
        for (let k = 0; k < K; k++) acc += a[m * K + k] * q.w[nn * K + k];
        q.out[m * s + nn] = acc;
      }
  }
}
