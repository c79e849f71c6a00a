// The training worker's scheduler: every run's state machine (queued → loading → running ⇄ paused → done /
// stopped / error), the step loop (runs' steps interleaved round-robin, or one run after another when their
// predicted memory together exceeds the budget), pause / resume / stop / forget, a checkpoint every K steps,
// the metrics outbox sent in batches at most every 250 ms, the end of a run (flush, eval, exact match,
// last checkpoint) and the release of its device. A failing run ends only itself, with its reason, except
// a lost device: every run holding the same device (RunDevice.shared) fails with it, their checkpoints kept,
// each told the step it was at and the checkpoint it can resume from (resumeInterrupted, on a new device).
// Everything it does to the world is injected (SchedulerEffects): posting a message, acquiring a device,
// building a runner, the checkpoint store, the clock and the timer, so it runs in Node under test.
import type { ByCategory } from '../gpu/arena';
import { deviceLostWhy } from '../gpu/errors';
import type { MetricPoint, SftCheckpoint } from '../train/sft-config';
import type { FromWorker, RunSpec, RunState } from './protocol';

/** What the scheduler drives of a run's runner (SftRunner and RlRunHandle both have it). */
export interface SteppedRunner {
  readonly step: number;
  readonly done: boolean;
  readonly trainableParams: number;
  readonly totalParams: number;
  readonly adapter: { readonly method: { readonly info: { mergeable: boolean; name: string } } };
  stepOnce(): void;
  settle(maxInFlight: number): Promise<void>;
  takePoints(): MetricPoint[];
  flush(): Promise<MetricPoint[]>;
  evalPoint(): Promise<MetricPoint | null>;
  memory(): ByCategory;
  checkpoint(): Promise<SftCheckpoint>;
  restore(ck: SftCheckpoint): void;
  exactMatch(eosIds: readonly number[]): Promise<number | null>;
  dispose(): void;
  /**
   * Optional (SftRunner): timing from the device queue instead of the runner's own clock, for interleaved
   * runs. `submitted` flushes what the runner recorded and resolves once the device has run everything
   * submitted so far; while `queueClock(true)` holds, the runner's recording and waits stop counting as its
   * time and the scheduler adds each step's share of the queue through `addActiveMs`.
   */
  submitted?(): Promise<void>;
  queueClock?(on: boolean): void;
  addActiveMs?(ms: number): void;
}

/**
 * A run's device: destroyed (or, for a shared device, the run's hold on it given back) when the run ends,
 * so its memory is freed with it.
 */
export interface RunDevice {
  destroy(): void;
  /** The device behind it when several runs share one (the worker's): they all fail when it is lost. */
  readonly shared?: unknown;
  /**
   * The run finished training (its weights stay for generation and export): what only its steps used can
   * go back to the device (the reuse pool of a shared device, which the next run's shapes may not fit).
   */
  finished?(): void;
  /**
   * The device's loss behind a failure, if it was lost: a read that fails because the device went can beat
   * the device's own report of the loss by a few tasks (Chromium rejects the pending map first), so the
   * failure alone does not say. Resolves null when the device is alive.
   */
  lossBehind?(): Promise<Error | null>;
}

/** A runner made for a run, with the figures the page shows when the run starts. */
export interface CreatedRunner<R> {
  runner: R;
  trainExamples: number;
  evalExamples: number;
  /** End-of-sequence ids for the exact-match metric at the end. */
  eosIds: readonly number[];
}

export interface SchedulerEffects<D extends RunDevice, R extends SteppedRunner> {
  post(m: FromWorker): void;
  acquireDevice(): Promise<D>;
  /** The run's runner on its device (dataset, model and method come from the spec). */
  createRunner(spec: RunSpec, device: D): Promise<CreatedRunner<R>>;
  saveCheckpoint(runId: string, ck: SftCheckpoint, spec: RunSpec): Promise<void>;
  loadCheckpoint(runId: string): Promise<SftCheckpoint | null>;
  /** A finished run's spec and last checkpoint, saved by an earlier page; null if none. */
  loadSavedRun(runId: string): Promise<{ spec: RunSpec; ck: SftCheckpoint } | null>;
  deleteCheckpoint(runId: string): Promise<void>;
  /** Milliseconds, monotonic. */
  now(): number;
  /** Resolves after `ms` on a macrotask, so messages (pause, stop) get in between steps. */
  sleep(ms: number): Promise<void>;
}

