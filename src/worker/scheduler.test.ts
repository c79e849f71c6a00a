// The worker's scheduler driven in Node with injected effects and scripted runners (test doubles: the point
// here is the state machine, not the training): the message sequence of a run, interleaved round-robin
// order versus one after another over the memory budget, pause / resume / stop, the 250 ms metrics outbox,
// the checkpoint cadence, a failing run ending only itself with its reason (a lost GPU device too), resuming from a checkpoint, and
// bringing a finished run back for export. scheduler-real.test.ts drives real SFT runners through it.
import { describe, expect, it } from 'vitest';
import { type ByCategory, zeroByCategory } from '../gpu/arena';
import { GpuDeviceLostError } from '../gpu/errors';
import type { MetricPoint, SftCheckpoint } from '../train/sft-config';
import { SFT_DEFAULTS } from '../train/sft-config';
import type { FromWorker, RunSpec, RunState } from './protocol';
import {
  OUTBOX_MS,
  planSchedule,
  QueueTimeline,
  Scheduler,
  type SchedulerEffects,
  type SteppedRunner,
} from './scheduler';

/** The test's world: a clock that moves only when a step runs, the messages posted, the steps taken. */
class World {
  t = 0;
  readonly posted: FromWorker[] = [];
  readonly steps: string[] = [];
  readonly saved: { runId: string; step: number }[] = [];
  readonly store = new Map<string, { spec: RunSpec; ck: SftCheckpoint }>();
  readonly devices: FakeDevice[] = [];
  readonly runners = new Map<string, FakeRunner>();
  /** Per run id: what its runner does at a step (called after the step is taken). */
  readonly onStep = new Map<string, (step: number) => void>();
  readonly failCreate = new Set<string>();
  /** Run ids whose checkpoint saves fail as a full storage quota does. */
  readonly failSave = new Set<string>();
  /** Set: every run's device is a hold on this one device (as in the worker). */
  shared: object | undefined = undefined;
  /** Set: runners have a queue clock, and each step's GPU work takes this long after its recording. */
  gpuMs: number | null = null;
  /** When the simulated device finishes what was submitted so far. */
  gpuDone = 0;
  /** Set: the devices report this loss when a failure asks whether one is behind it (lossBehind). */
  loss: Error | null = null;

  states(runId: string): RunState[] {
    return this.posted.flatMap((m) => (m.type === 'runState' && m.runId === runId ? [m.state] : []));
  }

  metrics(): Extract<FromWorker, { type: 'metrics' }>[] {
    return this.posted.filter((m): m is Extract<FromWorker, { type: 'metrics' }> => m.type === 'metrics');
  }

  /** Every loss point of a run that went out, in order. */
  lossSteps(runId: string): number[] {
    return this.metrics().flatMap((m) =>
      m.batch
        .filter((b) => b.runId === runId)
        .flatMap((b) => b.points.filter((p) => p.loss !== null).map((p) => p.step)),
    );
  }
}

class FakeDevice {
  destroyed = false;
  /** Times the scheduler said its run finished training (the worker trims the pool then). */
  finishes = 0;
  finished(): void {
    this.finishes++;
  }
  /** The device behind the run's hold when the world shares one (the worker's SharedDevice). */
  constructor(
    readonly shared?: object,
    private readonly world?: World,
  ) {}
  async lossBehind(): Promise<Error | null> {
    return this.world?.loss ?? null;
  }
  destroy(): void {
    this.destroyed = true;
  }
}

const point = (step: number, loss: number | null, evalLoss: number | null = null): MetricPoint => ({
  step,
  tokens: step * 10,
  timeMs: step * 100,
  loss,
  evalLoss,
  lr: 0.01,
  tokensPerS: 100,
  memory: zeroByCategory(),
  peakBytes: 0,
  peakByCategory: zeroByCategory(),
});

/** A scripted runner: each step takes 100 ms of the world's clock and logs a loss of 1/step. */
class FakeRunner implements SteppedRunner {
  step = 0;
  disposed = false;
  readonly settles: number[] = [];
  private points: MetricPoint[] = [];
  readonly trainableParams = 10;
  readonly totalParams = 100;
  readonly adapter = { method: { info: { mergeable: true, name: 'lora' } } };

