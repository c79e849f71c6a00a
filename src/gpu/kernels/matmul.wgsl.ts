// WGSL for the matmul family: out[b] (+)= alpha · op(A[b]) · op(B[b]) in the barrier-free and scalar
// variants (naive, regblock and its shapes, lanes, tiled; the vec4 double-buffered 'tiled4' is in
// matmul-tiled4.wgsl.ts), each templated by the transpose flags and by how B is stored (f32, or a frozen weight's format:
// f16/bf16/int8/nf4, widened to f32 as it is loaded, dequant.wgsl.ts). The dispatch side
// (grid sizes, uniforms, validation) lives in matmul.ts; this file only writes shader text.
//
// Layouts (row-major, per batch item): A is [M,K] or, transposed, [K,M]; B is [K,N] or [N,K]; out [M,N].
// Batch item b starts at b·stride (a stride of 0 broadcasts one matrix to every item).

import type { BaseDtype } from '../../util/quant';
import type { KernelLayout } from './bindings';
import { weightReaderDecls, weightReaderFn } from './dequant.wgsl';

export interface MatmulTemplate {
  transA: boolean;
  transB: boolean;
  /** How B is stored (util/quant.ts's word layouts); 'f32' is a plain array<f32>. */
  bDtype: BaseDtype;
  /** Which index of op(B) is B's output channel (int8 reads its scale by it); 'n' unless int8. */
  bChan: 'k' | 'n';
  /** tiled4 only: A / B bound as array<vec4<f32>> and loaded four elements at a time (matmul.ts decides). */
  vecA?: boolean;
  vecB?: boolean;
  /**
   * quad only (matmul-quad.wgsl.ts), both known on the host: `exact`, the output is whole workgroup tiles
   * (no edge checks at the store); `acc`, the result is added to out (the accumulate flag as code, not as
   * a per-element test of the uniform).
   */
  exact?: boolean;
  acc?: boolean;
}

/** Register block per invocation (rows × columns) for the tiled variant. */
export const RB = 4;
/** naive: one output per invocation, 16×16 invocations per workgroup. */
export const NAIVE_WG = 16;
/**
 * tiled: 16×16 invocations, each a 4×4 block, so a 64×64 output tile; K is staged TK at a time. TK = 8
 * rather than 16: SwiftShader unrolls the inner loop and compiled the 16 version ~3× slower (≈4 s vs
 * ≈1.3 s on this 2-core machine), for no speed gain there; 8 is a common depth for GPU GEMMs too.
 */
export const TILE_WG = 16;
export const TK = 8;

// Uniform layout shared by all variants; matmul.ts packs it in this order. The bindings (A, B and B's
// scales S when its format has them, read; O written; then p: P) are declared by the shared planner (L, from matmul.ts); when B is the same region as
// A the planner binds it once and L.id.B names A.
export const matmulHeader = (t: MatmulTemplate, L: KernelLayout): string => `
struct P { M: u32, N: u32, K: u32, batch0: u32, sA: u32, sB: u32, sO: u32, acc: u32, alpha: f32 };
${L.decls('P')}

${weightReaderDecls(t.bDtype)}
${
  t.vecB
    ? `fn readB(i: u32, ch: u32) -> f32 { return ${L.id.B}[i >> 2u][i & 3u]; }`
    : weightReaderFn('readB', t.bDtype, L.id.B, L.id.S ?? null)
}
// B(k, n) stored at flat index i; int8's scale is that of channel k or n (t.bChan).
fn loadB(i: u32, k: u32, n: u32) -> f32 {
  return readB(i, ${t.bChan});
}

// alpha scales the product only; with acc the old value is added unscaled (gradient accumulation).
fn store(i: u32, v: f32) {
  var r = p.alpha * v;
  if (p.acc != 0u) { r = r + O[i]; }
  O[i] = r;
}

// Up to four consecutive outputs of one row, those with column < N.
fn store4(row: u32, n: u32, v: vec4<f32>) {
  for (var j = 0u; j < 4u; j = j + 1u) {
    if (n + j < p.N) { store(row + n + j, v[j]); }
  }
}
`;

/** Offsets of A(m,0) and the step from k to k+1, as WGSL expressions over `aOff`, `m`. */
export function aAddr(t: MatmulTemplate, m: string): { base: string; step: string } {
  return t.transA ? { base: `aOff + ${m}`, step: 'p.M' } : { base: `aOff + ${m} * p.K`, step: '1u' };
}

