// WGSL for the 'quad' matmul variants: barrier-free register blocks in which the four invocations of a
// quad (subgroup lanes 4q..4q+3) share their rows and interleave their columns, and every global load is
// one the four lanes make side by side on four consecutive words. Needs the `subgroups` feature (quad
// operations); B plain f32 (matmul.ts routes other calls elsewhere).
//
// Why: SwiftShader runs four consecutive invocations as one SIMD group and checks every storage load at run
// time: four equal addresses cost one scalar load, four consecutive words one vector load, anything else a
// per-lane gather. The 'lanes' variant already reads B rows as vectors but fetches each A word once per k
// for all four lanes (the equal-address path, one check per word). Here each lane reads a different one of
// four consecutive k (or rows) of A and quadBroadcast hands the word to the others, so A costs a quarter of
// the loads; B stored [N,K] (transB: x·Wᵀ with an [out,in] weight, the model's forward) is read along K the
// same way and turned into the lanes' columns by a 4×4 transpose within the quad (two swap rounds). Larger
// blocks than the lanes variant's then pay: 16 rows × 8 columns per invocation, 2-3× 'lanes' there.
//
// Layouts as in matmul.wgsl.ts. Edges: rows, columns and k past the matrix are clamped for loading, k
// past K reads zero in both operands, and outputs past M×N are not stored. Quad operations need all four
// lanes, so an invocation only returns early with its whole quad: when the quad's rows all lie past M.

import type { KernelLayout } from './bindings';
import { type MatmulTemplate, matmulHeader, OFFSETS, range } from './matmul.wgsl';

/** Invocations per workgroup along y (x is the quad: 4), rows and columns per invocation. */
export interface QuadShape {
  wgY: number;
  /** Rows per invocation, a multiple of 4 (op(A)ᵀ is read four rows at a time). */
  rm: number;
  /** Columns per invocation; invocation l of the quad owns columns nBase + 4j + l. */
  rn: number;
}

/** Square and wide products: a 32-column × 128-row tile per workgroup of 32 invocations. */
export const QUAD_SHAPE: QuadShape = { wgY: 8, rm: 16, rn: 8 };
/** LoRA's narrow outputs (N = r): 8 columns per quad, so at r = 8 no lane loads a clamped column. */
export const QUAD_NARROW_SHAPE: QuadShape = { wgY: 8, rm: 16, rn: 2 };

/** Columns and rows of output one workgroup covers. */
export const quadTile = (s: QuadShape): [number, number] => [4 * s.rn, s.wgY * s.rm];

/**
 * A's words for the four k of one step, as `a{i}_{kk}` expressions: without transpose lane l reads
 * A(row i, k+l) and quadBroadcast(·, kk) gives every lane A(row i, k+kk); with transA lane l reads
 * A(k+kk, row 4g+l) and quadBroadcast(·, c) gives row 4g+c.
 */
function loadA(t: MatmulTemplate, rm: number): { loads: string; word: (i: number, kk: number) => string } {
  if (!t.transA) {
    return {
      loads: range(rm)
        .map((i) => `    let av${i} = select(0.0, A[ra${i} + kl], kin);`)
        .join('\n'),
      word: (i, kk) => `quadBroadcast(av${i}, ${kk}u)`,
    };
  }
  const groups = range(rm / 4);
  const loads = range(4).flatMap((kk) =>
    groups.map(
      (g) =>
        `    let at${g}_${kk} = select(0.0, A[aOff + min(k + ${kk}u, p.K - 1u) * p.M + ra${g}], k + ${kk}u < p.K);`,
    ),
  );
  return {
    loads: loads.join('\n'),
    word: (i, kk) => `quadBroadcast(at${i >> 2}_${kk}, ${i & 3}u)`,
  };
}

/**
 * B's words for the four k of one step, as `b{j}` at kk: without transpose lane l reads row k+kk at its
 * column (four consecutive words across the quad); with transB lane l reads k+l of the quad's four columns
 * 4j..4j+3, then the 4×4 transpose leaves lane l its own column's four k in bt{j}.
 */
function loadB(t: MatmulTemplate, rn: number): { loads: string; word: (j: number, kk: number) => string } {
  if (!t.transB) {
    const loads = range(4).flatMap((kk) =>
      range(rn).map(
        (j) =>
          `    let bn${j}_${kk} = select(0.0, loadB(bOff + min(k + ${kk}u, p.K - 1u) * p.N + cn${j}, k + ${kk}u, cn${j}), k + ${kk}u < p.K);`,
      ),
    );
    return { loads: loads.join('\n'), word: (j, kk) => `bn${j}_${kk}` };
  }
  const loads = range(rn).map((j) =>
    quadTransposeB(
      j,
      range(4).map((c) => `select(0.0, loadB(rb${4 * j + c} + kl, k + l, nBase + ${4 * j + c}u), kin)`),
      '    ',
    ),
  );
  return { loads: loads.join('\n'), word: (j, kk) => `bt${j}[${kk}]` };
}