  constructor(
    private readonly id: string,
    private readonly steps: number,
    private readonly world: World,
  ) {}

  get done(): boolean {
    return this.step >= this.steps;
  }
  stepOnce(): void {
    if (this.disposed) throw new Error('stepped after dispose');
    this.step++;
    this.world.t += 100;
    this.world.steps.push(`${this.id}${this.step}`);
    this.points.push(point(this.step, 1 / this.step));
    this.world.onStep.get(this.id)?.(this.step);
  }
  async settle(max: number): Promise<void> {
    this.settles.push(max);
  }
  takePoints(): MetricPoint[] {
    const p = this.points;
    this.points = [];
    return p;
  }
  async flush(): Promise<MetricPoint[]> {
    return this.takePoints();
  }
  async evalPoint(): Promise<MetricPoint | null> {
    return point(this.step, null, 2);
  }
  memory(): ByCategory {
    return zeroByCategory();
  }
  async checkpoint(): Promise<SftCheckpoint> {
    const z = new Float32Array(1);
    return { step: this.step, tokens: 0, activeMs: this.step * 100, params: z, m: z, v: z };
  }
  restore(ck: SftCheckpoint): void {
    this.step = ck.step;
  }
  async exactMatch(): Promise<number | null> {
    return 0.5;
  }
  dispose(): void {
    this.disposed = true;
  }
}

/**
 * A runner with a queue clock (as SftRunner): its work is submitted at the end of each step and finishes
 * world.gpuMs later, in submission order; the world's clock jumps to that moment when it resolves.
 */
class QueueRunner extends FakeRunner {
  readonly clock: boolean[] = [];
  readonly slices: number[] = [];
  constructor(id: string, steps: number, world: World) {
    super(id, steps, world);
    this.w = world;
  }
  private readonly w: World;
  submitted(): Promise<void> {
    const finish = Math.max(this.w.t, this.w.gpuDone) + (this.w.gpuMs ?? 0);
    this.w.gpuDone = finish;
    return Promise.resolve().then(() => {
      this.w.t = Math.max(this.w.t, finish);
    });
  }
  queueClock(on: boolean): void {
    this.clock.push(on);
  }
  addActiveMs(ms: number): void {
    this.slices.push(ms);
  }
}

function spec(id: string, steps: number, extra: Partial<RunSpec> = {}): RunSpec {
  return {
    id,
    label: id,
    datasetId: 'd',
    config: { ...SFT_DEFAULTS, method: 'lora', options: {}, lr: 0.01, steps, evalEvery: 0 },
    evalFraction: 0.1,
    checkpointEvery: 0,
    predictedBytes: 100,
    ...extra,
  };
}

function scheduler(w: World): Scheduler<FakeDevice, FakeRunner> {
  const fx: SchedulerEffects<FakeDevice, FakeRunner> = {
    post: (m) => w.posted.push(m),
    acquireDevice: async () => {
      const d = new FakeDevice(w.shared, w);
      w.devices.push(d);
      return d;
    },
    createRunner: async (s) => {
      if (w.failCreate.has(s.id)) throw new Error(`dataset of ${s.id} is neither loaded nor saved`);
      const runner =
        w.gpuMs === null ? new FakeRunner(s.id, s.config.steps, w) : new QueueRunner(s.id, s.config.steps, w);
      w.runners.set(s.id, runner);
      return { runner, trainExamples: 9, evalExamples: 1, eosIds: [2] };
    },
    saveCheckpoint: async (runId, ck, s) => {
      if (w.failSave.has(runId)) throw new DOMException('quota', 'QuotaExceededError');
      w.saved.push({ runId, step: ck.step });
      w.store.set(runId, { spec: s, ck });
    },
    loadCheckpoint: async (runId) => w.store.get(runId)?.ck ?? null,
    loadSavedRun: async (runId) => w.store.get(runId) ?? null,
    deleteCheckpoint: async (runId) => {
      w.store.delete(runId);
    },
    now: () => w.t,
    sleep: () => new Promise((r) => setTimeout(r, 0)),
  };
  return new Scheduler(fx);
}