export interface Run<D extends RunDevice, R extends SteppedRunner> {
  spec: RunSpec;
  state: RunState;
  device: D | null;
  runner: R | null;
  eosIds: readonly number[];
  /** Wall time spent running (paused time excluded), for the time-left estimate. */
  wallMs: number;
  /** Wall time and step at this run's first reported point (since it last started): the time left is
   * measured from here, so the first step's pipeline compilation does not count as a step's time. */
  etaMark: { wallMs: number; step: number } | null;
  lastTick: number;
  finished: Promise<void>;
  resolveFinished: () => void;
  /** A generation, measurement or export is using the adapter's state: steps wait. */
  busy: boolean;
  /** Step of the last checkpoint saved (or resumed from) since this record started; null: none yet. */
  checkpointStep: number | null;
}

type Batch = Extract<FromWorker, { type: 'metrics' }>['batch'];

/** Metric batches go out at most this often: each one costs the page a store update and a chart redraw. */
export const OUTBOX_MS = 250;
/** How long the loop waits when every active run is paused or busy. */
const IDLE_MS = 50;

export const TERMINAL: ReadonlySet<RunState> = new Set<RunState>(['done', 'stopped', 'error']);

/** The sentence a failed run shows: what happened and what to try. */
export function explainFailure(e: unknown, sharedDevice = false): string {
  const err = e instanceof Error ? e : new Error(String(e));
  if (err.name === 'GpuOutOfMemoryError')
    return `${err.message} Try a smaller batch or sequence length, or a method that trains fewer weights.`;
  if (err.name === 'GpuDeviceLostError')
    return sharedDevice
      ? `${err.message} Every run on this device stopped with it; resume each from its last checkpoint.`
      : `${err.message} The other runs go on; start this one again.`;
  return err.message;
}

const isDeviceLost = (e: unknown) => e instanceof Error && e.name === 'GpuDeviceLostError';

/**
 * The sentence a run ended by a lost device shows: why the device went (the GPU layer's reason and detail),
 * the step the run was at, the checkpoint kept and what Resume does with it.
 */
export function deviceLostMessage(
  e: Error,
  step: number,
  checkpointStep: number | null,
  sharedDevice: boolean,
): string {
  // The error's own fields (GpuDeviceLostError), not its sentence: that one tells a user to reload.
  const lost = e as { reason?: unknown; detail?: unknown };
  const why =
    typeof lost.reason === 'string'
      ? deviceLostWhy(lost.reason, typeof lost.detail === 'string' ? lost.detail : '')
      : 'unknown reason';
  const kept =
    checkpointStep !== null
      ? `the last checkpoint at step ${checkpointStep} is kept; Resume continues from it on a new device.`
      : 'no checkpoint had been saved yet; Resume starts it again from step 0 on a new device.';
  const others = sharedDevice ? ' Every run on this device stopped with it.' : ' The other runs go on.';
  return `The GPU device was lost (${why}) at step ${step}; ${kept}${others}`;
}

/** The schedule for a start: one after another when the runs' predicted bytes together exceed the budget. */
export function planSchedule(
  specs: readonly RunSpec[],
  budgetBytes: number,
): Extract<FromWorker, { type: 'schedule' }> {
  // Runs borrow one frozen base (worker/device.ts): counted once, each run adds only what is its own.
  const shared = specs.reduce((m, s) => Math.max(m, s.predictedFrozenBytes ?? 0), 0);
  const total = shared + specs.reduce((a, s) => a + s.predictedBytes - (s.predictedFrozenBytes ?? 0), 0);
  const gib = (b: number) => `${(b / 2 ** 30).toFixed(2)} GiB`;
  const sequential = specs.length > 1 && total > budgetBytes;
  return {
    type: 'schedule',
    mode: sequential ? 'sequential' : 'interleaved',
    message: sequential
      ? `The ${specs.length} runs need ${gib(total)} together (predicted), over the ${gib(budgetBytes)} budget: they run one after another.`
      : `The ${specs.length} run(s) need ${gib(total)} together (predicted), within the ${gib(budgetBytes)} budget: their steps are interleaved.`,
  };
}

