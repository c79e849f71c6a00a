// WGSL for several matmul *jobs* in one dispatch (matmul-multi.ts): job j writes O_j [M_j, N_j] =
// (O_j if accumulating) + (R_j if it has an addend) + (bias_j per column) + Σ_t alpha_t · op(A_t)·op(B_t),
// each term with its own transposes, K and B storage format. The workgroups are split among the jobs
// (job j owns a contiguous run of tiles, its end in the uniforms); each invocation computes a register block
// of one job straight from global memory, barrier-free, in one of two loop styles: 'block' (matmul.wgsl.ts's
// regblock: 8×8 per invocation, any B format) or 'quad' (matmul-quad.wgsl.ts's layout: the lanes of a
// subgroup quad share rows and interleave columns, every load four consecutive words; f32 B). Edge rows,
// columns (and, in quads, k) are clamped or zeroed for loading and dropped at the store. Every job and term is generated as
// its own code (no binding chosen at run time), so the kernel text depends on the jobs' structure only;
// sizes, K and alphas are uniforms.

import type { BaseDtype } from '../../util/quant';
import type { KernelLayout } from './bindings';
import { weightReaderDecls, weightReaderFn } from './dequant.wgsl';
import { range } from './matmul.wgsl';
import { quadTransposeB } from './matmul-quad.wgsl';

/** One product of a job as the kernel text sees it. */
export interface TermTemplate {
  transA: boolean;
  transB: boolean;
  bDtype: BaseDtype;
  /** Which index of op(B) is B's output channel (int8's scales); 'n' unless int8. */
  bChan: 'k' | 'n';
  /** alpha ≠ 1: A's words are scaled as they load. */
  scaled: boolean;
}

export interface JobTemplate {
  terms: TermTemplate[];
  accumulate: boolean;
  addend: boolean;
  bias: boolean;
  /** Quad style only: 2 columns per lane (8 per quad) for LoRA's narrow outputs, else 8 (32 per quad). */
  narrow?: boolean;
  /**
   * Quad style only: the job's output is whole tiles, so its stores go unchecked (SwiftShader runs any
   * test after the k loop at 2-4× the cost of straight stores when K is small; matmul-quad.wgsl.ts).
   */
  exact?: boolean;
}

/**
 * 'block': 8×8 invocations, each an 8×8 register block (matmul.wgsl.ts's regblock). 'quad': 4×8
 * invocations whose quads share rows and interleave columns, every load four consecutive words, A words
 * handed round by quadBroadcast (matmul-quad.wgsl.ts's layout; needs `subgroups`, f32 B only).
 */
export type MultiStyle = 'block' | 'quad';

/** Quad style: rows per invocation, invocations along y, columns per lane (wide / narrow). */
export const QUAD_RM = 16;
export const QUAD_WGY = 8;
export const quadRn = (narrow: boolean | undefined): number => (narrow ? 2 : 8);

/** Output columns and rows one workgroup of a job covers. */
export function multiTile(style: MultiStyle, job: JobTemplate): [number, number] {
  return style === 'quad' ? [4 * quadRn(job.narrow), QUAD_WGY * QUAD_RM] : [MULTI_TILE, MULTI_TILE];
}

/** Invocations per workgroup (x = columns, y = rows) and outputs per invocation (rows, columns). */
export const MULTI_WG = 8;
export const MULTI_RM = 8;
export const MULTI_RN = 8;
/** Output elements one workgroup covers along each axis. */
export const MULTI_TILE = MULTI_WG * MULTI_RM;

/** Logical binding names (resolved through KernelLayout.id, which merges aliases). */
export const names = {
  a: (j: number, t: number) => `A${j}_${t}`,
  b: (j: number, t: number) => `B${j}_${t}`,
  s: (j: number, t: number) => `S${j}_${t}`,
  out: (j: number) => `O${j}`,
  addend: (j: number) => `R${j}`,
  bias: (j: number) => `Bi${j}`,
};

