// The one supervised fine-tuning runner, behind both front ends: the page's worker interleaves it with other
// runs, the CLI's `train` steps it to the end, `bench` times its steps, and its eval pass (sft-eval.ts) is
// the CLI's `eval`. create(run config) → stepOnce() → … → evalLoss(), each step recording its GPU work and
// returning at once. The loss is read back only every `logEvery` steps, and that read is started and not
// awaited in the step that starts it: its value arrives as a metric point on a later call (or on
// flush()), so the GPU queue never drains inside a step. Memory figures are the arena's, exact. Any
// registered PEFT method trains (planAdapter/Adapter); the runner also checkpoints and restores itself
// (trainable values, AdamW moments, step) and scores greedy completions for the task metric. With `pack`
// the training rows are packed (pack.ts) and fed with their positions and segment ids; eval rows never are.
// The frozen model comes from a FrozenBase (tensor/frozen-base.ts), shared by every run on the device when
// the caller passes one (the page's worker), else the runner's own, streamed from the checkpoint in the
// run's base dtype; the runner holds only what it trains and its optimizer state.
import { type Batch, Batcher, type BatchRow } from '../data/batch';
import { packSequences } from '../data/pack';
import type { ModelConfig } from '../formats/model-config';
import type { TensorReader } from '../formats/safetensors';
import { type ByCategory, type GpuRegion, zeroByCategory } from '../gpu/arena';
import type { GpuContext } from '../gpu/context';
import { baseSpecsOf, checkpointBaseSource } from '../model/load';
import { causalLmLoss } from '../model/loss';
import {
  Adapter,
  checkTrainableDtypes,
  checkValuesRead,
  paramSetOnBase,
  planAdapter,
  planAdapterOnBase,
  type ReadBase,
} from '../peft/adapter';
import { methodForAdapterConfig, planFromAdapterConfig, readAdapterConfig } from '../peft/files';
import { getMethod } from '../peft/registry';
import type { MethodContext, PeftMethod } from '../peft/types';
import { FrozenBase } from '../tensor/frozen-base';
import { type GpuBackend, gpuBackend } from '../tensor/gpu-backend';
import { ParamSet, type ParamSpec } from '../tensor/params';
import { Tape } from '../tensor/tape';
import { ADAMW_DEFAULTS, AdamW } from './optimizer';
import type { MetricPoint, SftCheckpoint, SftRunConfig } from './sft-config';
import { batchLosses, exactMatch as greedyExactMatch, meanOfBatches } from './sft-eval';

export {
  type LrSchedule,
  type MetricPoint,
  SFT_DEFAULTS,
  type SftCheckpoint,
  type SftRunConfig,
} from './sft-config';

import type { LrSchedule } from './sft-config';

export interface SftData {
  train: readonly BatchRow[];
  eval: readonly BatchRow[];
  padId: number;
}

/** Learning rate at optimizer step `step` (1-based): linear warmup over a tenth of the run, then the schedule. */
export function lrAt(schedule: LrSchedule, base: number, step: number, steps: number): number {
  const warm = Math.max(1, Math.floor(steps / 10));
  if (step <= warm) return (base * step) / warm;
  const p = (step - warm) / Math.max(1, steps - warm);
  if (schedule === 'linear') return base * (1 - p);
  if (schedule === 'cosine') return base * 0.5 * (1 + Math.cos(Math.PI * p));
  return base;
}

