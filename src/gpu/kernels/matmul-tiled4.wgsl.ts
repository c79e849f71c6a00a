// WGSL for 'tiled4', the matmul family's hardware-class variant: workgroup-memory tiles of op(A) and op(B)
// staged with vec4 global loads (where the contiguous axis allows, see MatmulTemplate.vecA/vecB), held in
// workgroup memory as vec4s so each step of the inner loop is two vec4 reads and 16 FMAs, and double
// buffered: the next K slab is fetched into registers while the current one is multiplied, so there is one
// barrier per slab instead of two. Same contract as the other variants (matmul.wgsl.ts: transposes, batch
// strides, alpha, accumulate, B in any stored format widened on load). SwiftShader pays dearly for
// barriers, so it loses there; it is written for discrete and integrated GPUs and chosen by the autotune.

import type { KernelLayout } from './bindings';
import { type MatmulTemplate, matmulHeader, OFFSETS, range, storeBlock } from './matmul.wgsl';

/** Invocations per side of the square workgroup, and the depth of one K slab. Each invocation owns 4×4. */
export interface Tiled4Shape {
  wg: number;
  tk: number;
}

/** 16×16 invocations → a 64×64 output tile; 8-deep slabs keep both buffers at 4 KiB each (16 KiB total). */
export const TILED4_SHAPE: Tiled4Shape = { wg: 16, tk: 8 };

/**
 * The loader of one operand's slab: which quad of 4 consecutive stored elements each register holds, and
 * how it lands in workgroup memory (whole vec4 when the stored contiguous axis is the tile's vec4 axis,
 * else scattered to 4 vec4s, one component each).
 */
function slabLoader(
  who: 'A' | 'B',
  t: MatmulTemplate,
  L: KernelLayout,
  tile: number,
  tk: number,
  threads: number,
): { load: string; store: string; regs: number } {
  const quads = (tile * tk) / 4;
  const regs = Math.ceil(quads / threads);
  // "along": the stored contiguous axis is the tile's axis (m for A, n for B), else it is k.
  const along = who === 'A' ? t.transA : !t.transB;
  const vec = who === 'A' ? t.vecA : t.vecB;
  const tileQ = tile / 4;
  const kQ = tk / 4;
  const base = who === 'A' ? 'mBase' : 'nBase';
  const lim = who === 'A' ? 'p.M' : 'p.N';
  // Stored flat index of (row r of the tile axis, k) and the scalar read of one element.
  const flat = (r: string, k: string) =>
    who === 'A'
      ? t.transA
        ? `aOff + ${k} * p.M + ${r}`
        : `aOff + ${r} * p.K + ${k}`
      : t.transB
        ? `bOff + ${r} * p.K + ${k}`
        : `bOff + ${k} * p.N + ${r}`;
  const src = who === 'A' ? L.id.A : L.id.B;
  const read = (r: string, k: string) =>
    who === 'A' ? `${src}[${flat(r, k)}]` : `loadB(${flat(r, k)}, ${k}, ${r})`;
  const lines: string[] = [];
  const stores: string[] = [];
  for (let l = 0; l < regs; l++) {
    const e = `(tid + ${l * threads}u)`;
    const guard = (l + 1) * threads > quads ? `if (${e} < ${quads}u) ` : '';
    // (r, k) of the quad's first element; the quad runs along r ("along") or along k.
    const rk = along
      ? `let r = ${base} + (${e} % ${tileQ}u) * 4u; let k = k0 + ${e} / ${tileQ}u;`
      : `let r = ${base} + ${e} / ${kQ}u; let k = k0 + (${e} % ${kQ}u) * 4u;`;
    const inb = `r < ${lim} && k < p.K`;
    let body: string;
    if (vec) {
      // Aligned (matmul.ts checks): a quad is wholly inside or wholly outside the matrix.
      body = `if (${inb}) { r${who}${l} = ${src}[(${flat('r', 'k')}) >> 2u]; }`;
    } else {
      const comps = range(4).map((j) => {
        const rr = along ? `r + ${j}u` : 'r';
        const kk = along ? 'k' : `k + ${j}u`;
        return `if (${rr} < ${lim} && ${kk} < p.K) { r${who}${l}[${j}] = ${read(rr, kk)}; }`;
      });
      body = comps.join(' ');
    }
    lines.push(`    ${guard}{ ${rk} r${who}${l} = vec4<f32>(0.0); ${body} }`);
    // Into workgroup memory: slab [k][tile/4] of vec4 along the tile axis, buffer `buf`.
    const sr = along
      ? `let kk = ${e} / ${tileQ}u; ${who}s[(buf * ${tk}u + kk) * ${tileQ}u + ${e} % ${tileQ}u] = r${who}${l};`
      : `let rr = ${e} / ${kQ}u; let kq = (${e} % ${kQ}u) * 4u;\n${range(4)
          .map(
            (j) =>
              `      ${who}s[(buf * ${tk}u + kq + ${j}u) * ${tileQ}u + rr / 4u][rr % 4u] = r${who}${l}[${j}];`,
          )
          .join('\n')}`;
    stores.push(`    ${guard}{ ${sr} }`);
  }
  return { load: lines.join('\n'), store: stores.join('\n'), regs };
}