/** Offsets of B(0,n) and the step from k to k+1. */
export function bAddr(t: MatmulTemplate, n: string): { base: string; step: string } {
  return t.transB ? { base: `bOff + ${n} * p.K`, step: '1u' } : { base: `bOff + ${n}`, step: 'p.N' };
}

export const OFFSETS = `
  let b = wid.z + p.batch0;
  let aOff = b * p.sA;
  let bOff = b * p.sB;
  let oOff = b * p.sO;`;

/** One output per invocation: the reference point for benchmarks and the simplest correct kernel. */
export function matmulNaiveWgsl(t: MatmulTemplate, L: KernelLayout): string {
  const a = aAddr(t, 'm');
  const bb = bAddr(t, 'n');
  return `${matmulHeader(t, L)}
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
    acc = fma(A[ia], loadB(ib, k, n), acc);
    ia = ia + ${a.step};
    ib = ib + ${bb.step};
  }
  store(oOff + m * p.N + n, acc);
}`;
}

export const range = (n: number) => Array.from({ length: n }, (_, i) => i);

/**
 * Stores the rm×rn block held in `c` (vec4s along columns) at rows m0.., columns n0.., skipping what
 * falls outside M×N. Rows are unrolled so `c` is only indexed by constants: a dynamically indexed private
 * array is spilled to memory by GPU compilers (indexing a vec4 value, as store4 does, is not).
 */
export function storeBlock(rm: number, rn: number): string {
  const lines: string[] = [];
  for (let i = 0; i < rm; i++) {
    const quads = range(rn / 4).map((q) => `store4(row, n0 + ${4 * q}u, c[${i * (rn / 4) + q}]);`);
    lines.push(`  if (m0 + ${i}u < p.M) { let row = oOff + (m0 + ${i}u) * p.N; ${quads.join(' ')} }`);
  }
  return lines.join('\n');
}

/** Register-block shape: invocations per workgroup (x = columns, y = rows), outputs per invocation. */
export interface RegblockShape {
  wgX: number;
  wgY: number;
  /** Rows per invocation. */
  rm: number;
  /** Columns per invocation, a multiple of 4 (accumulators are vec4 along columns). */
  rn: number;
}

// 8×8 outputs per invocation: on SwiftShader every load is a bounds-checked gather, so more FMAs per
// load won 1.3-2.5× over 4×4 (bench/matmul-node.ts); 64 accumulators still fit a GPU thread's registers.
// 8×8 invocations keep a workgroup at 64 threads, two warps / one wavefront on real GPUs.
export const REGBLOCK_SHAPE: RegblockShape = { wgX: 8, wgY: 8, rm: 8, rn: 8 };

/**
 * 'skinny': the regblock kernel shaped for LoRA's narrow products (N = r ≤ 64, x·A and its gradients): a
 * workgroup covers 8 columns × 128 rows, so at N = 8 every invocation has work (REGBLOCK_SHAPE's 64
 * columns leave 7 of 8 idle there), and 4×4 blocks keep many workgroups in flight.
 */
export const SKINNY_SHAPE: RegblockShape = { wgX: 2, wgY: 32, rm: 4, rn: 4 };

/** 'lanes' shape: invocation x of a row of wgX owns columns nTile + x + wgX·j (j < rn), rows m0..m0+rm. */
export const LANES_SHAPE: RegblockShape = { wgX: 4, wgY: 16, rm: 8, rn: 8 };

/**
 * The K loop of the barrier-free register blocks (regblock, lanes): rm accumulator rows of rn columns as
 * vec4s, A read one word per row (ia0..), B through loadB at clamped columns cn0.. (ib0..), each address
 * advanced by its step per k.
 */