export interface SftCreateOptions {
  /** What the method may need from outside the checkpoint (prompt tuning's TEXT init tokenizes). */
  methodCtx?: MethodContext;
  /** The base specs with their values, when the caller already read the checkpoint (uploaded per run). */
  baseSpecs?: readonly ParamSpec[];
  /**
   * The frozen model shared by every run on `ctx` (the worker's): this run borrows its frozen tensors and
   * leaves them to the base when disposed. Without it (and without baseSpecs) the runner streams its own
   * base from the checkpoint in `run.baseDtype` and frees it when disposed.
   */
  base?: FrozenBase<GpuRegion, GpuRegion>;
  /**
   * The arena owner this run's allocations are counted for: its memory figures are then its own (a shared
   * base's bytes left out). Without it they are the device's.
   */
  owner?: string;
  /** An imported adapter: adapter_config.json's text (method and options come from it, not `run`)... */
  adapterConfig?: string;
  /** ...and adapter_model.safetensors, loaded into the adapter before the first step. */
  adapterWeights?: Uint8Array;
}

/** Runs `f` with the arena counting its allocations for `owner` too (none: as it is). */
function withOwner<T>(ctx: GpuContext, owner: string | undefined | null, f: () => T): T {
  return owner ? ctx.arena.withOwner(owner, f) : f();
}

/** Parses adapter_config.json text into its method and options (files.ts's checks and messages). */
export function savedMethod(
  text: string,
  config: ModelConfig,
): { method: PeftMethod<unknown>; options: unknown } {
  // planFromAdapterConfig's parse and refusals, without planning (the plan is made on the base below).
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new Error(`adapter_config.json: not valid JSON (${e instanceof Error ? e.message : e})`);
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json))
    throw new Error('adapter_config.json: must be a JSON object');
  const obj = json as Record<string, unknown>;
  const method = methodForAdapterConfig(obj, 'adapter_config.json');
  return { method, options: readAdapterConfig(method, obj, config) };
}

/** The run's parameters and adapter: on a shared base, on its own streamed base, or on given specs. */
async function buildModel(
  ctx: GpuContext,
  be: GpuBackend,
  config: ModelConfig,
  reader: TensorReader,
  run: SftRunConfig,
  opts: SftCreateOptions,
): Promise<{
  ps: ParamSet<GpuRegion, GpuRegion>;
  adapter: Adapter<GpuRegion, GpuRegion, unknown>;
  method: PeftMethod<unknown>;
  ownBase: FrozenBase<GpuRegion, GpuRegion> | null;
}> {
  if (opts.baseSpecs) {
    // Specs with their values (bench, tests): every frozen tensor uploaded for this run, as before.
    const base = opts.baseSpecs;
    const { method, plan } = opts.adapterConfig
      ? planFromAdapterConfig(opts.adapterConfig, config, base, run.seed)
      : (() => {
          const m = getMethod(run.method);
          return { method: m, plan: planAdapter(m, run.options, config, base, run.seed, opts.methodCtx) };
        })();
    checkValuesRead(plan);
    if (!opts.owner) ctx.arena.resetPeak();
    const ps = withOwner(ctx, opts.owner, () => new ParamSet(be, plan.specs));
    const adapter = withOwner(ctx, opts.owner, () => new Adapter(method, plan, config, ps));
    await loadWeights(adapter, ps, opts);
    return { ps, adapter, method, ownBase: null };
  }
  const ownBase = opts.base
    ? null
    : new FrozenBase(be, checkpointBaseSource(config, reader, run.baseDtype), run.baseDtype, (f) =>
        withOwner(ctx, opts.owner ? `${opts.owner}.base` : null, f),
      );
  const base = opts.base ?? ownBase!;
  const specs = baseSpecsOf(base.source);
  const read: ReadBase = (name) => base.values(name);
  const { method, options } = opts.adapterConfig
    ? savedMethod(opts.adapterConfig, config)
    : (() => {
        const m = getMethod(run.method);
        return { method: m as PeftMethod<unknown>, options: m.parse(run.options, config, opts.methodCtx) };
      })();
  try {
    const plan = await planAdapterOnBase(method, options, config, specs, read, run.seed);
    checkTrainableDtypes(plan, method.info.label);
    if (!opts.owner) ctx.arena.resetPeak();
    const ps = await paramSetOnBase(be, plan, base, [], (f) => withOwner(ctx, opts.owner, f));
    try {
      const adapter = withOwner(ctx, opts.owner, () => new Adapter(method, plan, config, ps, read));
      await loadWeights(adapter, ps, opts);
      return { ps, adapter, method, ownBase };
    } catch (e) {
      ps.dispose();
      throw e;
    }
  } catch (e) {
    ownBase?.dispose();
    throw e;
  }
}