export class Scheduler<D extends RunDevice, R extends SteppedRunner> {
  private readonly runs = new Map<string, Run<D, R>>();
  private outbox: Batch = [];
  private lastFlush = Number.NEGATIVE_INFINITY;
  private loopRunning = false;
  /** Finished runs being brought back from their last checkpoint, by id (one revival per run at a time). */
  private readonly reviving = new Map<string, Promise<void>>();

  constructor(private readonly fx: SchedulerEffects<D, R>) {}

  /** The run's record, if the worker has it. */
  get(runId: string): Run<D, R> | undefined {
    return this.runs.get(runId);
  }

  // ---- messages from the page ---------------------------------------------------------------------

  /** Starts runs (interleaved, or one after another over the budget); resolves when the last one has started. */
  async start(specs: RunSpec[], budgetBytes: number): Promise<void> {
    const fresh = specs.map((spec) => {
      const run = this.newRun(spec);
      this.runs.set(spec.id, run);
      this.fx.post({ type: 'runState', runId: spec.id, state: 'queued' });
      return run;
    });
    const schedule = planSchedule(specs, budgetBytes);
    this.fx.post(schedule);
    for (const run of fresh) {
      if (run.state !== 'queued') continue; // stopped while waiting
      try {
        await this.prepare(run);
      } catch (e) {
        await this.failRun(run, e);
        continue;
      }
      void this.loop();
      // Its training memory (activations, workspace) is gone when it ends; its weights stay for generation
      // and export.
      if (schedule.mode === 'sequential') await run.finished;
    }
  }

  /**
   * Continues a run interrupted by a reload, or ended by a lost device, from its last checkpoint (from step 0
   * when none was saved); a lost device is replaced by a new one when the run acquires its device.
   */
  async resumeInterrupted(spec: RunSpec): Promise<void> {
    // A copy brought back for generation or export gives way to the run that trains on.
    const old = this.runs.get(spec.id);
    if (old) this.release(old);
    const run = this.newRun(spec);
    this.runs.set(spec.id, run);
    try {
      const ck = await this.fx.loadCheckpoint(spec.id);
      await this.prepare(run, ck);
      if (!ck)
        this.fx.post({
          type: 'runError',
          runId: spec.id,
          message: 'no checkpoint was saved before it stopped: it starts again from step 0',
        });
    } catch (e) {
      await this.failRun(run, e);
      return;
    }
    if (run.state !== 'running') return;
    if (run.runner?.done) {
      try {
        await this.finishRun(run);
      } catch (e) {
        await this.failRun(run, e);
      }
      return;
    }
    void this.loop();
  }

  pause(runId: string): void {
    const run = this.runs.get(runId);
    if (run?.state === 'running') this.setState(run, 'paused');
  }

  resume(runId: string): void {
    const run = this.runs.get(runId);
    if (run?.state !== 'paused') return;
    run.lastTick = this.fx.now();
    this.setState(run, 'running');
    void this.loop();
  }

  stop(runId: string): void {
    const run = this.runs.get(runId);
    if (!run || !['running', 'paused', 'loading', 'queued'].includes(run.state)) return;
    const wasLoading = run.state === 'loading';
    this.setState(run, 'stopped');
    // A run still loading is released by prepare() when its runner arrives.
    if (!wasLoading) this.release(run);
  }

  /** Drops runs (stopping any still going) and their saved checkpoints. */
  forget(runIds: readonly string[]): void {
    for (const id of runIds) {
      const run = this.runs.get(id);
      if (run) {
        if (!TERMINAL.has(run.state)) this.setState(run, 'stopped');
        this.release(run);
        this.runs.delete(id);
      }
      void this.fx.deleteCheckpoint(id).catch(() => undefined);
    }
  }

  // ---- trained state for generation, latency and export ---------------------------------------------

  /** A run's record and runner, brought back from its last checkpoint first when an earlier page ran it. */
  async idleRunner(runId: string): Promise<{ run: Run<D, R>; runner: R }> {
    let p = this.reviving.get(runId);
    if (!p && !this.runs.has(runId)) {
      p = this.revive(runId).finally(() => this.reviving.delete(runId));
      this.reviving.set(runId, p);
    }
    await p;
    const run = this.runs.get(runId);
    if (!run?.runner) throw new Error('this run has no trained state in the worker (it stopped or failed)');
    return { run, runner: run.runner };
  }

