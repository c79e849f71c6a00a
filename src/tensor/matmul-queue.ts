// Groups the tape's matmuls into fewer dispatches. The GPU backend hands each matmul (and each job of a
// matmulMulti) here instead of recording it; the queue is held back with ctx.defer, so whatever the
// context records next (another kernel, a copy, a clear, a submit, a read) records the queue first and
// stream order is kept. At that point the queued jobs are levelled by their data dependencies (a job
// reading or writing what an earlier one writes, or writing what an earlier one reads, runs after it):
// each level's jobs are independent and go out as few matmul-multi dispatches as the device's storage
// bindings allow. A job that accumulates into exactly the output an earlier job writes joins that job
// as one more term (a sum of products: dx through q, k and v) when nothing in between depends on it.
// A level of one plain matmul is recorded as the plain matmul (its tuned variant, the GEMV path).
//
// Only matmuls the barrier-free register blocks serve are queued (the variant matmul.ts would pick for the
// shape class is regblock, skinny, lanes, quad or quadnarrow: SwiftShader's picks; the multi kernel runs
// the quad loops where the device has subgroups and B is plain f32, else the regblock ones), unbatched, and not decode-sized (M ≤ GEMV_MAX_ROWS without transA goes
// straight to the GEMV path); the rest are recorded at once. On a hardware adapter whose autotune picks
// the tiled kernels nothing is queued.

import { type GpuRegion, regionParts } from '../gpu/arena';
import type { GpuContext } from '../gpu/context';
import { GEMV_MAX_ROWS } from '../gpu/kernels/gemv';
import {
  isMatmulVariant,
  type MatmulArgs,
  matmul,
  matmulClass,
  matmulVariantKey,
  untunedVariant,
} from '../gpu/kernels/matmul';
import {
  type MatmulJob,
  type MatmulMultiArgs,
  MULTI_MAX_JOBS,
  MULTI_MAX_TERMS,
  type MultiStyle,
  matmulMulti,
  multiBindingLimit,
} from '../gpu/kernels/matmul-multi';

interface Span {
  buffer: GPUBuffer;
  offset: number;
  size: number;
}

interface Pending {
  job: MatmulJob;
  /** The plain call it came from (recorded as such when it runs alone). */
  plain: MatmulArgs | null;
  /** What it reads (later jobs merged into it as terms add theirs), and what it writes. */
  reads: Span[];
  write: Span;
  level: number;
  style: MultiStyle;
}

const span = (r: GpuRegion): Span => regionParts(r);
const meets = (a: Span, b: Span) =>
  a.buffer === b.buffer && a.offset < b.offset + b.size && b.offset < a.offset + a.size;
const same = (a: Span, b: Span) => a.buffer === b.buffer && a.offset === b.offset && a.size === b.size;

/** The variants whose calls are queued: the barrier-free register blocks (SwiftShader's picks). */
const BARRIER_FREE = new Set(['regblock', 'skinny', 'lanes', 'quad', 'quadnarrow']);

function readsOf(job: MatmulJob): Span[] {
  const rs: Span[] = [];
  for (const t of job.terms) {
    rs.push(span(t.a), span(t.b));
    if (t.bFormat?.scales) rs.push(span(t.bFormat.scales));
  }
  if (job.addend) rs.push(span(job.addend));
  if (job.bias) rs.push(span(job.bias));
  if (job.accumulate) rs.push(span(job.out));
  return rs;
}

export class MatmulQueue {
  private pending: Pending[] = [];
  private readonly record = () => this.flush();

  constructor(private readonly ctx: GpuContext) {}

  /**
   * The multi kernel's style for a call, or null when it is recorded at once (see the header): 'quad'
   * (the quad variants' loops, SwiftShader's fastest) where the device has quad operations and B is plain
   * f32, else 'block'. One style for every job keeps jobs of any shape class groupable.
   */
  private styleOf(p: {
    M: number;
    N: number;
    K: number;
    transA?: boolean;
    packedB: boolean;
  }): MultiStyle | null {
    if (p.M === 0 || p.N === 0 || p.K === 0) return null;
    const cls = matmulClass(p.M, p.N, p.K, p.transA);
    const v =
      this.ctx.variants.get(matmulVariantKey(cls)) ??
      this.ctx.variants.get('matmul') ??
      untunedVariant(this.ctx, cls);
    if (!isMatmulVariant(v) || !BARRIER_FREE.has(v)) return null;
    return this.ctx.features.subgroups && !p.packedB ? 'quad' : 'block';
  }

  matmul(p: MatmulArgs): void {
    const plainOnly = (p.batch ?? 1) !== 1 || (p.M <= GEMV_MAX_ROWS && !p.transA);
    const style = plainOnly ? null : this.styleOf({ ...p, packedB: (p.bFormat?.dtype ?? 'f32') !== 'f32' });
    if (!style) {
      matmul(this.ctx, p);
      return;
    }
    const job: MatmulJob = {
      out: p.out,
      M: p.M,
      N: p.N,
      accumulate: p.accumulate,
      terms: [
        { a: p.a, b: p.b, K: p.K, transA: p.transA, transB: p.transB, alpha: p.alpha, bFormat: p.bFormat },
      ],
    };
    this.push(job, p, style);
  }