function registerBlockLoop(rm: number, rn: number, aStep: string, bStep: string): string {
  const rows = range(rm);
  const quads = range(rn / 4);
  const loadsB = quads.map(
    (q) =>
      `    let b${q} = vec4<f32>(${range(4)
        .map((j) => `loadB(ib${4 * q + j}, k, cn${4 * q + j})`)
        .join(', ')});`,
  );
  const fmas = rows.map(
    (i) =>
      `    let a${i} = vec4<f32>(A[ia${i}]);\n${quads.map((q) => `    c[${i * (rn / 4) + q}] = fma(a${i}, b${q}, c[${i * (rn / 4) + q}]);`).join('\n')}`,
  );
  return `  var c: array<vec4<f32>, ${rm * (rn / 4)}>;
  for (var k = 0u; k < p.K; k = k + 1u) {
${loadsB.join('\n')}
${fmas.join('\n')}
${rows.map((i) => `    ia${i} = ia${i} + ${aStep};`).join('\n')}
${range(rn)
  .map((j) => `    ib${j} = ib${j} + ${bStep};`)
  .join('\n')}
  }`;
}

/**
 * Each invocation computes an rm×rn block straight from global memory, with no workgroup memory and no
 * barriers. Rows and columns past the edge are clamped for loading (always in range, so the inner loop
 * has no branches) and dropped at the store.
 */
export function matmulRegblockWgsl(
  t: MatmulTemplate,
  L: KernelLayout,
  shape: RegblockShape = REGBLOCK_SHAPE,
): string {
  const { wgX, wgY, rm, rn } = shape;
  const a = aAddr(t, 'm0');
  const bb = bAddr(t, 'n0');
  const rows = range(rm);
  const cols = range(rn);
  const _quads = range(rn / 4);
  return `${matmulHeader(t, L)}
@compute @workgroup_size(${wgX}, ${wgY})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let n0 = (wid.x * ${wgX}u + lid.x) * ${rn}u;
  let m0 = (wid.y * ${wgY}u + lid.y) * ${rm}u;
  if (m0 >= p.M || n0 >= p.N) { return; }
  ${OFFSETS}
${rows.map((i) => `  var ia${i} = ${aAddr(t, `min(m0 + ${i}u, p.M - 1u)`).base};`).join('\n')}
${cols.map((j) => `  let cn${j} = min(n0 + ${j}u, p.N - 1u);\n  var ib${j} = ${bAddr(t, `cn${j}`).base};`).join('\n')}
${registerBlockLoop(rm, rn, a.step, bb.step)}
${storeBlock(rm, rn)}
}`;
}

/** Tiled shape: wg×wg invocations, each an rb×rb block (rb a multiple of 4); K staged tk at a time. */
export interface TiledShape {
  wg: number;
  rb: number;
  tk: number;
}

export const TILED_SHAPE: TiledShape = { wg: TILE_WG, rb: RB, tk: TK };

/**
 * Workgroup-memory tiles plus register blocking: the workgroup stages a tile×tk slab of op(A) and a
 * tk×tile slab of op(B) (zero-padded past the edges), then each invocation accumulates its rb×rb block
 * from workgroup memory. Global loads walk each operand along its contiguous axis, whatever the
 * transpose, so neighbouring invocations read neighbouring words.
 */