/** Kernel-key text of a job structure: two structures with one key generate the same WGSL. */
export const jobsKey = (style: MultiStyle, jobs: JobTemplate[]): string =>
  style +
  ':' +
  jobs
    .map(
      (j) =>
        `${j.terms.map((t) => `${t.transA ? 't' : 'n'}${t.transB ? 't' : 'n'}${t.bDtype}${t.bDtype === 'int8' ? t.bChan : ''}${t.scaled ? 's' : ''}`).join('+')}${j.accumulate ? 'a' : ''}${j.addend ? 'r' : ''}${j.bias ? 'b' : ''}${j.narrow ? 'w' : ''}${j.exact ? 'x' : ''}`,
    )
    .join('|');

/** The uniform struct: per job M, N, tiles along x, end of its tile run; per term K, alpha; then gridX. */
function uniformStruct(jobs: JobTemplate[]): string {
  const f: string[] = ['gridX: u32'];
  jobs.forEach((job, j) => {
    f.push(`m${j}: u32`, `n${j}: u32`, `g${j}: u32`, `e${j}: u32`);
    job.terms.forEach((_, t) => {
      f.push(`k${j}_${t}: u32`, `al${j}_${t}: f32`);
    });
  });
  return `struct P { ${f.join(', ')} };`;
}

/** The K loop of one term into the block accumulators c. */
function termLoop(j: number, t: number, tt: TermTemplate, id: Record<string, string>): string {
  const M = `p.m${j}`;
  const N = `p.n${j}`;
  const K = `p.k${j}_${t}`;
  const A = id[names.a(j, t)];
  const aBase = (m: string) => (tt.transA ? m : `${m} * ${K}`);
  const aStep = tt.transA ? M : '1u';
  const bBase = (n: string) => (tt.transB ? `${n} * ${K}` : n);
  const bStep = tt.transB ? '1u' : N;
  const rd = `rdB${j}_${t}`;
  const chan = (j2: number) => (tt.bChan === 'k' ? 'k' : `cn${j2}`);
  const quads = range(MULTI_RN / 4);
  const aw = (i: number) => (tt.scaled ? `${A}[ia${i}] * al` : `${A}[ia${i}]`);
  return `  {
${tt.scaled ? `    let al = p.al${j}_${t};` : ''}
${range(MULTI_RM)
  .map((i) => `    var ia${i} = ${aBase(`min(m0 + ${i}u, ${M} - 1u)`)};`)
  .join('\n')}
${range(MULTI_RN)
  .map((c) => `    var ib${c} = ${bBase(`cn${c}`)};`)
  .join('\n')}
    for (var k = 0u; k < ${K}; k = k + 1u) {
${quads
  .map(
    (q) =>
      `      let b${q} = vec4<f32>(${range(4)
        .map((x) => `${rd}(ib${4 * q + x}, ${chan(4 * q + x)})`)
        .join(', ')});`,
  )
  .join('\n')}
${range(MULTI_RM)
  .map(
    (i) =>
      `      let a${i} = vec4<f32>(${aw(i)});\n${quads.map((q) => `      c[${i * (MULTI_RN / 4) + q}] = fma(a${i}, b${q}, c[${i * (MULTI_RN / 4) + q}]);`).join('\n')}`,
  )
  .join('\n')}
${range(MULTI_RM)
  .map((i) => `      ia${i} = ia${i} + ${aStep};`)
  .join('\n')}
${range(MULTI_RN)
  .map((c) => `      ib${c} = ib${c} + ${bStep};`)
  .join('\n')}
    }
  }`;
}

/** Stores one output of job j: the product plus the old value, the addend and the bias as it has them. */
function putFn(j: number, job: JobTemplate, id: Record<string, string>): string {
  const O = id[names.out(j)];
  const extra = [
    job.accumulate ? `v = v + ${O}[i];` : '',
    job.addend ? `v = v + ${id[names.addend(j)]}[i];` : '',
    job.bias ? `v = v + ${id[names.bias(j)]}[col];` : '',
  ].join(' ');
  return `fn put${j}(i: u32, col: u32, x: f32) {
  var v = x; ${extra}
  ${O}[i] = v;
}`;
}

