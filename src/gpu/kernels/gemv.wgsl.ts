// WGSL for the GEMV path of the matmul family: out[b] (+)= alpha · op(A[b]) · op(B[b]) when A has only a
// few rows (M ≤ GEMV_MAX_ROWS, generation's decode step: one row per sequence). Each invocation owns one
// output column (four on the vector path) for every row of A, so no work is spent on the empty
// rows a tiled matmul would pad M up to, and B, the big operand, is read once per column. The rows are
// unrolled (the template fixes M), so the accumulators stay in registers. Dispatch and validation: gemv.ts.
//
// Two ways of reading B. The vector path reads four consecutive stored elements of B at a time (a vec4 of
// f32, two words of f16/bf16, one word of int8, half a word of nf4), widened to f32 as matmul.wgsl.ts's
// readers do; it needs those four to be aligned (gemv.ts checks). The scalar path reads one element at a
// time through the shared reader (dequant.wgsl.ts) and takes every shape and stride.

import { type BaseDtype, NF4_BLOCK } from '../../util/quant';
import type { KernelLayout } from './bindings';
import { weightReaderDecls, weightReaderFn } from './dequant.wgsl';

export interface GemvTemplate {
  /** Rows of op(A) (M), unrolled. */
  rows: number;
  transA: boolean;
  transB: boolean;
  bDtype: BaseDtype;
  /** Which index of op(B) is B's output channel (int8 reads its scale by it); 'n' unless int8. */
  bChan: 'k' | 'n';
  /** Four stored elements of B per load (see the header); false: one at a time. */
  vec: boolean;
}

/** Invocations per workgroup (one column each, or four on the vector path). */
export const GEMV_WG = 64;

/** Columns one invocation computes. */
export const gemvColsPerThread = (t: GemvTemplate) => (t.vec ? 4 : 1);

/** WGSL array types of A and B as the template binds them. */
export function gemvBindingTypes(t: GemvTemplate): { a: string; b: string } {
  return {
    // The transposed-B vector path reads A along K four at a time, like B.
    a: t.vec && t.transB ? 'array<vec4<f32>>' : 'array<f32>',
    b: t.bDtype === 'f32' ? (t.vec ? 'array<vec4<f32>>' : 'array<f32>') : 'array<u32>',
  };
}

/**
 * `fn chunkB(e: u32, k: u32, n: u32) -> vec4<f32>`: stored elements e..e+3 of B (e a multiple of 4) widened to
 * f32. They run along k when B is transposed (at column n) and along n otherwise (at row k); int8 scales follow
 * the channel, per element when the channel is the axis the chunk runs along.
 */
function chunkReader(t: GemvTemplate, B: string, S: string | null): string {
  const along = t.transB ? 'k' : 'n';
  const body = (() => {
    switch (t.bDtype) {
      case 'f32':
        return `return ${B}[e >> 2u];`;
      case 'f16':
        return `let j = e >> 1u;
  return vec4<f32>(unpack2x16float(${B}[j]), unpack2x16float(${B}[j + 1u]));`;
      case 'bf16':
        // Element 2i is a word's low half, 2i+1 its high half; a bf16 is the top half of an f32.
        return `let j = e >> 1u;
  let w0 = ${B}[j];
  let w1 = ${B}[j + 1u];
  return vec4<f32>(bitcast<f32>(w0 << 16u), bitcast<f32>(w0 & 0xffff0000u), bitcast<f32>(w1 << 16u), bitcast<f32>(w1 & 0xffff0000u));`;
      case 'int8': {
        // Byte i of the word to the top, then an arithmetic shift sign-extends it.
        const scale =
          t.bChan === along
            ? `vec4<f32>(${S}[${along}], ${S}[${along} + 1u], ${S}[${along} + 2u], ${S}[${along} + 3u])`
            : `${S}[${t.bChan}]`;
        return `let w = bitcast<i32>(${B}[e >> 2u]);
  let q = vec4<f32>(f32((w << 24u) >> 24u), f32((w << 16u) >> 24u), f32((w << 8u) >> 24u), f32(w >> 24u));
  return q * ${scale};`;
      }
      case 'nf4':
        // e is a multiple of 4: the four codes are one half of a word and share one block's absmax.
        return `let w = ${B}[e >> 3u] >> (4u * (e & 7u));
  let q = vec4<f32>(NF4[w & 15u], NF4[(w >> 4u) & 15u], NF4[(w >> 8u) & 15u], NF4[(w >> 12u) & 15u]);
  return q * ${S}[e / ${NF4_BLOCK}u];`;
    }
  })();
  return `fn chunkB(e: u32, k: u32, n: u32) -> vec4<f32> {
  ${body}
}`;
}

