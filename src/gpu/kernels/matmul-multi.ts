// Several matmuls in one dispatch (WGSL in matmul-multi.wgsl.ts): each *job* writes its own output
//   out_j [M_j, N_j] = (out_j if accumulate) + (addend_j) + (bias_j per column) + Σ_t alpha_t·op(A_t)·op(B_t)
// with 1..MULTI_MAX_TERMS terms of their own K, transposes and B format (f32 or a frozen weight's
// f16/bf16/int8/nf4, as matmul.ts). What it is for: a shared input projected several ways (q/k/v, gate/up,
// LoRA's x·Aᵀ of sites that read one input) and sums of products into one gradient (dx through q, k and v),
// plus the residual folded into a projection (x + a·W, the addend). A training step records far fewer
// dispatches that way (tensor/matmul-queue.ts groups the tape's matmuls into these calls). Jobs must be
// independent: no job may read or write what another writes. Distinct storage bindings are limited by the
// device (maxStorageBuffersPerShaderStage), which callers packing jobs (matmul-queue.ts) respect.

import { elemsPerWord, NF4_BLOCK, type WeightFormat } from '../../util/quant';
import type { GpuRegion } from '../arena';
import { regionParts } from '../arena';
import { type GpuContext, Uniforms } from '../context';
import { GpuKernelError } from '../errors';
import { type BindingSpec, memoKernel, planBindings } from './bindings';
import { bChannel, SKINNY } from './matmul';
import {
  type JobTemplate,
  jobsKey,
  type MultiStyle,
  matmulMultiWgsl,
  multiTile,
  names,
} from './matmul-multi.wgsl';

export type { MultiStyle };

/** One product of a job: alpha·op(A)[M,K]·op(B)[K,N]. */
export interface MatmulTerm<S = GpuRegion> {
  a: S;
  b: S;
  K: number;
  /** A stored [K,M] instead of [M,K]. */
  transA?: boolean;
  /** B stored [N,K] instead of [K,N]. */
  transB?: boolean;
  /** Default 1. */
  alpha?: number;
  /** How B is stored when it is a frozen weight (as MatmulArgs.bFormat); null/absent: f32. */
  bFormat?: WeightFormat<S> | null;
}

export interface MatmulJob<S = GpuRegion> {
  out: S;
  M: number;
  N: number;
  terms: MatmulTerm<S>[];
  /** out += … instead of out = …. */
  accumulate?: boolean;
  /** [M, N] added to the result (a residual): out = addend + …; it may be `out` itself. */
  addend?: S | null;
  /** [N] added to every row. */
  bias?: S | null;
}

export interface MatmulMultiArgs<S = GpuRegion> {
  jobs: MatmulJob<S>[];
  /**
   * GPU only: the loops' style (matmul-multi.wgsl.ts), default 'block'; 'quad' needs the `subgroups`
   * feature and every B plain f32 (what matmul.ts's quad variants need).
   */
  style?: MultiStyle;
}

/** Terms per job: each is its own generated K loop. */
export const MULTI_MAX_TERMS = 4;
/** Jobs per dispatch (the uniforms' 256 bytes and the kernel's size). */
export const MULTI_MAX_JOBS = 6;

/** The storage bindings of a call, in declaration order (before aliases are merged). */
function bindingSpecs(jobs: MatmulJob[]): BindingSpec[] {
  const specs: BindingSpec[] = [];
  jobs.forEach((job, j) => {
    job.terms.forEach((t, i) => {
      specs.push({ name: names.a(j, i), region: t.a, write: false });
      const packed = t.bFormat && t.bFormat.dtype !== 'f32';
      specs.push({ name: names.b(j, i), region: t.b, write: false, type: packed ? 'array<u32>' : undefined });
      if (t.bFormat?.scales) specs.push({ name: names.s(j, i), region: t.bFormat.scales, write: false });
    });
    if (job.addend) specs.push({ name: names.addend(j), region: job.addend, write: false });
    if (job.bias) specs.push({ name: names.bias(j), region: job.bias, write: false });
  });
  jobs.forEach((job, j) => {
    specs.push({ name: names.out(j), region: job.out, write: true });
  });
  return specs;
}