/** Loads an imported adapter's weights (opts.adapterWeights) into a fresh adapter. */
async function loadWeights(
  adapter: Adapter<GpuRegion, GpuRegion, unknown>,
  ps: ParamSet<GpuRegion, GpuRegion>,
  opts: SftCreateOptions,
): Promise<void> {
  if (!opts.adapterWeights) return;
  try {
    adapter.load(opts.adapterWeights);
  } catch (e) {
    adapter.dispose();
    ps.dispose();
    throw e;
  }
}

export class NonFiniteLossError extends Error {
  constructor(
    readonly step: number,
    readonly value: number,
    /** Where the weights came from, named in the step-1 message (a folder, a dropped file). */
    modelName = 'the model',
  ) {
    // Step 1's loss is taken before any update: a non-finite value there comes from the weights (or the
    // data), and a lower learning rate would not help.
    super(
      step <= 1
        ? `the training loss is ${value} at step 1, before any update: not the learning rate; the model gives a non-finite output (check ${modelName} for NaN or Inf weights)`
        : `the training loss became ${value} at step ${step}; the run stopped. Try a lower learning rate ` +
            'or gradient clipping (max grad norm 1).',
    );
    this.name = 'NonFiniteLossError';
  }
}

export class SftRunner {
  private stepsDone = 0;
  private tokens = 0;
  private activeMs = 0;
  /** Timed by the scheduler from the device queue (queueClock) rather than by this runner's own clock. */
  private byQueue = false;
  /** Time and tokens when the first logged step's loss arrived: the start of steady-state speed. */
  private warm: { ms: number; tokens: number; step: number } | null = null;
  private readonly ready: MetricPoint[] = [];
  private readonly reads: Promise<void>[] = [];
  private failure: Error | null = null;
  private readonly be: GpuBackend;

  private constructor(
    readonly ctx: GpuContext,
    readonly config: ModelConfig,
    readonly run: SftRunConfig,
    readonly ps: ParamSet<GpuRegion, GpuRegion>,
    readonly adapter: Adapter<GpuRegion, GpuRegion, unknown>,
    private readonly opt: AdamW<GpuRegion, GpuRegion>,
    private readonly batcher: Batcher,
    private readonly evalBatcher: Batcher | null,
    private readonly evalRows: readonly BatchRow[],
  ) {
    this.be = ps.be;
  }