  /** Runs `f` on a run's state while its steps wait (generation may run beside training; this may not). */
  async exclusive<T>(runId: string, f: (run: Run<D, R>, r: R) => Promise<T>): Promise<T> {
    const { run, runner } = await this.idleRunner(runId);
    if (run.state === 'running') throw new Error('pause the run (or let it finish) first');
    return this.whileBusy(run, () => f(run, runner));
  }

  /** Runs `f` with the run's steps held back. */
  async whileBusy<T>(run: Run<D, R>, f: () => Promise<T>): Promise<T> {
    run.busy = true;
    try {
      return await f();
    } finally {
      run.busy = false;
    }
  }

  // ---- the state machine ----------------------------------------------------------------------------

  private newRun(spec: RunSpec): Run<D, R> {
    let resolveFinished = () => {};
    const finished = new Promise<void>((r) => {
      resolveFinished = r;
    });
    return {
      spec,
      state: 'queued',
      device: null,
      runner: null,
      eosIds: [],
      wallMs: 0,
      etaMark: null,
      lastTick: 0,
      finished,
      resolveFinished,
      busy: false,
      checkpointStep: null,
    };
  }

  private setState(run: Run<D, R>, state: RunState, message?: string, resumable?: boolean): void {
    run.state = state;
    this.fx.post({
      type: 'runState',
      runId: run.spec.id,
      state,
      message,
      ...(resumable ? { resumable } : {}),
    });
    if (TERMINAL.has(state)) run.resolveFinished();
  }

  private release(run: Run<D, R>): void {
    try {
      run.runner?.dispose();
    } catch {
      // A lost device cannot free buffers; destroying the device below is all that is left to do.
    }
    run.runner = null;
    run.device?.destroy();
    run.device = null;
  }

  /** Ends a failed run, as a device loss when its device turns out lost (see RunDevice.lossBehind). */
  private async failRun(run: Run<D, R>, e: unknown): Promise<void> {
    const loss = isDeviceLost(e) ? null : await run.device?.lossBehind?.().catch(() => null);
    this.fail(run, loss ?? e);
  }

  private fail(run: Run<D, R>, e: unknown): void {
    const shared = run.device?.shared;
    const lost = isDeviceLost(e);
    /** Ends a run that was on a lost device: told where it was and which checkpoint Resume continues from. */
    const endLost = (r: Run<D, R>, live: boolean) => {
      const step = r.runner?.step ?? 0;
      this.release(r);
      if (live)
        this.setState(
          r,
          'error',
          deviceLostMessage(e as Error, step, r.checkpointStep, shared !== undefined),
          true,
        );
    };
    // A run stopped while a step was in flight stays stopped: the step's error is the stop's doing.
    if (lost) endLost(run, run.state !== 'stopped');
    else {
      this.release(run);
      if (run.state !== 'stopped') this.setState(run, 'error', explainFailure(e, shared !== undefined));
    }
    // A lost shared device takes every run on it down now (a paused one too), not at its next step.
    if (shared === undefined || !lost) return;
    for (const other of this.runs.values()) {
      if (other === run || other.device?.shared !== shared) continue;
      const live = !TERMINAL.has(other.state);
      endLost(other, live);
      // A finished run's trained state went with the device: it is brought back from its last checkpoint
      // on a new device when generation or an export asks for it (idleRunner → revive).
      if (!live && other.state === 'done') this.runs.delete(other.spec.id);
    }
  }

  /** revive: bring a finished run back (after a reload) for generation and export, silently, without training. */
  private async prepare(run: Run<D, R>, resume: SftCheckpoint | null = null, revive = false): Promise<void> {
    if (revive) run.state = 'loading';
    else this.setState(run, 'loading');
    // Set before the device is acquired: a loss while loading still names the checkpoint Resume would use.
    run.checkpointStep = resume?.step ?? null;
    run.device = await this.fx.acquireDevice();
    if (run.state !== 'loading') return this.release(run); // stopped while acquiring
    const made = await this.fx.createRunner(run.spec, run.device);
    run.runner = made.runner;
    run.eosIds = made.eosIds;
    if (resume) made.runner.restore(resume);
    if (run.state !== 'loading') return this.release(run); // stopped while loading
    if (revive) {
      run.state = 'done';
      run.resolveFinished();
      return;
    }
    run.lastTick = this.fx.now();
    run.wallMs = resume?.activeMs ?? 0;
    run.etaMark = null;
    const info = made.runner.adapter.method.info;
    this.fx.post({
      type: 'runState',
      runId: run.spec.id,
      state: 'running',
      info: {
        trainableParams: made.runner.trainableParams,
        totalParams: made.runner.totalParams,
        trainExamples: made.trainExamples,
        evalExamples: made.evalExamples,
        mergeable: info.mergeable,
        method: info.name,
      },
      resumedFrom: resume ? resume.step : undefined,
    });
    run.state = 'running';
  }