/** Bytes of a call's uniforms (4 per field: gridX; per job M, N, tiles, end; per term K, alpha). */
export const multiUniformBytes = (jobs: ReadonlyArray<{ terms: readonly unknown[] }>): number =>
  4 * (1 + jobs.reduce((n, j) => n + 4 + 2 * j.terms.length, 0));

/** The device's storage-binding limit per stage. */
export const multiBindingLimit = (ctx: GpuContext): number => ctx.limits.maxStorageBuffersPerShaderStage;

const isUint = (v: number) => Number.isInteger(v) && v >= 0 && v < 2 ** 32;

type Parts = ReturnType<typeof regionParts>;

const meets = (a: Parts, b: Parts): boolean =>
  a.buffer === b.buffer && a.offset < b.offset + b.size && b.offset < a.offset + a.size;

const overlaps = (x: GpuRegion, y: GpuRegion): boolean => meets(regionParts(x), regionParts(y));

function template(job: MatmulJob): JobTemplate {
  return {
    terms: job.terms.map((t) => {
      const bDtype = t.bFormat?.dtype ?? 'f32';
      const transB = t.transB ?? false;
      return {
        transA: t.transA ?? false,
        transB,
        bDtype,
        bChan: bDtype === 'int8' ? bChannel(transB, t.bFormat?.layout ?? 'out_in') : 'n',
        scaled: (t.alpha ?? 1) !== 1,
      };
    }),
    accumulate: !!job.accumulate,
    addend: !!job.addend,
    bias: !!job.bias,
    narrow: job.N <= SKINNY,
  };
}

/** Checks sizes, formats and independence; throws naming the kernel. */
function validate(ctx: GpuContext, jobs: MatmulJob[], style: MultiStyle): void {
  const fail = (msg: string) => new GpuKernelError('matmul_multi', msg);
  if (style === 'quad') {
    if (!ctx.features.subgroups) throw fail("the 'quad' style needs the subgroups feature");
    if (jobs.some((j) => j.terms.some((t) => (t.bFormat?.dtype ?? 'f32') !== 'f32')))
      throw fail("the 'quad' style reads B as plain f32 words");
  }
  if (jobs.length < 1 || jobs.length > MULTI_MAX_JOBS)
    throw fail(`${jobs.length} jobs (1..${MULTI_MAX_JOBS} per dispatch)`);
  const check = (what: string, r: GpuRegion, elems: number, perWord = 1) => {
    const bytes = Math.ceil(elems / perWord) * 4;
    const have = regionParts(r).size;
    if (have < bytes) throw fail(`${what} holds ${have} bytes; this call reads or writes ${bytes}`);
  };
  jobs.forEach((job, j) => {
    const { M, N } = job;
    if (job.terms.length < 1 || job.terms.length > MULTI_MAX_TERMS)
      throw fail(`job ${j}: ${job.terms.length} terms (1..${MULTI_MAX_TERMS})`);
    for (const [name, v] of Object.entries({ M, N })) {
      if (!isUint(v) || v === 0) throw fail(`job ${j}: ${name} = ${v} is not a positive 32-bit integer`);
    }
    check(`job ${j} out`, job.out, M * N);
    if (job.addend) check(`job ${j} addend`, job.addend, M * N);
    if (job.bias) check(`job ${j} bias`, job.bias, N);
    job.terms.forEach((t, i) => {
      if (!isUint(t.K) || t.K === 0) throw fail(`job ${j} term ${i}: K = ${t.K}`);
      const dtype = t.bFormat?.dtype ?? 'f32';
      check(`job ${j} term ${i} a`, t.a, M * t.K);
      check(`job ${j} term ${i} b`, t.b, t.K * N, elemsPerWord(dtype));
      if (dtype === 'int8' || dtype === 'nf4') {
        const scales = t.bFormat?.scales;
        if (!scales) throw fail(`job ${j} term ${i}: a ${dtype} B needs its scales`);
        const chan = bChannel(t.transB ?? false, t.bFormat?.layout ?? 'out_in');
        check(
          `job ${j} term ${i} scales`,
          scales,
          dtype === 'int8' ? (chan === 'n' ? N : t.K) : Math.ceil((t.K * N) / NF4_BLOCK),
        );
      }
      for (const r of [t.a, t.b]) {
        if (overlaps(r, job.out))
          throw fail(`job ${j} term ${i} reads its own output; it cannot run in place`);
      }
      if (Math.max(M * t.K, t.K * N, M * N) >= 2 ** 32) throw fail(`job ${j}: indices past 32 bits`);
    });
    if (
      job.addend &&
      overlaps(job.addend, job.out) &&
      regionParts(job.addend).offset !== regionParts(job.out).offset
    )
      throw fail(`job ${j}: the addend partly overlaps the output`);
  });
  if (jobs.length > 1) {
    // Independence: no job reads or writes what another writes.
    const touched = jobs.map((job) => {
      const rs: GpuRegion[] = [job.out];
      for (const t of job.terms) {
        rs.push(t.a, t.b);
        if (t.bFormat?.scales) rs.push(t.bFormat.scales);
      }
      if (job.addend) rs.push(job.addend);
      if (job.bias) rs.push(job.bias);
      return rs.map(regionParts);
    });
    for (let j = 0; j < jobs.length; j++) {
      const w = touched[j][0];
      for (let o = 0; o < jobs.length; o++) {
        if (o !== j && touched[o].some((r) => meets(r, w)))
          throw fail(`job ${o} touches job ${j}'s output: jobs of one dispatch must be independent`);
      }
    }
  }
  if (multiUniformBytes(jobs) > 256) throw fail(`uniforms of ${multiUniformBytes(jobs)} bytes exceed 256`);
}