  /** Loads the checkpoint onto `ctx` with the method's tensors trainable; allocates parameters and state. */
  static async create(
    ctx: GpuContext,
    config: ModelConfig,
    reader: TensorReader,
    data: SftData,
    run: SftRunConfig,
    opts: SftCreateOptions = {},
  ): Promise<SftRunner> {
    if (data.train.length === 0) throw new Error('the dataset has no training examples');
    // Zero steps: evaluate only (an imported adapter).
    if (!Number.isInteger(run.steps) || run.steps < 0)
      throw new RangeError(`steps = ${run.steps}: must be a whole number ≥ 0`);
    for (const [k, v] of Object.entries({
      batch: run.batch,
      seqLen: run.seqLen,
      gradAccum: run.gradAccum,
    }))
      if (!Number.isInteger(v) || v < 1) throw new RangeError(`${k} = ${v}: must be a whole number ≥ 1`);
    if (run.seqLen > config.maxPositions)
      throw new RangeError(
        `sequence length ${run.seqLen} exceeds the model's ${config.maxPositions} positions`,
      );
    if (!(run.lr > 0)) throw new RangeError(`learning rate ${run.lr}: must be > 0`);
    // Planned before anything is allocated: an option out of range is refused with its name.
    const be = gpuBackend(ctx);
    const { ps, adapter, ownBase } = await buildModel(ctx, be, config, reader, run, opts);
    const opt = withOwner(
      ctx,
      opts.owner,
      () =>
        new AdamW(ps, {
          ...ADAMW_DEFAULTS,
          lr: run.lr,
          weightDecay: run.weightDecay,
          maxGradNorm: run.maxGradNorm,
        }),
    );
    // Packing is deterministic, so batch k is still a pure function of (seed, k) and a restored run goes on
    // with the same batches.
    const trainRows = run.pack
      ? packSequences(data.train, { seqLen: run.seqLen, padId: data.padId })
      : data.train;
    const batcher = new Batcher(trainRows, {
      batchSize: run.batch,
      seqLen: run.seqLen,
      padId: data.padId,
      seed: run.seed,
    });
    const evalBatcher = data.eval.length
      ? new Batcher(data.eval, {
          batchSize: run.batch,
          seqLen: run.seqLen,
          padId: data.padId,
          seed: run.seed,
          shuffle: false,
        })
      : null;
    const r = new SftRunner(ctx, config, run, ps, adapter, opt, batcher, evalBatcher, data.eval);
    r.owner = opts.owner ?? null;
    r.ownBase = ownBase;
    return r;
  }

  /** The arena owner of this run's allocations (null: figures are the whole device's). */
  private owner: string | null = null;
  /** A base the runner made for itself (no shared one given): disposed with the runner. */
  private ownBase: FrozenBase<GpuRegion, GpuRegion> | null = null;

  get step(): number {
    return this.stepsDone;
  }

  get done(): boolean {
    return this.stepsDone >= this.run.steps;
  }

  get trainableParams(): number {
    return this.ps.trainableCount;
  }

  get totalParams(): number {
    return this.ps.totalCount;
  }

  /** Training rows after packing (the examples themselves unpacked). */
  get trainRows(): number {
    return this.batcher.rows.length;
  }

  /** The batch's mean token loss (× weight); a packed batch is fed with its positions and segment ids. */
  private lossOf(tp: Tape<GpuRegion, GpuRegion>, batch: Batch, weight: number, packed: boolean) {
    const { B, T } = { B: this.run.batch, T: this.run.seqLen };
    const seg = packed ? { positions: batch.positionIds, segments: batch.segmentIds } : {};
    const input = { ids: batch.inputIds, labels: batch.labels, B, T, ...seg };
    const opts = { weight, checkpointing: this.run.checkpointing };
    return causalLmLoss(tp, this.config, this.ps, input, this.adapter.hooks, opts).loss;
  }

  /** This run's memory: its own allocations when it has an owner, else the device's. */
  private stats(): { current: ByCategory; peakTotal: number; atPeak: ByCategory } {
    return this.owner ? this.ctx.arena.statsOf(this.owner) : this.ctx.arena.stats();
  }

  private point(loss: number | null, evalLoss: number | null, lr: number): MetricPoint {
    const s = this.stats();
    return {
      step: this.stepsDone,
      tokens: this.tokens,
      timeMs: this.activeMs,
      loss,
      evalLoss,
      lr,
      tokensPerS: this.activeMs > 0 ? (this.tokens * 1000) / this.activeMs : 0,
      memory: { ...s.current },
      peakBytes: s.peakTotal,
      peakByCategory: { ...s.atPeak },
    };
  }

  /**
   * Records one optimizer step (gradAccum micro-batches) and returns without waiting for the GPU, except
   * that it throws a failure found by an earlier background read (a non-finite loss, a lost device).
   */
  stepOnce(): void {
    withOwner(this.ctx, this.owner, () => this.recordStep());
  }

