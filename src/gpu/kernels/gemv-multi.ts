// Several GEMVs that read one input, in one dispatch: out_j[m, n] = Σ_k a[m, k] · W_j[n, k] (+ bias_j[n]) for 2 or 3 plain
// f32 weights W_j stored [N_j, K] (the 'out_in' layout, transB; N_j a multiple of 4), M ≤ GEMV_MAX_ROWS rows. Generation's decode
// step projects q, k and v (or gate and up) of the same normed row: one dispatch instead of three (two),
// and each part's rows may lie `rowStride` apart (k and v straight into KV cache rows, items capacity·w apart).
// One invocation per four output columns over all parts. `gemvMulti` returns false, recording nothing, for a call
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
  /** [N] added to every output row (Qwen2's q/k/v biases); absent or null: none. */
  bias?: S | null;
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

// Rows are unrolled (M is fixed per kernel, as gemv.wgsl.ts does): accumulators in registers, not a private
// array indexed at run time, which SwiftShader keeps in memory. Each invocation computes four neighbouring
// columns (N_j % 4 = 0), so each A element it loads serves four weights. Four interleaved partial sums per
// row and column (k mod 4), paired at the end: f32 error closer to the tiled kernels' than one running sum.
const wgsl = (J: number, M: number, id: Record<string, string>, decls: string, biased: boolean[]) => {
  const rows = [...Array(M).keys()];
  const cols = [0, 1, 2, 3];
  const each = (f: (m: number, c: number) => string) =>
    rows.flatMap((m) => cols.map((c) => f(m, c))).join('\n');
  const part = (j: number) => {
    const w = id[`w${j}`];
    const a = (m: number, d: string) => `${id.a}[${m}u * p.K + k${d}]`;
    const wl = (c: number, d: string) => `${w}[wr${c} + k${d}]`;
    return `
    let n = (col - off) * 4u;
${cols.map((c) => `    let wr${c} = (n + ${c}u) * p.K;`).join('\n')}
${each((m, c) => `    var acc${m}_${c} = vec4<f32>(0.0);\n    var tail${m}_${c} = 0.0;`)}
    let K4 = p.K / 4u;
    for (var q = 0u; q < K4; q++) {
      let k = q * 4u;
${cols.map((c) => `      let wv${c} = vec4<f32>(${wl(c, '')}, ${wl(c, ' + 1u')}, ${wl(c, ' + 2u')}, ${wl(c, ' + 3u')});`).join('\n')}
${rows.map((m) => `      let av${m} = vec4<f32>(${a(m, '')}, ${a(m, ' + 1u')}, ${a(m, ' + 2u')}, ${a(m, ' + 3u')});`).join('\n')}
${each((m, c) => `      acc${m}_${c} += av${m} * wv${c};`)}
    }
    for (var k = K4 * 4u; k < p.K; k++) {
${each((m, c) => `      tail${m}_${c} += ${a(m, '')} * ${wl(c, '')};`)}
    }
${each((m, c) => `    ${id[`o${j}`]}[${m}u * p.s${j} + n + ${c}u] = ((acc${m}_${c}.x + acc${m}_${c}.y) + (acc${m}_${c}.z + acc${m}_${c}.w)) + tail${m}_${c}${biased[j] ? ` + ${id[`b${j}`]}[n + ${c}u]` : ''};`)}
    return;`;
  };
  let body = '  var off = 0u;\n';
  for (let j = 0; j < J; j++)
    body += `  if (col < off + p.n${j} / 4u) {${part(j)}\n  }\n  off += p.n${j} / 4u;\n`;
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
    if (
      q.N < 1 ||
      q.N % 4 !== 0 ||
      s < q.N ||
      bytes(q.w) < q.N * K * 4 ||
      bytes(q.out) < ((M - 1) * s + q.N) * 4
    )
      return false;
    if (sameBuffer(q.out, a) || sameBuffer(q.out, q.w)) return false;
    if (q.bias && (bytes(q.bias) < q.N * 4 || sameBuffer(q.out, q.bias))) return false;
    strides.push(s);
  }
  for (let i = 0; i < J; i++)
    for (let j = i + 1; j < J; j++) if (sameBuffer(parts[i].out, parts[j].out)) return false;
  const L = planBindings('gemv_multi', [
    { name: 'a', region: a, write: false },
    ...parts.map((q, j) => ({ name: `w${j}`, region: q.w, write: false })),
    ...parts.flatMap((q, j) => (q.bias ? [{ name: `b${j}`, region: q.bias, write: false }] : [])),
    ...parts.map((q, j) => ({ name: `o${j}`, region: q.out, write: true })),
  ]);
  const biased = parts.map((q) => !!q.bias);
  const n = parts.map((q) => q.N);
  const total = n.reduce((x, y) => x + y, 0);
  ctx.dispatch({
    kernel: memoKernel(`gemv_multi${J}_m${M}_c4_b${biased.map(Number).join('')}:${L.sig}`, 'gemv_multi', () =>
      wgsl(J, M, L.id, L.decls('P'), biased),
    ),
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
    workgroups: grid1d(total / 4, WG),
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
        q.out[m * s + nn] = acc + (q.bias ? q.bias[nn] : 0);
      }
  }
}