  /** A finished run of an earlier page (after a reload): rebuilt from its saved spec and last checkpoint. */
  private async revive(runId: string): Promise<void> {
    const saved = await this.fx.loadSavedRun(runId);
    if (!saved)
      throw new Error(
        'this run is not in the worker, and no checkpoint of it was saved: resume it first, or import its adapter',
      );
    const run = this.newRun(saved.spec);
    this.runs.set(runId, run);
    try {
      await this.prepare(run, saved.ck, true);
    } catch (e) {
      this.release(run);
      this.runs.delete(runId);
      throw e;
    }
  }

  // ---- metrics out, in batches ----------------------------------------------------------------------

  private queuePoints(run: Run<D, R>, points: MetricPoint[]): void {
    const r = run.runner;
    if (!r || points.length === 0) return;
    const steps = run.spec.config.steps;
    // Time left from steady-state steps only: the wall time and step at the first reported point mark
    // the end of the warm-up (the first step compiles the run's pipelines, seconds on a software GPU; an
    // average over it said "1 s left" for minutes). No estimate until a step after the mark is done.
    const wall = run.wallMs + Math.max(0, this.fx.now() - run.lastTick);
    if (!run.etaMark && r.step > 0) run.etaMark = { wallMs: wall, step: r.step };
    const m = run.etaMark;
    const etaS =
      m && r.step > m.step ? (((wall - m.wallMs) / (r.step - m.step)) * (steps - r.step)) / 1000 : null;
    this.outbox.push({ runId: run.spec.id, points, memory: r.memory(), etaS });
  }

  private flushOutbox(force = false): void {
    const now = this.fx.now();
    if (this.outbox.length === 0 || (!force && now - this.lastFlush < OUTBOX_MS)) return;
    this.fx.post({ type: 'metrics', batch: this.outbox });
    this.outbox = [];
    this.lastFlush = now;
  }

  // ---- the step loop --------------------------------------------------------------------------------

  private async finishRun(run: Run<D, R>): Promise<void> {
    const r = run.runner;
    if (!r) return;
    this.queuePoints(run, await r.flush());
    const e = await r.evalPoint();
    if (e) this.queuePoints(run, [e]);
    this.flushOutbox(true);
    let exactMatch: number | null = null;
    try {
      exactMatch = await r.exactMatch(run.eosIds);
    } catch (err) {
      console.warn('exact match failed:', err);
    }
    this.fx.post({
      type: 'runResults',
      runId: run.spec.id,
      results: { evalLoss: e?.evalLoss ?? null, exactMatch },
    });
    // The trained state is kept (generation, export, latency) and saved, so it survives a reload too.
    const unsaved = run.spec.checkpointEvery > 0 ? await this.checkpointRun(run) : null;
    run.device?.finished?.();
    this.setState(run, 'done', unsaved ?? undefined);
  }

  /**
   * Saves the run's state. A save that fails (the storage quota, a refused IndexedDB) does not end the run:
   * its state is whole in memory, so it goes on (or stays, when done) and the page is told, in the words
   * returned here, that a reload would lose it and an export keeps it.
   */
  private async checkpointRun(run: Run<D, R>): Promise<string | null> {
    const r = run.runner;
    if (!r) return null;
    // Every point up to the checkpoint goes out first, so the page saves them with it (none lost on a reload).
    this.queuePoints(run, await r.flush());
    this.flushOutbox(true);
    const ck = await r.checkpoint();
    try {
      await this.fx.saveCheckpoint(run.spec.id, ck, run.spec);
    } catch (e) {
      const message = checkpointNotSaved(ck.step, e);
      this.fx.post({ type: 'runError', runId: run.spec.id, message });
      return message;
    }
    run.checkpointStep = ck.step;
    this.fx.post({ type: 'runResults', runId: run.spec.id, results: { checkpointStep: ck.step } });
    return null;
  }