  private recordStep(): void {
    if (this.failure) throw this.failure;
    if (this.done) return;
    const t0 = performance.now();
    const step = this.stepsDone + 1;
    const lr = lrAt(this.run.schedule, this.run.lr, step, this.run.steps);
    this.ps.zeroGrads();
    const log = step % this.run.logEvery === 0 || step === this.run.steps;
    const losses: Promise<Float64Array>[] = [];
    for (let k = 0; k < this.run.gradAccum; k++) {
      const batch = this.batcher.batchAt((step - 1) * this.run.gradAccum + k);
      const tp = new Tape(this.be, true);
      const loss = this.lossOf(tp, batch, 1 / this.run.gradAccum, !!this.run.pack);
      tp.backward();
      // The read is recorded now (before the tape's buffers go back to the pool) and awaited later.
      if (log) losses.push(this.be.read(loss.store, 1));
      tp.dispose();
      this.tokens += batch.tokens;
    }
    this.opt.update(lr);
    this.stepsDone = step;
    if (!this.byQueue) this.activeMs += performance.now() - t0;
    if (log) {
      const base = this.point(null, null, lr);
      // Chained on the previous read: mappings may resolve out of order, points must not.
      const prev = this.reads[this.reads.length - 1] ?? Promise.resolve();
      this.reads.push(
        Promise.all([Promise.all(losses), prev]).then(
          ([vs]) => {
            // Each micro-batch loss was scaled by 1/gradAccum: their sum is the step's mean loss.
            const loss = vs.reduce((a, v) => a + v[0], 0);
            if (!Number.isFinite(loss)) this.failure ??= new NonFiniteLossError(step, loss);
            // Time and speed are taken when the value arrives: by then the GPU has really done the work.
            // Speed leaves out the first step, which compiles the run's pipelines (seconds on a software
            // GPU): over a short run it would otherwise decide the tokens/s column.
            this.warm ??= { ms: this.activeMs, tokens: base.tokens, step };
            const ms = this.activeMs - this.warm.ms;
            const steady = step > this.warm.step && ms > 0;
            this.ready.push({
              ...base,
              loss,
              timeMs: this.activeMs,
              tokensPerS: steady
                ? ((base.tokens - this.warm.tokens) * 1000) / ms
                : (base.tokens * 1000) / Math.max(1, this.activeMs),
              msPerStep: steady ? ms / (step - this.warm.step) : this.activeMs / step,
            });
          },
          (e: unknown) => {
            this.failure ??= e instanceof Error ? e : new Error(String(e));
          },
        ),
      );
    }
  }

  /** Points whose loss has arrived since the last call. */
  takePoints(): MetricPoint[] {
    return this.ready.splice(0);
  }

  /**
   * Waits until at most `max` loss reads are outstanding, so a scheduler can keep each device's queue
   * short (bounded latency for pause and stop) without draining it every step; 0 drains it. The wait
   * counts as this run's time (it is its GPU work finishing), unless the queue clock is on.
   */
  async settle(max: number): Promise<void> {
    const t0 = performance.now();
    while (this.reads.length > max) await this.reads.shift();
    // 0: the device idle, also after a step that logged nothing (no read to wait on).
    if (max === 0) await this.ctx.sync();
    if (!this.byQueue) this.activeMs += performance.now() - t0;
    if (this.failure) throw this.failure;
  }

  /**
   * The queue clock (worker/scheduler.ts, runs interleaved on one device): while on, recording and waits
   * stop counting as this run's time, and the scheduler adds each step's slice of the device's timeline.
   */
  queueClock(on: boolean): void {
    this.byQueue = on;
  }

  addActiveMs(ms: number): void {
    this.activeMs += ms;
  }

  /** Submits what this runner recorded; resolves when the device has run all work submitted so far. */
  submitted(): Promise<void> {
    this.ctx.flush();
    this.ctx.releaseQueue();
    return this.ctx.device.queue.onSubmittedWorkDone();
  }