const range = (n: number) => Array.from({ length: n }, (_, i) => i);

/** Index of op(A)(m, k) in A's storage (scalar binding). */
const aIndex = (t: GemvTemplate, m: number, k: string) =>
  t.transA ? `aOff + ${k} * p.M + ${m}u` : `aOff + ${m}u * p.K + ${k}`;

export function gemvWgsl(t: GemvTemplate, L: KernelLayout): string {
  const A = L.id.A;
  const B = L.id.B;
  const S = L.id.S ?? null;
  const rows = range(t.rows);
  const header = `
struct P { M: u32, N: u32, K: u32, sA: u32, sB: u32, sO: u32, acc: u32, alpha: f32 };
${L.decls('P')}
${weightReaderDecls(t.bDtype)}
${t.vec ? chunkReader(t, B, S) : weightReaderFn('readB', t.bDtype, B, S)}

// alpha scales the product only; with acc the old value is added unscaled (gradient accumulation).
fn store(i: u32, v: f32) {
  var r = p.alpha * v;
  if (p.acc != 0u) { r = r + O[i]; }
  O[i] = r;
}`;
  const entry = `@compute @workgroup_size(${GEMV_WG})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let aOff = wid.z * p.sA;
  let bOff = wid.z * p.sB;
  let oOff = wid.z * p.sO;`;

  if (t.vec && t.transB) {
    // Column n of op(B) is row n of B: contiguous along K, read as vec4s; A's rows likewise. Four columns per
    // invocation share each load of A (on SwiftShader every load is a gather: 1.3-1.5× faster than one column
    // per invocation); columns past N load the last one and are not stored.
    const cols = range(4);
    return `${header}
${entry}
  let n = (wid.x * ${GEMV_WG}u + lid.x) * 4u;
  if (n >= p.N) { return; }
  let K4 = p.K >> 2u;
  let aBase = aOff >> 2u;
${cols.map((j) => `  let n${j} = min(n + ${j}u, p.N - 1u);\n  let e${j} = bOff + n${j} * p.K;`).join('\n')}
${rows.map((m) => cols.map((j) => `  var c${m}_${j} = vec4<f32>();`).join('\n')).join('\n')}
  for (var k = 0u; k < p.K; k = k + 4u) {
    let k4 = k >> 2u;
${cols.map((j) => `    let w${j} = chunkB(e${j} + k, k, n${j});`).join('\n')}
${rows.map((m) => `    let x${m} = ${A}[aBase + ${m}u * K4 + k4];\n${cols.map((j) => `    c${m}_${j} = fma(x${m}, w${j}, c${m}_${j});`).join('\n')}`).join('\n')}
  }
${rows.map((m) => cols.map((j) => `  if (n + ${j}u < p.N) { store(oOff + ${m}u * p.N + n + ${j}u, (c${m}_${j}.x + c${m}_${j}.y) + (c${m}_${j}.z + c${m}_${j}.w)); }`).join('\n')).join('\n')}
}`;
  }
  if (t.vec) {
    // Four neighbouring columns of op(B) are four neighbouring words of B's row k.
    return `${header}
${entry}
  let n = (wid.x * ${GEMV_WG}u + lid.x) * 4u;
  if (n >= p.N) { return; }
${rows.map((m) => `  var c${m} = vec4<f32>();`).join('\n')}
  var e = bOff + n;
  for (var k = 0u; k < p.K; k = k + 1u) {
    let w = chunkB(e, k, n);
${rows.map((m) => `    c${m} = fma(vec4<f32>(${A}[${aIndex(t, m, 'k')}]), w, c${m});`).join('\n')}
    e = e + p.N;
  }
${rows
  .map((m) =>
    range(4)
      .map((j) => `  store(oOff + ${m}u * p.N + n + ${j}u, c${m}[${j}]);`)
      .join('\n'),
  )
  .join('\n')}
}`;
  }
  return `${header}
${entry}
  let n = wid.x * ${GEMV_WG}u + lid.x;
  if (n >= p.N) { return; }
${rows.map((m) => `  var c${m} = 0.0;`).join('\n')}
  var e = bOff + ${t.transB ? 'n * p.K' : 'n'};
  for (var k = 0u; k < p.K; k = k + 1u) {
    let w = readB(e, ${t.bChan});
${rows.map((m) => `    c${m} = fma(${A}[${aIndex(t, m, 'k')}], w, c${m});`).join('\n')}
    e = e + ${t.transB ? '1u' : 'p.N'};
  }
${rows.map((m) => `  store(oOff + ${m}u * p.N + n, c${m});`).join('\n')}
}`;
}