/** Resolves when every named run has reached a final state. */
async function settled(s: Scheduler<FakeDevice, FakeRunner>, ids: string[]): Promise<void> {
  for (const id of ids) await s.get(id)?.finished;
}

describe('Scheduler', () => {
  it('posts a run from queued through loading and running to done, with its info and results', async () => {
    const w = new World();
    const s = scheduler(w);
    await s.start([spec('a', 3)], 1000);
    await settled(s, ['a']);
    expect(w.states('a')).toEqual(['queued', 'loading', 'running', 'done']);
    const running = w.posted.find((m) => m.type === 'runState' && m.state === 'running');
    expect(running).toMatchObject({
      info: {
        trainableParams: 10,
        totalParams: 100,
        trainExamples: 9,
        evalExamples: 1,
        mergeable: true,
        method: 'lora',
      },
    });
    const results = w.posted.filter((m) => m.type === 'runResults');
    expect(results).toEqual([{ type: 'runResults', runId: 'a', results: { evalLoss: 2, exactMatch: 0.5 } }]);
    expect(w.lossSteps('a')).toEqual([1, 2, 3]);
    // The message order: schedule before any loading, results before done.
    const kinds = w.posted.map((m) => (m.type === 'runState' ? m.state : m.type));
    expect(kinds.indexOf('schedule')).toBeLessThan(kinds.indexOf('loading'));
    expect(kinds.lastIndexOf('runResults')).toBeLessThan(kinds.indexOf('done'));
    // The trained state stays for generation and export: the device is not destroyed at the end.
    expect(w.devices[0]?.destroyed).toBe(false);
    expect(w.runners.get('a')?.disposed).toBe(false);
  });

  it('interleaves runs within the budget, one step each in turn, each step drained', async () => {
    const w = new World();
    const s = scheduler(w);
    await s.start([spec('a', 3), spec('b', 3)], 1000);
    await settled(s, ['a', 'b']);
    expect(w.posted.find((m) => m.type === 'schedule')).toMatchObject({ mode: 'interleaved' });
    // b is prepared while a's loop has started: a steps alone until b is ready, then they alternate.
    expect(w.steps).toEqual(['a1', 'a2', 'b1', 'a3', 'b2', 'b3']);
    // Interleaved, each step is drained (settle 0); a's first step, alone, keeps two in flight.
    expect(w.runners.get('a')?.settles).toEqual([2, 0, 0]);
    // a is done at its third step: b's last two run alone.
    expect(w.runners.get('b')?.settles).toEqual([0, 2, 2]);
    expect(w.states('a').at(-1)).toBe('done');
    expect(w.states('b').at(-1)).toBe('done');
  });

  it('times interleaved steps by the device queue (no drain): each step its slice of the timeline', async () => {
    const w = new World();
    w.gpuMs = 300;
    const s = scheduler(w);
    await s.start([spec('a', 3), spec('b', 3)], 1000);
    await settled(s, ['a', 'b']);
    expect(w.steps).toEqual(['a1', 'a2', 'b1', 'a3', 'b2', 'b3']);
    const a = w.runners.get('a') as QueueRunner;
    const b = w.runners.get('b') as QueueRunner;
    // Alone, a run keeps its own clock; interleaved, the queue's, and nothing is drained (settle 2).
    expect(a.clock).toEqual([false, true, true]);
    expect(b.clock).toEqual([true, false, false]);
    expect(a.settles).toEqual([2, 2, 2]);
    expect(b.settles).toEqual([2, 2, 2]);
    // Each interleaved step: 100 ms of recording, then 300 ms of its own GPU work.
    expect(a.slices).toEqual([400, 400]);
    expect(b.slices).toEqual([400]);
  });

  it('QueueTimeline: slices tile the busy time of one device without overlap', () => {
    const t = new QueueTimeline();
    expect(t.slice(0, 500)).toBe(500);
    // Began recording at 100 while the first was still running: its slice starts when that one finished.
    expect(t.slice(100, 800)).toBe(300);
    // An idle gap (800 → 900) belongs to no step.
    expect(t.slice(900, 950)).toBe(50);
    // Finished no later than the one before it: nothing of its own.
    expect(t.slice(920, 940)).toBe(0);
    expect(t.slice(1000, 1200)).toBe(200);
  });

  it('counts the frozen base the runs share once when it decides between interleaving and one after another', () => {
    // Three runs of 100 bytes of which 80 are the shared base: 80 + 3·20 = 140, not 300.
    const shared = [spec('a', 1), spec('b', 1), spec('c', 1)].map((r) => ({
      ...r,
      predictedFrozenBytes: 80,
    }));
    expect(planSchedule(shared, 150)).toMatchObject({ mode: 'interleaved' });
    expect(planSchedule(shared, 150).message).toContain('0.00 GiB');
    expect(planSchedule(shared, 139)).toMatchObject({ mode: 'sequential' });
    // Without the split, each run's figure is its own.
    expect(planSchedule([spec('a', 1), spec('b', 1), spec('c', 1)], 250)).toMatchObject({
      mode: 'sequential',
    });
  });

  it('runs one after another when the predicted memory exceeds the budget, the later ones queued', async () => {
    const w = new World();
    const s = scheduler(w);
    const started = s.start([spec('a', 2), spec('b', 2), spec('c', 1)], 250);
    // Until a is done, b and c have only been queued.
    await s.get('a')?.finished;
    expect(w.states('b')).toEqual(['queued']);
    expect(w.states('c')).toEqual(['queued']);
    await started;
    await settled(s, ['a', 'b', 'c']);
    const schedule = w.posted.find((m) => m.type === 'schedule');
    expect(schedule).toMatchObject({ mode: 'sequential' });
    expect(schedule && 'message' in schedule && schedule.message).toContain('over the');
    expect(w.steps).toEqual(['a1', 'a2', 'b1', 'b2', 'c1']);
    // Alone, every step keeps two in flight.
    expect(w.runners.get('b')?.settles).toEqual([2, 2]);
    // b loads only after a is done.
    const order = w.posted.flatMap((m) => (m.type === 'runState' ? [`${m.runId}:${m.state}`] : []));
    expect(order.indexOf('b:loading')).toBeGreaterThan(order.indexOf('a:done'));
    expect(order.indexOf('c:loading')).toBeGreaterThan(order.indexOf('b:done'));
  });

  it('a run stopped while queued never loads', async () => {
    const w = new World();
    const s = scheduler(w);
    w.onStep.set('a', (step) => {
      if (step === 1) s.stop('b');
    });
    await s.start([spec('a', 2), spec('b', 2)], 150);
    await settled(s, ['a', 'b']);
    expect(w.states('b')).toEqual(['queued', 'stopped']);
    expect(w.steps).toEqual(['a1', 'a2']);
  });

  it('pauses a run (the other goes on), resumes it, and stops one, releasing its device', async () => {
    const w = new World();
    const s = scheduler(w);
    w.onStep.set('a', (step) => {
      if (step === 2) s.pause('a');
    });
    w.onStep.set('b', (step) => {
      if (step === 4) s.resume('a');
    });
    w.onStep.set('c', (step) => {
      if (step === 2) s.stop('c');
    });
    await s.start([spec('a', 3), spec('b', 5), spec('c', 9)], 1000);
    await settled(s, ['a', 'b', 'c']);
    expect(w.states('a')).toEqual(['queued', 'loading', 'running', 'paused', 'running', 'done']);
    expect(w.states('c')).toEqual(['queued', 'loading', 'running', 'stopped']);
    // While a is paused (after a2 until b4), only b and c step; c takes no step after its stop.
    const a2 = w.steps.indexOf('a2');
    const a3 = w.steps.indexOf('a3');
    expect(w.steps.slice(a2 + 1, a3).some((x) => x.startsWith('a'))).toBe(false);
    expect(a3).toBeGreaterThan(w.steps.indexOf('b4'));
    expect(w.steps.filter((x) => x.startsWith('c'))).toEqual(['c1', 'c2']);
    expect(w.runners.get('c')?.disposed).toBe(true);
    expect(w.devices[2]?.destroyed).toBe(true);
    expect(w.devices[0]?.destroyed).toBe(false);
    expect(w.lossSteps('b')).toEqual([1, 2, 3, 4, 5]);
  });

  it('sends metrics in batches at most every 250 ms, all of them by the end', async () => {
    const w = new World();
    const s = scheduler(w);
    // The first step also compiles the run's pipelines: 5 s more than a steady step.
    w.onStep.set('a', (step) => {
      if (step === 1) w.t += 5000;
    });
    await s.start([spec('a', 10)], 1000);
    await settled(s, ['a']);
    const batches = w.metrics();
    // Each step moves the clock 100 ms: a batch every third step, plus the final flush.
    expect(batches.map((m) => m.batch.flatMap((b) => b.points.map((p) => p.step)))).toEqual([
      [1],
      [2, 3, 4],
      [5, 6, 7],
      // The last batch also carries the final eval point (step 10 again), flushed at once.
      [8, 9, 10, 10],
    ]);
    expect(OUTBOX_MS).toBe(250);
    // The time-left estimate comes from steady-state steps only: none at step 1 (its time is the compile),
    // then wall time per step since step 1 (100 ms, not the 2.6 s an average with step 1 gives) times the
    // steps left: 8 at step 2, and so on to the end.
    expect(batches[0]?.batch[0]?.etaS).toBeNull();
    expect(batches[1]?.batch[0]?.points[0]?.step).toBe(2);
    expect(batches[1]?.batch[0]?.etaS).toBeCloseTo((100 * (10 - 2)) / 1000, 9);
    for (const e of batches.flatMap((b) => b.batch).slice(1)) {
      const step = e.points[e.points.length - 1].step;
      expect(e.etaS, `at step ${step}`).toBeCloseTo((100 * (10 - step)) / 1000, 9);
    }
  });

  it('checkpoints every K steps and at the end, each announced after its points went out', async () => {
    const w = new World();
    const s = scheduler(w);
    await s.start([spec('a', 7, { checkpointEvery: 3 })], 1000);
    await settled(s, ['a']);
    expect(w.saved).toEqual([
      { runId: 'a', step: 3 },
      { runId: 'a', step: 6 },
      { runId: 'a', step: 7 },
    ]);
    const steps = w.posted.flatMap((m) =>
      m.type === 'runResults' && m.results.checkpointStep !== undefined ? [m.results.checkpointStep] : [],
    );
    expect(steps).toEqual([3, 6, 7]);
    // Every loss point up to a checkpoint was sent before the checkpoint's announcement.
    const at6 = w.posted.findIndex((m) => m.type === 'runResults' && m.results.checkpointStep === 6);
    const sentBefore = w.posted
      .slice(0, at6)
      .flatMap((m) => (m.type === 'metrics' ? m.batch.flatMap((b) => b.points.map((p) => p.step)) : []));
    expect(Math.max(...sentBefore)).toBe(6);
  });

  it('a failing run ends only itself, with its reason; a failing preparation too', async () => {
    const w = new World();
    const s = scheduler(w);
    w.onStep.set('b', (step) => {
      if (step === 2) {
        const e = new Error('out of memory in the arena.');
        e.name = 'GpuOutOfMemoryError';
        throw e;
      }
    });
    w.failCreate.add('c');
    await s.start([spec('a', 4), spec('b', 4), spec('c', 4)], 1000);
    await settled(s, ['a', 'b', 'c']);
    expect(w.states('a')).toEqual(['queued', 'loading', 'running', 'done']);
    expect(w.steps.filter((x) => x.startsWith('a'))).toEqual(['a1', 'a2', 'a3', 'a4']);
    const errorOf = (id: string) =>
      w.posted.find((m) => m.type === 'runState' && m.runId === id && m.state === 'error');
    expect(w.states('b')).toEqual(['queued', 'loading', 'running', 'error']);
    expect(errorOf('b')).toMatchObject({
      message:
        'out of memory in the arena. Try a smaller batch or sequence length, or a method that trains fewer weights.',
    });
    expect(w.runners.get('b')?.disposed).toBe(true);
    expect(w.devices[1]?.destroyed).toBe(true);
    expect(w.states('c')).toEqual(['queued', 'loading', 'error']);
    expect(errorOf('c')).toMatchObject({ message: 'dataset of c is neither loaded nor saved' });
    expect(w.devices[2]?.destroyed).toBe(true);
  });

  it('a lost GPU device ends only its run, with a sentence; its last checkpoint stays and resumes', async () => {
    const w = new World();
    const s = scheduler(w);
    // The device of run a is lost at its 5th step, as the GPU layer reports it (src/gpu/errors.ts).
    w.onStep.set('a', (step) => {
      if (step === 5) throw new GpuDeviceLostError('destroyed', 'the driver was reset');
    });
    await s.start([spec('a', 6, { checkpointEvery: 2 }), spec('b', 6, { checkpointEvery: 2 })], 1000);
    await settled(s, ['a', 'b']);
    expect(w.states('a')).toEqual(['queued', 'loading', 'running', 'error']);
    expect(
      w.posted.find((m) => m.type === 'runState' && m.runId === 'a' && m.state === 'error'),
    ).toMatchObject({
      message:
        'The GPU device was lost (destroyed: the driver was reset) at step 5; the last checkpoint at step 4 is kept; Resume continues from it on a new device. The other runs go on.',
      resumable: true,
    });
    expect(w.runners.get('a')?.disposed).toBe(true);
    expect(w.devices[0]?.destroyed).toBe(true);
    // The other run goes on to its end, on its own device.
    expect(w.states('b')).toEqual(['queued', 'loading', 'running', 'done']);
    expect(w.steps.filter((x) => x.startsWith('b'))).toEqual(['b1', 'b2', 'b3', 'b4', 'b5', 'b6']);
    expect(w.devices[1]?.destroyed).toBe(false);
    // Nothing done before the loss is lost: its losses went out and its checkpoint at step 4 is still stored.
    expect(w.lossSteps('a')).toEqual([1, 2, 3, 4]);
    expect(w.saved.filter((x) => x.runId === 'a').map((x) => x.step)).toEqual([2, 4]);
    expect(w.store.get('a')?.ck.step).toBe(4);
    // A new page (a fresh device) continues the run from that checkpoint.
    const w2 = new World();
    for (const [k, v] of w.store) w2.store.set(k, v);
    const s2 = scheduler(w2);
    await s2.resumeInterrupted(spec('a', 6, { checkpointEvery: 2 }));
    await settled(s2, ['a']);
    expect(w2.posted.find((m) => m.type === 'runState' && m.state === 'running')).toMatchObject({
      resumedFrom: 4,
    });
    expect(w2.steps).toEqual(['a5', 'a6']);
    expect(w2.states('a').at(-1)).toBe('done');
  });

  it('a lost shared device ends every run on it (a paused one too) with one sentence; checkpoints stay', async () => {
    const w = new World();
    w.shared = {};
    const s = scheduler(w);
    // c finishes first (its trained state kept for generation), b is paused at its step 2, then a's
    // device (everyone's) is lost at a's step 5.
    w.onStep.set('b', (step) => {
      if (step === 2) s.pause('b');
    });
    w.onStep.set('a', (step) => {
      if (step === 5) throw new GpuDeviceLostError('destroyed', 'the driver was reset');
    });
    await s.start(
      [spec('c', 1), spec('a', 6, { checkpointEvery: 2 }), spec('b', 6, { checkpointEvery: 2 })],
      1000,
    );
    await settled(s, ['a', 'b', 'c']);
    // Each is told the step it was at and the checkpoint Resume continues from.
    const sentence = (step: number, ck: number) =>
      `The GPU device was lost (destroyed: the driver was reset) at step ${step}; the last checkpoint at step ${ck} is kept; Resume continues from it on a new device. Every run on this device stopped with it.`;
    for (const [id, step, ck] of [
      ['a', 5, 4],
      ['b', 2, 2],
    ] as const) {
      expect(w.posted.find((m) => m.type === 'runState' && m.runId === id && m.state === 'error')).toEqual({
        type: 'runState',
        runId: id,
        state: 'error',
        message: sentence(step, ck),
        resumable: true,
      });
      expect(w.runners.get(id)?.disposed).toBe(true);
    }
    expect(w.states('b')).toEqual(['queued', 'loading', 'running', 'paused', 'error']);
    expect(w.states('c')).toEqual(['queued', 'loading', 'running', 'done']);
    // Only c finished training (its device told so once); every hold on the device was given back; the
    // finished run's state went with it (brought back from
    // its checkpoint on a new device when asked), and nothing stepped after the loss.
    expect(w.devices.map((d) => d.destroyed)).toEqual([true, true, true]);
    expect(w.devices.map((d) => d.finishes)).toEqual([1, 0, 0]);
    expect(w.runners.get('c')?.disposed).toBe(true);
    expect(s.get('c')).toBeUndefined();
    expect(w.steps.filter((x) => x.startsWith('b'))).toEqual(['b1', 'b2']);
    // The checkpoints saved before the loss stay: a at step 4, b at step 2.
    expect(w.store.get('a')?.ck.step).toBe(4);
    expect(w.store.get('b')?.ck.step).toBe(2);
    // The same page resumes both on a new device: each from its checkpoint, to its end.
    w.shared = {};
    w.onStep.delete('a');
    await s.resumeInterrupted(spec('a', 6, { checkpointEvery: 2 }));
    await s.resumeInterrupted(spec('b', 6, { checkpointEvery: 2 }));
    await settled(s, ['a', 'b']);
    const resumed = w.posted.filter((m) => m.type === 'runState' && m.state === 'running' && m.resumedFrom);
    expect(resumed).toMatchObject([
      { runId: 'a', resumedFrom: 4 },
      { runId: 'b', resumedFrom: 2 },
    ]);
    expect(w.states('a').slice(-3)).toEqual(['loading', 'running', 'done']);
    expect(w.states('b').slice(-3)).toEqual(['loading', 'running', 'done']);
    expect(w.steps.slice(-6).sort()).toEqual(['a5', 'a6', 'b3', 'b4', 'b5', 'b6']);
    expect(w.devices.length).toBe(5);
  });

  it('a run lost before its first checkpoint is told Resume starts it again from step 0', async () => {
    const w = new World();
    w.shared = {};
    const s = scheduler(w);
    w.onStep.set('a', (step) => {
      if (step === 3) throw new GpuDeviceLostError('unknown', '');
    });
    await s.start([spec('a', 6, { checkpointEvery: 4 })], 1000);
    await settled(s, ['a']);
    expect(w.posted.find((m) => m.type === 'runState' && m.state === 'error')).toMatchObject({
      message:
        'The GPU device was lost (unknown) at step 3; no checkpoint had been saved yet; Resume starts it again from step 0 on a new device. Every run on this device stopped with it.',
      resumable: true,
    });
    // A failed read that beat the device's report of its loss (Chromium rejects the map first) is the loss.
    w.onStep.set('c', (step) => {
      if (step === 2) {
        w.loss = new GpuDeviceLostError('destroyed', 'Device was destroyed.');
        throw new Error("Failed to execute 'mapAsync' on 'GPUBuffer': Buffer was unmapped");
      }
    });
    await s.start([spec('c', 4)], 1000);
    await settled(s, ['c']);
    expect(w.posted.find((m) => m.type === 'runState' && m.runId === 'c' && m.state === 'error')).toEqual({
      type: 'runState',
      runId: 'c',
      state: 'error',
      message:
        'The GPU device was lost (destroyed: Device was destroyed.) at step 2; no checkpoint had been saved yet; Resume starts it again from step 0 on a new device. Every run on this device stopped with it.',
      resumable: true,
    });
    w.loss = null;
    // Any other failure is not offered a resume.
    w.onStep.set('b', () => {
      throw new Error('boom');
    });
    await s.start([spec('b', 2)], 1000);
    await settled(s, ['b']);
    expect(w.posted.find((m) => m.type === 'runState' && m.runId === 'b' && m.state === 'error')).toEqual({
      type: 'runState',
      runId: 'b',
      state: 'error',
      message: 'boom',
    });
  });

  it('resumes an interrupted run from its checkpoint, and from step 0 with a notice when there is none', async () => {
    const w = new World();
    const s = scheduler(w);
    await s.start([spec('a', 5, { checkpointEvery: 2 })], 1000);
    await settled(s, ['a']);
    // A new page (a new scheduler) with a's checkpoint at step 4 continues it.
    const w2 = new World();
    for (const [k, v] of w.store) w2.store.set(k, { ...v, ck: { ...v.ck, step: 4 } });
    const s2 = scheduler(w2);
    await s2.resumeInterrupted(spec('a', 5, { checkpointEvery: 2 }));
    await settled(s2, ['a']);
    expect(w2.posted.find((m) => m.type === 'runState' && m.state === 'running')).toMatchObject({
      resumedFrom: 4,
    });
    expect(w2.steps).toEqual(['a5']);
    expect(w2.states('a').at(-1)).toBe('done');
    await s2.resumeInterrupted(spec('z', 2));
    await settled(s2, ['z']);
    expect(w2.posted).toContainEqual({
      type: 'runError',
      runId: 'z',
      message: 'no checkpoint was saved before it stopped: it starts again from step 0',
    });
    expect(w2.steps).toEqual(['a5', 'z1', 'z2']);
  });

  it('brings a finished run of an earlier page back for export, silently; refuses a running one', async () => {
    const w = new World();
    const s = scheduler(w);
    await s.start([spec('a', 2, { checkpointEvery: 1 })], 1000);
    await settled(s, ['a']);
    const w2 = new World();
    for (const [k, v] of w.store) w2.store.set(k, v);
    const s2 = scheduler(w2);
    const step = await s2.exclusive('a', async (_run, r) => r.step);
    expect(step).toBe(2);
    expect(w2.posted).toEqual([]);
    expect(w2.steps).toEqual([]);
    await expect(s2.exclusive('nope', async () => 0)).rejects.toThrow(/no checkpoint of it was saved/);
    // A running run must be paused first.
    const w3 = new World();
    const s3 = scheduler(w3);
    let refused = '';
    w3.onStep.set('r', (k) => {
      if (k === 1)
        void s3
          .exclusive('r', async () => 0)
          .catch((e: Error) => {
            refused = e.message;
          });
    });
    await s3.start([spec('r', 3)], 1000);
    await settled(s3, ['r']);
    expect(refused).toBe('pause the run (or let it finish) first');
  });

  it('forget stops a run, frees its device and deletes its checkpoint', async () => {
    const w = new World();
    const s = scheduler(w);
    w.onStep.set('a', (step) => {
      if (step === 2) s.forget(['a']);
    });
    await s.start([spec('a', 9, { checkpointEvery: 1 })], 1000);
    await new Promise((r) => setTimeout(r, 10));
    expect(w.states('a').at(-1)).toBe('stopped');
    expect(s.get('a')).toBeUndefined();
    expect(w.devices[0]?.destroyed).toBe(true);
    expect(w.store.has('a')).toBe(false);
    expect(w.steps).toEqual(['a1', 'a2']);
  });

  it('a checkpoint the storage refuses keeps the run in memory, going on to done, and says so', async () => {
    const w = new World();
    w.failSave.add('a');
    const s = scheduler(w);
    await s.start([spec('a', 5, { checkpointEvery: 2 })], 1000);
    await settled(s, ['a']);
    expect(w.states('a')).toEqual(['queued', 'loading', 'running', 'done']);
    expect(w.lossSteps('a')).toEqual([1, 2, 3, 4, 5]);
    expect(w.runners.get('a')?.disposed).toBe(false);
    const notices = w.posted
      .filter((m) => m.type === 'runError')
      .map((m) => (m as { message: string }).message);
    const say = (step: number) =>
      `The checkpoint at step ${step} could not be saved (the browser's storage for this site is full). The run is kept in memory and goes on, but a reload would lose it: export its adapter to keep it.`;
    expect(notices).toEqual([say(2), say(4), say(5)]);
    const done = w.posted.find((m) => m.type === 'runState' && m.state === 'done');
    expect(done).toMatchObject({ message: say(5) });
  });
});
