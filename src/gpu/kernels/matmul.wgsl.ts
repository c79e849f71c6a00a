// WGSL for the matmul family: out[b] (+)= alpha · op(A[b]) · op(B[b]) in three variants (naive, regblock,
// tiled), each templated by the transpose flags and by whether B holds packed f16. The dispatch side
// (grid sizes, uniforms, validation) lives in matmul.ts; this file only writes shader text.
//
// Layouts (row-major, per batch item): A is [M,K] or, transposed, [K,M]; B is [K,N] or [N,K]; out [M,N].
// Batch item b starts at b·stride (a stride of 0 broadcasts one matrix to every item).

export interface MatmulTemplate {
  transA: boolean;
  transB: boolean;
  /** B is array<u32> holding two f16 per word (element e = half (e&1) of word e>>1). */
  bF16: boolean;
}

/** Register block per invocation (rows × columns) for regblock and tiled. */
export const RB = 4;
/** naive: one output per invocation, 16×16 invocations per workgroup. */
export const NAIVE_WG = 16;
/** regblock: invocations per workgroup along x (columns) and y (rows). */
export const REG_WG_X = 8;
export const REG_WG_Y = 8;
/** tiled: 16×16 invocations, each a 4×4 block, so a 64×64 output tile; K is staged TK at a time. */
export const TILE_WG = 16;
export const TILE = TILE_WG * RB;
export const TK = 16;

// Uniform layout shared by all variants; matmul.ts packs it in this order.
const HEADER = (t: MatmulTemplate) => `
struct P { M: u32, N: u32, K: u32, batch0: u32, sA: u32, sB: u32, sO: u32, acc: u32, alpha: f32 };
@group(0) @binding(0) var<storage, read> A: array<f32>;
@group(0) @binding(1) var<storage, read> B: array<${t.bF16 ? 'u32' : 'f32'}>;
@group(0) @binding(2) var<storage, read_write> O: array<f32>;
@group(0) @binding(3) var<uniform> p: P;

fn loadB(i: u32) -> f32 {
  ${t.bF16 ? 'return unpack2x16float(B[i >> 1u])[i & 1u];' : 'return B[i];'}
}

// alpha scales the product only; with acc the old value is added unscaled (gradient accumulation).
fn store(i: u32, v: f32) {
  var r = p.alpha * v;
  if (p.acc != 0u) { r = r + O[i]; }
  O[i] = r;
}
`;

/** Offsets of A(m,0) and the step from k to k+1, as WGSL expressions over `aOff`, `m`. */
function aAddr(t: MatmulTemplate, m: string): { base: string; step: string } {
  return t.transA ? { base: `aOff + ${m}`, step: 'p.M' } : { base: `aOff + ${m} * p.K`, step: '1u' };
}

/** Offsets of B(0,n) and the step from k to k+1. */
function bAddr(t: MatmulTemplate, n: string): { base: string; step: string } {
  return t.transB ? { base: `bOff + ${n} * p.K`, step: '1u' } : { base: `bOff + ${n}`, step: 'p.N' };
}

const OFFSETS = `
  let b = wid.z + p.batch0;
  let aOff = b * p.sA;
  let bOff = b * p.sB;
  let oOff = b * p.sO;`;

/** One output per invocation: the reference point for benchmarks and the simplest correct kernel. */
export function matmulNaiveWgsl(t: MatmulTemplate): string {
  const a = aAddr(t, 'm');
  const bb = bAddr(t, 'n');
  return `${HEADER(t)}
@compute @workgroup_size(${NAIVE_WG}, ${NAIVE_WG})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let n = wid.x * ${NAIVE_WG}u + lid.x;
  let m = wid.y * ${NAIVE_WG}u + lid.y;
  if (m >= p.M || n >= p.N) { return; }
  ${OFFSETS}
  var ia = ${a.base};
  var ib = ${bb.base};
  var acc = 0.0;
  for (var k = 0u; k < p.K; k = k + 1u) {
    acc = fma(A[ia], loadB(ib), acc);
    ia = ia + ${a.step};
    ib = ib + ${bb.step};
  }
  store(oOff + m * p.N + n, acc);
}`;
}

const range = (n: number) => Array.from({ length: n }, (_, i) => i);

/**
 * Each invocation computes an RB×RB block straight from global memory, with no workgroup memory and no
 * barriers. Rows and columns past the edge are clamped for loading (always in range, so the inner loop
 * has no branches) and dropped at the store.
 */