/** Block style: one job's function: its tile from the job-local tile index, its terms, its stores. */
function jobFn(j: number, job: JobTemplate, id: Record<string, string>): string {
  const quads = range(MULTI_RN / 4);
  const stores = range(MULTI_RM).map(
    (i) =>
      `  if (m0 + ${i}u < p.m${j}) { let row = (m0 + ${i}u) * p.n${j}; ${quads
        .map((q) => `st${j}(row, n0 + ${4 * q}u, c[${i * (MULTI_RN / 4) + q}]);`)
        .join(' ')} }`,
  );
  return `
${putFn(j, job, id)}
fn st${j}(row: u32, n: u32, v: vec4<f32>) {
  for (var x = 0u; x < 4u; x = x + 1u) {
    if (n + x < p.n${j}) { put${j}(row + n + x, n + x, v[x]); }
  }
}
fn job${j}(tile: u32, lid: vec3<u32>) {
  let tx = tile % p.g${j};
  let ty = tile / p.g${j};
  let n0 = (tx * ${MULTI_WG}u + lid.x) * ${MULTI_RN}u;
  let m0 = (ty * ${MULTI_WG}u + lid.y) * ${MULTI_RM}u;
  if (m0 >= p.m${j} || n0 >= p.n${j}) { return; }
${range(MULTI_RN)
  .map((c) => `  let cn${c} = min(n0 + ${c}u, p.n${j} - 1u);`)
  .join('\n')}
  var c: array<vec4<f32>, ${MULTI_RM * (MULTI_RN / 4)}>;
${job.terms.map((tt, t) => termLoop(j, t, tt, id)).join('\n')}
${stores.join('\n')}
}`;
}

/**
 * Quad style: one term's K loop (four k per step) into the accumulators c{i}_{j}. Lane l of a quad reads
 * A(row i, k+l) (transA: A(k+kk, row 4g+l)) and quadBroadcast hands each word round; B [K,N] is read at
 * the lane's own column, B [N,K] along K and turned into columns by a 4×4 transpose in the quad.
 */
function quadTermLoop(
  j: number,
  t: number,
  tt: TermTemplate,
  id: Record<string, string>,
  rn: number,
): string {
  const M = `p.m${j}`;
  const N = `p.n${j}`;
  const K = `p.k${j}_${t}`;
  const A = id[names.a(j, t)];
  const B = id[names.b(j, t)];
  const rm = QUAD_RM;
  const rows = range(rm);
  const cols = range(rn);
  const aStarts = tt.transA
    ? range(rm / 4).map((g) => `    let ra${g} = min(m0 + ${4 * g}u + l, ${M} - 1u);`)
    : rows.map((i) => `    let ra${i} = min(m0 + ${i}u, ${M} - 1u) * ${K};`);
  const bStarts = tt.transB
    ? range(4 * rn).map((c) => `    let rb${c} = min(nBase + ${c}u, ${N} - 1u) * ${K};`)
    : cols.map((c) => `    let cn${c} = min(nBase + ${4 * c}u + l, ${N} - 1u);`);
  const aLoads = tt.transA
    ? range(4)
        .flatMap((kk) =>
          range(rm / 4).map(
            (g) =>
              `      let at${g}_${kk} = select(0.0, ${A}[min(k + ${kk}u, ${K} - 1u) * ${M} + ra${g}], k + ${kk}u < ${K});`,
          ),
        )
        .join('\n')
    : rows.map((i) => `      let av${i} = select(0.0, ${A}[ra${i} + kl], kin);`).join('\n');
  const aWord = (i: number, kk: number) =>
    tt.transA ? `quadBroadcast(at${i >> 2}_${kk}, ${i & 3}u)` : `quadBroadcast(av${i}, ${kk}u)`;
  const bLoads = tt.transB
    ? cols
        .map((c) =>
          quadTransposeB(
            c,
            range(4).map((q) => `select(0.0, ${B}[rb${4 * c + q} + kl], kin)`),
            '      ',
          ),
        )
        .join('\n')
    : range(4)
        .flatMap((kk) =>
          cols.map(
            (c) =>
              `      let bn${c}_${kk} = select(0.0, ${B}[min(k + ${kk}u, ${K} - 1u) * ${N} + cn${c}], k + ${kk}u < ${K});`,
          ),
        )
        .join('\n');
  const bWord = (c: number, kk: number) => (tt.transB ? `bt${c}[${kk}]` : `bn${c}_${kk}`);
  const fmas = range(4)
    .map((kk) =>
      rows
        .map(
          (i) =>
            `      { let a = ${aWord(i, kk)}${tt.scaled ? ' * al' : ''}; ${cols.map((c) => `c${i}_${c} = fma(a, ${bWord(c, kk)}, c${i}_${c});`).join(' ')} }`,
        )
        .join('\n'),
    )
    .join('\n');
  return `  {
${tt.scaled ? `    let al = p.al${j}_${t};` : ''}
${aStarts.join('\n')}
${bStarts.join('\n')}
    for (var k = 0u; k < ${K}; k = k + 4u) {
      let kl = min(k + l, ${K} - 1u);
      let kin = k + l < ${K};
${aLoads}
${bLoads}
${fmas}
    }
  }`;
}