  private async stepRun(run: Run<D, R>): Promise<void> {
    const r = run.runner;
    if (!r) return;
    if (r.done) return this.finishRun(run);
    const now = this.fx.now();
    run.wallMs += now - run.lastTick;
    run.lastTick = now;
    const interleaved = this.interleaved();
    const byQueue = interleaved && !!(r.submitted && r.queueClock && r.addActiveMs);
    r.queueClock?.(byQueue);
    const t0 = this.fx.now();
    r.stepOnce();
    // Keep at most two loss reads in flight per device: the queue stays short, so pause and stop act fast.
    // Interleaved with other runs, a run's wall time would include the others' work in flight (its tokens/s
    // and ms/step are one of the five things compared). So each step's time is its slice of the device's
    // timeline: from when it began recording (or the previous step's work finished, if later) to when its
    // work finished. The queue is never drained for it. A runner without a queue clock is drained each step.
    if (byQueue) this.timeStep(r, t0);
    await r.settle(interleaved && !byQueue ? 0 : 2);
    this.queuePoints(run, r.takePoints());
    const c = run.spec.config;
    if (r.done) return this.finishRun(run);
    if (c.evalEvery > 0 && r.step % c.evalEvery === 0) {
      this.queuePoints(run, await r.flush());
      const e = await r.evalPoint();
      if (e) this.queuePoints(run, [e]);
    }
    if (run.spec.checkpointEvery > 0 && r.step % run.spec.checkpointEvery === 0)
      await this.checkpointRun(run);
  }

  private readonly timeline = new QueueTimeline();

  /** Adds the step's slice of the device timeline to its run once its work has finished. */
  private timeStep(r: R, t0: number): void {
    r.submitted?.().then(
      () => r.addActiveMs?.(this.timeline.slice(t0, this.fx.now())),
      // A failed device surfaces through the step's own reads (settle), which fail the run.
      () => undefined,
    );
  }

  /** More than one run is stepping now. */
  private interleaved(): boolean {
    let n = 0;
    for (const r of this.runs.values()) if (r.state === 'running' && r.runner) n++;
    return n > 1;
  }

  /** Steps every running run in turn until none is running or paused; one loop at a time. */
  private async loop(): Promise<void> {
    if (this.loopRunning) return;
    this.loopRunning = true;
    try {
      for (;;) {
        const active = [...this.runs.values()].filter((r) => r.state === 'running' || r.state === 'paused');
        const running = active.filter((r) => r.state === 'running' && r.runner && !r.busy);
        if (active.length === 0) break;
        for (const run of running) {
          if (run.state !== 'running' || run.busy) continue;
          try {
            await this.stepRun(run);
          } catch (e) {
            this.flushOutbox(true);
            await this.failRun(run, e);
          }
          this.flushOutbox();
          // A macrotask between steps lets pause/stop messages in.
          await this.fx.sleep(0);
        }
        if (running.length === 0) await this.fx.sleep(IDLE_MS);
      }
    } finally {
      this.flushOutbox(true);
      this.loopRunning = false;
    }
  }
}

/**
 * One device's timeline for steps timed by the queue. Work on a device finishes in submission order, so a
 * step's slice runs from when it began recording (or when the previous step's work finished, if later) to
 * when its own work finished: the slices of interleaved runs tile the busy time without overlap.
 */
export class QueueTimeline {
  private lastDone = Number.NEGATIVE_INFINITY;

  /** The slice of a step that began at `start` and whose work finished at `done` (calls in finish order). */
  slice(start: number, done: number): number {
    const ms = Math.max(0, done - Math.max(start, this.lastDone));
    this.lastDone = Math.max(this.lastDone, done);
    return ms;
  }
}

/** The notice for a checkpoint the browser would not store. */
export function checkpointNotSaved(step: number, e: unknown): string {
  const name = (e as { name?: string } | null)?.name;
  const why =
    name === 'QuotaExceededError'
      ? "the browser's storage for this site is full"
      : e instanceof Error
        ? e.message
        : String(e);
  return `The checkpoint at step ${step} could not be saved (${why}). The run is kept in memory and goes on, but a reload would lose it: export its adapter to keep it.`;
}