/**
 * One column group j of a B stored [N,K], turned into the lanes' columns (also matmul-multi.wgsl.ts's quad
 * loops): `x` are the four loads X[lane][c] = B(col 4j+c, k+lane); the result bt{j} holds, in lane l, its
 * own column's four k: Y[lane][kk] = X[kk][lane], by swapping across lane bit 0 (quadSwapX) then bit 1
 * (quadSwapY). Needs `ev` / `lo` (lane bit 0 / bit 1 clear) in scope.
 */
export function quadTransposeB(j: number, x: string[], indent: string): string {
  return [
    `let x${j}_0 = ${x[0]}; let x${j}_1 = ${x[1]}; let x${j}_2 = ${x[2]}; let x${j}_3 = ${x[3]};`,
    `let r${j}_0 = quadSwapX(select(x${j}_0, x${j}_1, ev)); let r${j}_2 = quadSwapX(select(x${j}_2, x${j}_3, ev));`,
    `let z${j}_0 = select(r${j}_0, x${j}_0, ev); let z${j}_1 = select(x${j}_1, r${j}_0, ev);`,
    `let z${j}_2 = select(r${j}_2, x${j}_2, ev); let z${j}_3 = select(x${j}_3, r${j}_2, ev);`,
    `let s${j}_0 = quadSwapY(select(z${j}_0, z${j}_2, lo)); let s${j}_1 = quadSwapY(select(z${j}_1, z${j}_3, lo));`,
    `let bt${j} = vec4<f32>(select(s${j}_0, z${j}_0, lo), select(s${j}_1, z${j}_1, lo), select(z${j}_2, s${j}_0, lo), select(z${j}_3, s${j}_1, lo));`,
  ]
    .map((line) => indent + line)
    .join('\n');
}

export function matmulQuadWgsl(t: MatmulTemplate, L: KernelLayout, shape: QuadShape = QUAD_SHAPE): string {
  const { wgY, rm, rn } = shape;
  const rows = range(rm);
  const cols = range(rn);
  // Per-row / per-column starts, clamped into the matrix, computed once outside the k loop.
  const aStarts = t.transA
    ? range(rm / 4).map((g) => `  let ra${g} = min(m0 + ${4 * g}u + l, p.M - 1u);`)
    : rows.map((i) => `  let ra${i} = aOff + min(m0 + ${i}u, p.M - 1u) * p.K;`);
  const bStarts = t.transB
    ? range(4 * rn).map((c) => `  let rb${c} = bOff + min(nBase + ${c}u, p.N - 1u) * p.K;`)
    : cols.map((j) => `  let cn${j} = min(nBase + ${4 * j}u + l, p.N - 1u);`);
  const a = loadA(t, rm);
  const b = loadB(t, rn);
  const fmas = range(4).map((kk) =>
    rows
      .map(
        (i) =>
          `    { let a = ${a.word(i, kk)}; ${cols.map((j) => `c${i}_${j} = fma(a, ${b.word(j, kk)}, c${i}_${j});`).join(' ')} }`,
      )
      .join('\n'),
  );
  // Stores. SwiftShader measured any control flow after the k loop (an edge test per row or element, or
  // one around the block, or the accumulate test) at 2-4× the cost of straight stores when K is small
  // (x·A·B's K = r), so matmul.ts specialises on what it knows: whole tiles store unchecked, and the
  // accumulate flag is code, not a test. Ragged outputs keep the per-element checks.
  const at = (i: number, j: number) => `oOff + (m0 + ${i}u) * p.N + nBase + ${4 * j}u + l`;
  const value = (i: number, j: number) =>
    t.acc ? `p.alpha * c${i}_${j} + O[${at(i, j)}]` : `p.alpha * c${i}_${j}`;
  const stores = t.exact
    ? rows.map((i) => `  ${cols.map((j) => `O[${at(i, j)}] = ${value(i, j)};`).join(' ')}`)
    : rows.map(
        (i) =>
          `  if (m0 + ${i}u < p.M) { ${cols.map((j) => `if (nBase + ${4 * j}u + l < p.N) { O[${at(i, j)}] = ${value(i, j)}; }`).join(' ')} }`,
      );
  return `enable subgroups;
diagnostic(off, subgroup_uniformity);
${matmulHeader(t, L)}
@compute @workgroup_size(4, ${wgY})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let l = lid.x;
  let ev = (l & 1u) == 0u;
  let lo = (l & 2u) == 0u;
  let nBase = wid.x * ${4 * rn}u;
  let m0 = (wid.y * ${wgY}u + lid.y) * ${rm}u;
  ${t.exact ? '' : 'if (m0 >= p.M) { return; }'}
  ${OFFSETS}
${aStarts.join('\n')}
${bStarts.join('\n')}
${rows.map((i) => `  var ${cols.map((j) => `c${i}_${j} = 0.0`).join(`; var `)};`).join('\n')}
  for (var k = 0u; k < p.K; k = k + 4u) {
    let kl = min(k + l, p.K - 1u);
    let kin = k + l < p.K;
${a.loads}
${b.loads}
${fmas.join('\n')}
  }
${stores.join('\n')}
}`;
}