/** Quad style: one job's function. A quad returns early only as a whole (its lanes share m0). */
function quadJobFn(j: number, job: JobTemplate, id: Record<string, string>): string {
  const rn = quadRn(job.narrow);
  const rows = range(QUAD_RM);
  const cols = range(rn);
  const stores = job.exact
    ? rows.map(
        (i) =>
          `  { let row = (m0 + ${i}u) * p.n${j}; ${cols.map((c) => `put${j}(row + nBase + ${4 * c}u + l, nBase + ${4 * c}u + l, c${i}_${c});`).join(' ')} }`,
      )
    : rows.map(
        (i) =>
          `  if (m0 + ${i}u < p.m${j}) { let row = (m0 + ${i}u) * p.n${j}; ${cols.map((c) => `if (nBase + ${4 * c}u + l < p.n${j}) { put${j}(row + nBase + ${4 * c}u + l, nBase + ${4 * c}u + l, c${i}_${c}); }`).join(' ')} }`,
      );
  return `
${putFn(j, job, id)}
fn job${j}(tile: u32, lid: vec3<u32>) {
  let l = lid.x;
  let ev = (l & 1u) == 0u;
  let lo = (l & 2u) == 0u;
  let tx = tile % p.g${j};
  let ty = tile / p.g${j};
  let nBase = tx * ${4 * rn}u;
  let m0 = (ty * ${QUAD_WGY}u + lid.y) * ${QUAD_RM}u;
  ${job.exact ? '' : `if (m0 >= p.m${j}) { return; }`}
${rows.map((i) => `  var ${cols.map((c) => `c${i}_${c} = 0.0`).join('; var ')};`).join('\n')}
${job.terms.map((tt, t) => quadTermLoop(j, t, tt, id, rn)).join('\n')}
${stores.join('\n')}
}`;
}

export function matmulMultiWgsl(style: MultiStyle, jobs: JobTemplate[], L: KernelLayout): string {
  const dtypes = new Set<BaseDtype>();
  const readers: string[] = [];
  jobs.forEach((job, j) => {
    job.terms.forEach((tt, t) => {
      dtypes.add(tt.bDtype);
      const sc = tt.bDtype === 'int8' || tt.bDtype === 'nf4' ? L.id[names.s(j, t)] : null;
      readers.push(weightReaderFn(`rdB${j}_${t}`, tt.bDtype, L.id[names.b(j, t)], sc));
    });
  });
  const dispatchJobs = jobs
    .map((_, j) => `  if (w < p.e${j}) { job${j}(w${j === 0 ? '' : ` - p.e${j - 1}`}, lid); return; }`)
    .join('\n');
  const quad = style === 'quad';
  // As in matmul-quad.wgsl.ts: quads return as a whole, all quad operations need.
  return `${quad ? 'enable subgroups;\ndiagnostic(off, subgroup_uniformity);\n' : ''}${uniformStruct(jobs)}
${L.decls('P')}
${quad ? '' : [...dtypes].map(weightReaderDecls).join('\n')}
${quad ? '' : readers.join('\n')}
${jobs.map((job, j) => (quad ? quadJobFn(j, job, L.id) : jobFn(j, job, L.id))).join('\n')}

@compute @workgroup_size(${quad ? `4, ${QUAD_WGY}` : `${MULTI_WG}, ${MULTI_WG}`})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let w = wid.y * p.gridX + wid.x;
${dispatchJobs}
}`;
}