  /** Waits for every started loss read (and rethrows a failure they found). */
  async flush(): Promise<MetricPoint[]> {
    const t0 = performance.now();
    await Promise.all(this.reads.splice(0));
    if (!this.byQueue) this.activeMs += performance.now() - t0;
    if (this.failure) throw this.failure;
    return this.takePoints();
  }

  /** Mean loss over the eval split (no tape recording, no gradients); null when there is no eval split. */
  async evalLoss(): Promise<number | null> {
    if (!this.evalBatcher) return null;
    const eb = this.evalBatcher;
    const batches = Array.from({ length: eb.batchesPerEpoch }, (_, i) => eb.batchAt(i));
    return meanOfBatches(await batchLosses(this.be, this.config, this.ps, this.adapter.hooks, batches));
  }

  /** An eval point at the current step (memory as now). */
  async evalPoint(): Promise<MetricPoint | null> {
    const e = await this.evalLoss();
    if (e === null) return null;
    if (!Number.isFinite(e)) throw new NonFiniteLossError(this.stepsDone, e);
    return this.point(
      null,
      e,
      lrAt(this.run.schedule, this.run.lr, Math.max(1, this.stepsDone), this.run.steps),
    );
  }

  /** Memory by category as the arena counts it now (zeros after dispose). */
  memory(): ByCategory {
    return this.ctx.lost ? zeroByCategory() : { ...this.stats().current };
  }

  /** The state a resumed run needs (waits for queued work: call it between steps). */
  async checkpoint(): Promise<SftCheckpoint> {
    const f = this.ps.flat;
    const read = async (b: GpuRegion | undefined) =>
      b && f ? Float32Array.from(await this.be.read(b, f.n)) : new Float32Array(0);
    const [params, m, v] = await Promise.all([read(f?.params), read(f?.m), read(f?.v)]);
    return { step: this.stepsDone, tokens: this.tokens, activeMs: this.activeMs, params, m, v };
  }

  /** Continues from a checkpoint of a run with the same method, options and model. */
  restore(ck: SftCheckpoint): void {
    const f = this.ps.flat;
    const n = f?.n ?? 0;
    for (const [k, a] of [
      ['params', ck.params],
      ['m', ck.m],
      ['v', ck.v],
    ] as const)
      if (a.length !== n)
        throw new Error(`checkpoint ${k}: ${a.length} values, this run's trainable buffer has ${n}`);
    if (!Number.isInteger(ck.step) || ck.step < 0 || ck.step > this.run.steps)
      throw new Error(`checkpoint step ${ck.step} is outside this run's 0..${this.run.steps}`);
    if (f) {
      this.be.write(f.params, ck.params);
      this.be.write(f.m, ck.m);
      this.be.write(f.v, ck.v);
    }
    this.opt.restoreStep(ck.step);
    this.stepsDone = ck.step;
    this.tokens = ck.tokens;
    this.activeMs = ck.activeMs;
  }

  /** The task metric on (up to `maxRows` of) the eval split: sft-eval.ts's exactMatch with this adapter. */
  exactMatch(eosIds: readonly number[], maxRows = 16): Promise<number | null> {
    const rows = this.evalRows.map((r) => ({
      inputIds: r.inputIds.slice(0, this.run.seqLen),
      labels: r.labels.slice(0, this.run.seqLen),
    }));
    return greedyExactMatch(this.be, this.config, this.ps, this.adapter.hooks, rows, eosIds, maxRows);
  }

  /** Frees what the run holds; a shared base keeps its tensors for the other runs (the last one frees them). */
  dispose(): void {
    this.adapter.dispose();
    this.opt.dispose();
    this.ps.dispose();
    this.ownBase?.dispose();
    this.ownBase = null;
    // Its ledger goes with it (a page may start many runs over its life).
    if (this.owner && !this.ctx.lost) this.ctx.arena.dropOwner(this.owner);
  }
}