  /** A matmulMulti call: its jobs join the queue, each in the style its first term's shape picks. */
  multi(p: MatmulMultiArgs): void {
    for (const job of p.jobs) {
      const t = job.terms[0];
      const packedB = job.terms.some((x) => (x.bFormat?.dtype ?? 'f32') !== 'f32');
      const style =
        p.style ?? this.styleOf({ M: job.M, N: job.N, K: t.K, transA: t.transA, packedB }) ?? 'block';
      this.push(job, null, style === 'quad' && packedB ? 'block' : style);
    }
  }

  private push(job: MatmulJob, plain: MatmulArgs | null, style: MultiStyle): void {
    const reads = readsOf(job);
    const write = span(job.out);
    // Levels: after every earlier job this one conflicts with.
    let after = 0;
    let into: Pending | null = null;
    for (let i = this.pending.length - 1; i >= 0; i--) {
      const e = this.pending[i];
      const conflict =
        reads.some((r) => meets(r, e.write)) || meets(write, e.write) || e.reads.some((r) => meets(r, write));
      if (!conflict) continue;
      // The latest writer of exactly this output, which this job only adds to: a term of that job.
      if (
        into === null &&
        after === 0 &&
        e.style === style &&
        job.accumulate &&
        !job.addend &&
        !job.bias &&
        same(write, e.write) &&
        e.job.M === job.M &&
        e.job.N === job.N &&
        e.job.terms.length + job.terms.length <= MULTI_MAX_TERMS &&
        !reads.some((r) => r !== reads[reads.length - 1] && meets(r, e.write))
      ) {
        into = e;
        continue;
      }
      after = Math.max(after, e.level);
    }
    if (into && after < into.level) {
      into.job = { ...into.job, terms: [...into.job.terms, ...job.terms] };
      into.reads.push(...reads.slice(0, -1));
      into.plain = null;
      this.schedule();
      return;
    }
    if (into) after = Math.max(after, into.level);
    this.pending.push({ job, plain, reads, write, level: after + 1, style });
    this.schedule();
  }

  private schedule(): void {
    this.ctx.defer(this.record);
  }

  /** Records everything queued, level by level. */
  flush(): void {
    const pending = this.pending;
    if (pending.length === 0) return;
    this.pending = [];
    const top = pending.reduce((m, e) => Math.max(m, e.level), 0);
    const limit = multiBindingLimit(this.ctx);
    for (let level = 1; level <= top; level++) {
      const jobs = pending.filter((e) => e.level === level);
      // Greedy packing under the binding, job and uniform limits; a partial overlap between two jobs'
      // regions (views of one buffer) cannot share a dispatch either.
      const groups: Group[] = [];
      for (const e of jobs) {
        if (!groups.some((g) => tryAdd(g, e, limit))) {
          // Alone: a dispatch of its own whatever its regions (a lone plain call is the plain matmul).
          groups.push({
            jobs: [e],
            spans: [...e.reads, e.write],
            uniformBytes: 4 + 4 * (4 + 2 * e.job.terms.length),
            style: e.style,
          });
        }
      }
      for (const { jobs: g, style } of groups) {
        const plain = g.length === 1 ? g[0].plain : null;
        if (plain) matmul(this.ctx, plain);
        else matmulMulti(this.ctx, { jobs: g.map((e) => e.job), style });
      }
    }
  }
}

/** Jobs bound for one dispatch, with their distinct regions and uniform bytes so far. */
interface Group {
  jobs: Pending[];
  spans: Span[];
  uniformBytes: number;
  style: MultiStyle;
}

/** Adds e to g when the dispatch stays within the limits (bindings ≤ limit); false, g unchanged, if not. */
function tryAdd(g: Group, e: Pending, limit: number): boolean {
  if (g.jobs.length >= MULTI_MAX_JOBS || g.style !== e.style) return false;
  const bytes = g.uniformBytes + 4 * (4 + 2 * e.job.terms.length);
  if (bytes > 256) return false;
  const fresh: Span[] = [];
  const consider = (s: Span): boolean => {
    for (const d of g.spans) if (meets(d, s)) return same(d, s);
    for (const d of fresh) if (meets(d, s)) return same(d, s);
    fresh.push(s);
    return true;
  };
  for (const s of e.reads) if (!consider(s)) return false;
  if (!consider(e.write)) return false;
  if (g.spans.length + fresh.length > limit) return false;
  g.jobs.push(e);
  for (const s of fresh) g.spans.push(s);
  g.uniformBytes = bytes;
  return true;
}

const queues = new WeakMap<GpuContext, MatmulQueue>();

/** The context's queue (one per context: its defer slot is one). */
export function matmulQueue(ctx: GpuContext): MatmulQueue {
  let q = queues.get(ctx);
  if (!q) {
    q = new MatmulQueue(ctx);
    queues.set(ctx, q);
  }
  return q;
}