export function matmulTiledWgsl(t: MatmulTemplate, L: KernelLayout, shape: TiledShape = TILED_SHAPE): string {
  const { wg, rb, tk } = shape;
  const tile = wg * rb;
  const threads = wg * wg;
  const loads = Math.ceil((tile * tk) / threads);
  const exact = loads * threads === tile * tk;
  // Element e of the slab load → (row within tile, k within slab), contiguous axis fastest.
  const aCoord = t.transA
    ? `let mm = e % ${tile}u; let kk = e / ${tile}u;`
    : `let kk = e % ${tk}u; let mm = e / ${tk}u;`;
  const aIdx = t.transA ? 'aOff + k * p.M + m' : 'aOff + m * p.K + k';
  const bCoord = t.transB
    ? `let kk = e % ${tk}u; let nn = e / ${tk}u;`
    : `let nn = e % ${tile}u; let kk = e / ${tile}u;`;
  const bIdx = t.transB ? 'bOff + n * p.K + k' : 'bOff + k * p.N + n';
  const rows = range(rb);
  const quads = range(rb / 4);
  const guard = exact ? '' : `if (e >= ${tile * tk}u) { break; }`;
  return `${matmulHeader(t, L)}
var<workgroup> As: array<f32, ${tile * tk}>; // [k][m]
var<workgroup> Bs: array<f32, ${tile * tk}>; // [k][n]

@compute @workgroup_size(${wg}, ${wg})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  ${OFFSETS}
  let tid = lid.y * ${wg}u + lid.x;
  let mBase = wid.y * ${tile}u;
  let nBase = wid.x * ${tile}u;
  let tm = lid.y * ${rb}u;
  let tn = lid.x * ${rb}u;
  var c: array<vec4<f32>, ${rb * (rb / 4)}>;
  // Every invocation stays in the loop (no early return) because the barriers need uniform control flow.
  for (var k0 = 0u; k0 < p.K; k0 = k0 + ${tk}u) {
    for (var l = 0u; l < ${loads}u; l = l + 1u) {
      let e = tid + l * ${threads}u;
      ${guard}
      ${aCoord}
      let m = mBase + mm;
      let k = k0 + kk;
      var v = 0.0;
      if (m < p.M && k < p.K) { v = A[${aIdx}]; }
      As[kk * ${tile}u + mm] = v;
    }
    for (var l = 0u; l < ${loads}u; l = l + 1u) {
      let e = tid + l * ${threads}u;
      ${guard}
      ${bCoord}
      let n = nBase + nn;
      let k = k0 + kk;
      var v = 0.0;
      if (n < p.N && k < p.K) { v = loadB(${bIdx}, k, n); }
      Bs[kk * ${tile}u + nn] = v;
    }
    workgroupBarrier();
    for (var kk = 0u; kk < ${tk}u; kk = kk + 1u) {
      let ar = kk * ${tile}u + tm;
      let br = kk * ${tile}u + tn;
${quads
  .map(
    (q) =>
      `      let b${q} = vec4<f32>(${range(4)
        .map((j) => `Bs[br + ${4 * q + j}u]`)
        .join(', ')});`,
  )
  .join('\n')}
${rows.map((i) => `      let a${i} = vec4<f32>(As[ar + ${i}u]);\n${quads.map((q) => `      c[${i * (rb / 4) + q}] = fma(a${i}, b${q}, c[${i * (rb / 4) + q}]);`).join('\n')}`).join('\n')}
    }
    workgroupBarrier();
  }
  let m0 = mBase + tm;
  let n0 = nBase + tn;
${storeBlock(rb, rb)}
}`;
}

/**
 * 'lanes': the barrier-free register block with columns interleaved across invocations. Invocation x of a
 * row of wgX computes rows m0..m0+rm and columns nTile + x + wgX·j, so at each k the invocations that run
 * side by side (SwiftShader packs 4 consecutive invocations into one SIMD group) read 4 consecutive words
 * of a B row (one vector load instead of a 4-way gather when B is not transposed) and the same A word
 * (one load, broadcast). On hardware GPUs the same layout makes every B load of a warp contiguous.
 */
export function matmulLanesWgsl(
  t: MatmulTemplate,
  L: KernelLayout,
  shape: RegblockShape = LANES_SHAPE,
): string {
  const { wgX, wgY, rm, rn } = shape;
  const a = aAddr(t, 'm0');
  const bb = bAddr(t, 'nT');
  const rows = range(rm);
  const cols = range(rn);
  const _quads = range(rn / 4);
  const stores = rows.map(
    (i) =>
      `  if (m0 + ${i}u < p.M) {\n    let row = oOff + (m0 + ${i}u) * p.N;\n${cols
        .map(
          (j) =>
            `    if (nT + ${wgX * j}u < p.N) { store(row + nT + ${wgX * j}u, c[${i * (rn / 4) + (j >> 2)}][${j & 3}]); }`,
        )
        .join('\n')}\n  }`,
  );
  return `${matmulHeader(t, L)}
@compute @workgroup_size(${wgX}, ${wgY})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let nT = wid.x * ${wgX * rn}u + lid.x;
  let m0 = (wid.y * ${wgY}u + lid.y) * ${rm}u;
  if (m0 >= p.M || nT >= p.N) { return; }
  ${OFFSETS}
${rows.map((i) => `  var ia${i} = ${aAddr(t, `min(m0 + ${i}u, p.M - 1u)`).base};`).join('\n')}
${cols.map((j) => `  let cn${j} = min(nT + ${wgX * j}u, p.N - 1u);\n  var ib${j} = ${bAddr(t, `cn${j}`).base};`).join('\n')}
${registerBlockLoop(rm, rn, a.step, bb.step)}
${stores.join('\n')}
}`;
}