export function matmulRegblockWgsl(t: MatmulTemplate): string {
  const a = aAddr(t, 'm0');
  const bb = bAddr(t, 'n0');
  const rows = range(RB);
  return `${HEADER(t)}
@compute @workgroup_size(${REG_WG_X}, ${REG_WG_Y})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let n0 = (wid.x * ${REG_WG_X}u + lid.x) * ${RB}u;
  let m0 = (wid.y * ${REG_WG_Y}u + lid.y) * ${RB}u;
  if (m0 >= p.M || n0 >= p.N) { return; }
  ${OFFSETS}
${rows.map((i) => `  var ia${i} = ${aAddr(t, `min(m0 + ${i}u, p.M - 1u)`).base};`).join('\n')}
${rows.map((j) => `  var ib${j} = ${bAddr(t, `min(n0 + ${j}u, p.N - 1u)`).base};`).join('\n')}
  var c: array<vec4<f32>, ${RB}>;
  for (var k = 0u; k < p.K; k = k + 1u) {
    let bv = vec4<f32>(${rows.map((j) => `loadB(ib${j})`).join(', ')});
${rows.map((i) => `    c[${i}] = fma(vec4<f32>(A[ia${i}]), bv, c[${i}]);`).join('\n')}
${rows.map((i) => `    ia${i} = ia${i} + ${a.step};`).join('\n')}
${rows.map((j) => `    ib${j} = ib${j} + ${bb.step};`).join('\n')}
  }
  for (var i = 0u; i < ${RB}u; i = i + 1u) {
    let m = m0 + i;
    if (m >= p.M) { break; }
    for (var j = 0u; j < ${RB}u; j = j + 1u) {
      let n = n0 + j;
      if (n >= p.N) { break; }
      store(oOff + m * p.N + n, c[i][j]);
    }
  }
}`;
}

/**
 * Workgroup-memory tiles plus register blocking: the workgroup stages a TILE×TK slab of op(A) and a
 * TK×TILE slab of op(B) (zero-padded past the edges), then each invocation accumulates its RB×RB block
 * from workgroup memory. Global loads walk each operand along its contiguous axis, whatever the
 * transpose, so neighbouring invocations read neighbouring words.
 */
export function matmulTiledWgsl(t: MatmulTemplate): string {
  const threads = TILE_WG * TILE_WG;
  const loads = (TILE * TK) / threads;
  // Element e of the slab load → (row within tile, k within slab), contiguous axis fastest.
  const aCoord = t.transA
    ? `let mm = e % ${TILE}u; let kk = e / ${TILE}u;`
    : `let kk = e % ${TK}u; let mm = e / ${TK}u;`;
  const aIdx = t.transA ? 'aOff + k * p.M + m' : 'aOff + m * p.K + k';
  const bCoord = t.transB
    ? `let kk = e % ${TK}u; let nn = e / ${TK}u;`
    : `let nn = e % ${TILE}u; let kk = e / ${TILE}u;`;
  const bIdx = t.transB ? 'bOff + n * p.K + k' : 'bOff + k * p.N + n';
  const rows = range(RB);
  return `${HEADER(t)}
var<workgroup> As: array<f32, ${TILE * TK}>; // [k][m]
var<workgroup> Bs: array<f32, ${TILE * TK}>; // [k][n]

@compute @workgroup_size(${TILE_WG}, ${TILE_WG})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  ${OFFSETS}
  let tid = lid.y * ${TILE_WG}u + lid.x;
  let mBase = wid.y * ${TILE}u;
  let nBase = wid.x * ${TILE}u;
  let tm = lid.y * ${RB}u;
  let tn = lid.x * ${RB}u;
  var c: array<vec4<f32>, ${RB}>;
  // Every invocation stays in the loop (no early return) because the barriers need uniform control flow.
  for (var k0 = 0u; k0 < p.K; k0 = k0 + ${TK}u) {
    for (var l = 0u; l < ${loads}u; l = l + 1u) {
      let e = tid + l * ${threads}u;
      ${aCoord}
      let m = mBase + mm;
      let k = k0 + kk;
      var v = 0.0;
      if (m < p.M && k < p.K) { v = A[${aIdx}]; }
      As[kk * ${TILE}u + mm] = v;
    }
    for (var l = 0u; l < ${loads}u; l = l + 1u) {
      let e = tid + l * ${threads}u;
      ${bCoord}
      let n = nBase + nn;
      let k = k0 + kk;
      var v = 0.0;
      if (n < p.N && k < p.K) { v = loadB(${bIdx}); }
      Bs[kk * ${TILE}u + nn] = v;
    }
    workgroupBarrier();
    for (var kk = 0u; kk < ${TK}u; kk = kk + 1u) {
      let ar = kk * ${TILE}u + tm;
      let br = kk * ${TILE}u + tn;
      let bv = vec4<f32>(${rows.map((j) => `Bs[br + ${j}u]`).join(', ')});
${rows.map((i) => `      c[${i}] = fma(vec4<f32>(As[ar + ${i}u]), bv, c[${i}]);`).join('\n')}
    }
    workgroupBarrier();
  }
  let m0 = mBase + tm;
  let n0 = nBase + tn;
  for (var i = 0u; i < ${RB}u; i = i + 1u) {
    let m = m0 + i;
    if (m >= p.M) { break; }
    for (var j = 0u; j < ${RB}u; j = j + 1u) {
      let n = n0 + j;
      if (n >= p.N) { break; }
      store(oOff + m * p.N + n, c[i][j]);
    }
  }
}`;
}