/** Records the jobs as one dispatch. */
export function matmulMulti(ctx: GpuContext, args: MatmulMultiArgs): void {
  const { jobs } = args;
  const style = args.style ?? 'block';
  validate(ctx, jobs, style);
  const templates = jobs.map((job) => {
    const t = template(job);
    if (style !== 'quad') return t;
    const [tx, ty] = multiTile(style, t);
    return { ...t, exact: job.M % ty === 0 && job.N % tx === 0 };
  });
  const L = planBindings('matmul_multi', bindingSpecs(jobs));
  const limit = multiBindingLimit(ctx);
  if (L.buffers.length > limit)
    throw new GpuKernelError(
      'matmul_multi',
      `${L.buffers.length} storage bindings; the device binds ${limit} per stage`,
    );
  const key = jobsKey(style, templates);
  const kernel = memoKernel(`matmul_multi:${key}:${L.sig}`, 'matmul_multi', () =>
    matmulMultiWgsl(style, templates, L),
  );
  let tiles = 0;
  const u = new Uniforms();
  const maxX = ctx.limits.maxComputeWorkgroupsPerDimension;
  const perJob = jobs.map((job, j) => {
    const [tx, ty] = multiTile(style, templates[j]);
    const gx = Math.ceil(job.N / tx);
    const gy = Math.ceil(job.M / ty);
    tiles += gx * gy;
    return { gx, end: tiles };
  });
  const gridX = Math.min(tiles, maxX);
  const gridY = Math.ceil(tiles / gridX);
  u.u32(gridX);
  jobs.forEach((job, j) => {
    u.u32(job.M).u32(job.N).u32(perJob[j].gx).u32(perJob[j].end);
    for (const t of job.terms) u.u32(t.K).f32(t.alpha ?? 1);
  });
  ctx.dispatch({ kernel, buffers: L.buffers, uniforms: u.data, workgroups: [gridX, gridY] });
}