export function matmulTiled4Wgsl(
  t: MatmulTemplate,
  L: KernelLayout,
  shape: Tiled4Shape = TILED4_SHAPE,
): string {
  const { wg, tk } = shape;
  const tile = wg * 4;
  const threads = wg * wg;
  const A = slabLoader('A', t, L, tile, tk, threads);
  const B = slabLoader('B', t, L, tile, tk, threads);
  const regDecls = [
    ...range(A.regs).map((l) => `  var rA${l}: vec4<f32>;`),
    ...range(B.regs).map((l) => `  var rB${l}: vec4<f32>;`),
  ].join('\n');
  const slab = tk * (tile / 4);
  return `${matmulHeader(t, L)}
// Two buffers of one slab each: [buffer][k][tile/4] vec4s along m (As) or n (Bs).
var<workgroup> As: array<vec4<f32>, ${2 * slab}>;
var<workgroup> Bs: array<vec4<f32>, ${2 * slab}>;

@compute @workgroup_size(${wg}, ${wg})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  ${OFFSETS}
  let tid = lid.y * ${wg}u + lid.x;
  let mBase = wid.y * ${tile}u;
  let nBase = wid.x * ${tile}u;
${regDecls}
  var c: array<vec4<f32>, 4>;
  let slabs = (p.K + ${tk - 1}u) / ${tk}u;
  // Slab 0 into buffer 0. Every invocation stays in the loop (no early return): barriers need uniform flow.
  var k0 = 0u;
  var buf = 0u;
  {
${A.load}
${B.load}
${A.store}
${B.store}
  }
  workgroupBarrier();
  for (var s = 0u; s < slabs; s = s + 1u) {
    let cur = s & 1u;
    let more = s + 1u < slabs;
    // Fetch the next slab into registers first, so its global latency overlaps the FMAs below.
    if (more) {
      k0 = (s + 1u) * ${tk}u;
${A.load}
${B.load}
    }
    for (var kk = 0u; kk < ${tk}u; kk = kk + 1u) {
      let a = As[(cur * ${tk}u + kk) * ${tile / 4}u + lid.y];
      let b = Bs[(cur * ${tk}u + kk) * ${tile / 4}u + lid.x];
${range(4)
  .map((i) => `      c[${i}] = fma(vec4<f32>(a[${i}]), b, c[${i}]);`)
  .join('\n')}
    }
    // The other buffer was last read in the previous slab, which the barrier below it closed.
    if (more) {
      buf = 1u - cur;
${A.store}
${B.store}
    }
    workgroupBarrier();
  }
  let m0 = mBase + lid.y * 4u;
  let n0 = nBase + lid.x * 4u;
${storeBlock(4, 4)}
}`;
}
