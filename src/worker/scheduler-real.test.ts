// The scheduler driving real SFT runners (SftRunner on Dawn, the tiny Llama fixture): two runs interleaved
// step by step, and one paused and resumed, give the same losses as each run alone (no state leaks between
// runs sharing the loop), and a run resumed from its step-2 checkpoint by a new scheduler (a reload)
// continues with the losses of the uninterrupted run. Then as the worker runs them: one device and one
// frozen base for every run (device.ts's SharedDevice), the same losses, the base's bytes posted once; and
// that device destroyed mid-run (Dawn reports it lost): both runs end with the step and checkpoint named,
// the same page gets a new device and base, and each run resumed there trains on with the losses of a run
// restored from the same checkpoint on a device of its own.
import { afterAll, describe, expect, it } from 'vitest';
import type { BatchRow } from '../data/batch';
import { estimateWeightBytes } from '../formats/model-config';
import { bytesSource, SafetensorsFile, writeSafetensors } from '../formats/safetensors';
import type { GpuContext } from '../gpu/context';
import { acquireNodeGpu } from '../gpu/node';
import { randomModelParams } from '../model/init';
import { TINY_LLAMA } from '../model/testing';
import { SFT_DEFAULTS, SftRunner } from '../train/sft';
import type { SftCheckpoint } from '../train/sft-config';
import { type DeviceLease, SharedDevice } from './device';
import type { LoadedModel } from './model';
import type { FromWorker, RunSpec } from './protocol';
import { Scheduler } from './scheduler';

const cfg = TINY_LLAMA;
const file = writeSafetensors(
  Object.fromEntries(
    randomModelParams(cfg, 3, () => false, 0.2).map((s) => [
      s.name,
      { dtype: 'F32' as const, shape: s.shape, data: s.data ?? [] },
    ]),
  ),
);

function rows(n: number, seed: number): BatchRow[] {
  let x = seed;
  const next = () => {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    return x % cfg.vocabSize;
  };
  return Array.from({ length: n }, (_, i) => {
    const ids = Array.from({ length: 5 + (i % 3) }, next);
    return { inputIds: ids, labels: ids };
  });
}
const data = { train: rows(8, 1), eval: rows(2, 2), padId: 0 };

/** Two different runs (method and seed), so losses mixed up between them would show. */
function spec(id: string, checkpointEvery = 0, steps = 4): RunSpec {
  const lora = id.startsWith('a');
  return {
    id,
    label: id,
    datasetId: 'd',
    config: {
      ...SFT_DEFAULTS,
      method: lora ? 'lora' : 'top_layers',
      options: lora ? { r: 2, target_modules: 'q_proj,v_proj' } : { num_layers: 1 },
      lr: 3e-2,
      steps,
      batch: 2,
      seqLen: 8,
      seed: lora ? 1 : 2,
      logEvery: 1,
      evalEvery: 0,
    },
    evalFraction: 0.2,
    checkpointEvery,
    predictedBytes: 1,
  };
}

const devices: GpuContext[] = [];
afterAll(() => {
  for (const d of devices) d.destroy();
});

/** A scheduler with real runners; `checkpoints` collects every checkpoint saved, by run. */
function world(resumeFrom?: SftCheckpoint | null) {
  const posted: FromWorker[] = [];
  const checkpoints: { runId: string; ck: SftCheckpoint }[] = [];
  const s = new Scheduler<GpuContext, SftRunner>({
    post: (m) => posted.push(m),
    acquireDevice: async () => {
      const d = await acquireNodeGpu({ quiet: true });
      devices.push(d);
      return d;
    },
    createRunner: async (sp, ctx) => {
      const reader = await SafetensorsFile.open(bytesSource(file, 'model.safetensors'));
      const runner = await SftRunner.create(ctx, cfg, reader, data, sp.config);
      return { runner, trainExamples: data.train.length, evalExamples: data.eval.length, eosIds: [] };
    },
    saveCheckpoint: async (runId, ck) => {
      checkpoints.push({ runId, ck });
    },
    loadCheckpoint: async () => resumeFrom ?? null,
    loadSavedRun: async () => null,
    deleteCheckpoint: async () => {},
    now: () => performance.now(),
    sleep: (ms) => new Promise((r) => setTimeout(r, ms)),
  });
  /** Loss by step of a run, from the metrics messages. */
  const losses = (runId: string) => {
    const out: Record<number, number> = {};
    for (const m of posted)
      if (m.type === 'metrics')
        for (const b of m.batch)
          if (b.runId === runId) for (const p of b.points) if (p.loss !== null) out[p.step] = p.loss;
    return out;
  };
  return { s, posted, checkpoints, losses };
}

describe('Scheduler with real SFT runners on Dawn', () => {
  it('interleaved, paused or resumed from a checkpoint, each run trains as it would alone', async () => {
    const alone = world();
    await alone.s.start([spec('a')], 1e12);
    await alone.s.get('a')?.finished;
    await alone.s.start([spec('b')], 1e12);
    await alone.s.get('b')?.finished;
    const refA = alone.losses('a');
    const refB = alone.losses('b');
    expect(Object.keys(refA)).toEqual(['1', '2', '3', '4']);
    expect(Object.keys(refB)).toEqual(['1', '2', '3', '4']);
    // The two runs are told apart by their losses.
    expect(Math.abs((refA[4] ?? 0) - (refB[4] ?? 0))).toBeGreaterThan(1e-3);

    const both = world();
    let paused = false;
    const started = both.s.start([spec('a', 2), spec('b')], 1e12);
    // b paused after its first step for a while, then resumed.
    const watch = setInterval(() => {
      const b = both.s.get('b');
      if (!paused && b?.runner && b.runner.step >= 1) {
        paused = true;
        both.s.pause('b');
        setTimeout(() => both.s.resume('b'), 200);
      }
    }, 5);
    await started;
    await both.s.get('a')?.finished;
    await both.s.get('b')?.finished;
    clearInterval(watch);
    expect(paused).toBe(true);
    const states = both.posted.flatMap((m) => (m.type === 'runState' && m.runId === 'b' ? [m.state] : []));
    expect(states).toEqual(['queued', 'loading', 'running', 'paused', 'running', 'done']);
    for (const [ref, got] of [
      [refA, both.losses('a')],
      [refB, both.losses('b')],
    ] as const) {
      expect(Object.keys(got)).toEqual(Object.keys(ref));
      for (const k of Object.keys(ref)) expect(got[Number(k)]).toBeCloseTo(ref[Number(k)] ?? Number.NaN, 5);
    }

    // A reload: a new scheduler resumes a from its step-2 checkpoint and trains steps 3 and 4 as before.
    const at2 = both.checkpoints.find((c) => c.runId === 'a' && c.ck.step === 2)?.ck;
    expect(at2).toBeDefined();
    expect(both.checkpoints.map((c) => c.ck.step)).toEqual([2, 4]);
    const again = world(at2);
    await again.s.resumeInterrupted(spec('a', 2));
    await again.s.get('a')?.finished;
    const resumed = again.losses('a');
    expect(Object.keys(resumed)).toEqual(['3', '4']);
    expect(resumed[3]).toBeCloseTo(refA[3] ?? Number.NaN, 5);
    expect(resumed[4]).toBeCloseTo(refA[4] ?? Number.NaN, 5);
  });

  it('on one shared device and frozen base (as the worker runs them): the same losses, the base posted once', async () => {
    const alone = world();
    await alone.s.start([spec('a')], 1e12);
    await alone.s.get('a')?.finished;
    await alone.s.start([spec('b')], 1e12);
    await alone.s.get('b')?.finished;

    const posted: FromWorker[] = [];
    const post = (m: FromWorker) => posted.push(m);
    let acquired = 0;
    const device = new SharedDevice(async () => {
      acquired++;
      const d = await acquireNodeGpu({ quiet: true });
      devices.push(d);
      return d;
    }, post);
    const model = {
      name: 'tiny',
      config: cfg,
      reader: await SafetensorsFile.open(bytesSource(file, 'model.safetensors')),
    } as unknown as LoadedModel;
    const s = new Scheduler<DeviceLease, SftRunner>({
      post,
      acquireDevice: () => device.lease(),
      createRunner: async (sp, lease) => {
        const base = device.base(lease.ctx, model, sp.config.baseDtype);
        const runner = await SftRunner.create(lease.ctx, cfg, model.reader, data, sp.config, {
          base,
          owner: sp.id,
        });
        device.report();
        return { runner, trainExamples: data.train.length, evalExamples: data.eval.length, eosIds: [] };
      },
      saveCheckpoint: async () => {},
      loadCheckpoint: async () => null,
      loadSavedRun: async () => null,
      deleteCheckpoint: async () => {},
      now: () => performance.now(),
      sleep: (ms) => new Promise((r) => setTimeout(r, ms)),
    });
    const t0 = performance.now();
    await s.start([spec('a'), spec('b')], 1e12);
    await s.get('a')?.finished;
    await s.get('b')?.finished;
    const wall = performance.now() - t0;
    expect(acquired).toBe(1);
    // Interleaved on one device, each run is timed by its slices of the device's timeline (no drain per
    // step): both runs' times are positive and together fit in the wall time, with no overlap counted.
    const lastTime = (runId: string) =>
      posted
        .flatMap((m) =>
          m.type === 'metrics' ? m.batch.filter((b) => b.runId === runId).flatMap((b) => b.points) : [],
        )
        .at(-1)?.timeMs ?? 0;
    expect(lastTime('a')).toBeGreaterThan(0);
    expect(lastTime('b')).toBeGreaterThan(0);
    expect(lastTime('a') + lastTime('b')).toBeLessThanOrEqual(wall);
    // Finished runs gave their steps' pooled buffers back to the device (the next run may have other shapes).
    expect(devices.at(-1)?.arena.stats().pooledBytes).toBe(0);
    const losses = (runId: string) => {
      const out: Record<number, number> = {};
      for (const m of posted)
        if (m.type === 'metrics')
          for (const b of m.batch)
            if (b.runId === runId) for (const p of b.points) if (p.loss !== null) out[p.step] = p.loss;
      return out;
    };
    for (const id of ['a', 'b']) expect(losses(id)).toEqual(alone.losses(id));
    // Each run's memory in its metrics leaves the base out; the base's own message carries it, once.
    for (const m of posted)
      if (m.type === 'metrics') for (const b of m.batch) expect(b.memory.frozen).toBe(0);
    const bases = posted.flatMap((m) => (m.type === 'baseMemory' ? [m.bases] : []));
    expect(bases.at(-1)).toEqual([
      { model: 'tiny', dtype: 'f32', bytes: estimateWeightBytes(cfg, 'f32'), users: 2 },
    ]);
    s.forget(['a', 'b']);
    expect(device.baseMemory()).toEqual([{ model: 'tiny', dtype: 'f32', bytes: 0, users: 0 }]);
    expect(device.users).toBe(0);
  });

  it('after a lost device the same page trains on: a new device and base, each run resumed from its checkpoint', async () => {
    const posted: FromWorker[] = [];
    const post = (m: FromWorker) => posted.push(m);
    let acquired = 0;
    const device = new SharedDevice(async () => {
      acquired++;
      const d = await acquireNodeGpu({ quiet: true });
      devices.push(d);
      return d;
    }, post);
    const model = {
      name: 'tiny',
      config: cfg,
      reader: await SafetensorsFile.open(bytesSource(file, 'model.safetensors')),
    } as unknown as LoadedModel;
    const saved = new Map<string, SftCheckpoint>();
    let lostAt: GpuContext | null = null;
    const s = new Scheduler<DeviceLease, SftRunner>({
      post,
      acquireDevice: () => device.lease(),
      createRunner: async (sp, lease) => {
        const base = device.base(lease.ctx, model, sp.config.baseDtype);
        const runner = await SftRunner.create(lease.ctx, cfg, model.reader, data, sp.config, {
          base,
          owner: sp.id,
        });
        // The first step taken once both runs have a checkpoint destroys the device, as a driver reset would;
        // a waits at its step 4 for b's first checkpoint (b compiles its pipelines meanwhile), so that a is
        // still training then, whatever the machine's speed.
        const step = runner.stepOnce.bind(runner);
        runner.stepOnce = () => {
          step();
          if (sp.id === 'a' && runner.step === 4 && !saved.has('b')) s.pause('a');
          if (!lostAt && saved.has('a') && saved.has('b')) {
            lostAt = lease.ctx;
            lease.ctx.device.destroy();
          }
        };
        return { runner, trainExamples: data.train.length, evalExamples: data.eval.length, eosIds: [] };
      },
      saveCheckpoint: async (runId, ck) => {
        saved.set(runId, ck);
        if (runId === 'b') setTimeout(() => s.resume('a'), 0);
      },
      loadCheckpoint: async (runId) => saved.get(runId) ?? null,
      loadSavedRun: async () => null,
      deleteCheckpoint: async () => {},
      now: () => performance.now(),
      sleep: (ms) => new Promise((r) => setTimeout(r, ms)),
    });
    const steps = 8;
    const specs = [spec('a', 2, steps), spec('b', 2, steps)];
    await s.start(specs, 1e12);
    await s.get('a')?.finished;
    await s.get('b')?.finished;
    expect(lostAt).not.toBeNull();
    // Both runs on the lost device end as errors naming the step they were at and the checkpoint kept.
    const kept = new Map<string, SftCheckpoint | null>();
    for (const id of ['a', 'b']) {
      const ck = saved.get(id) ?? null;
      expect(ck).not.toBeNull();
      kept.set(id, ck);
      const error = posted.find((m) => m.type === 'runState' && m.runId === id && m.state === 'error');
      expect(error).toMatchObject({ resumable: true });
      const message = error?.type === 'runState' ? (error.message ?? '') : '';
      const m =
        /^The GPU device was lost \(destroyed[^)]*\) at step (\d+); (the last checkpoint at step (\d+) is kept; Resume continues from it|no checkpoint had been saved yet; Resume starts it again from step 0) on a new device\. Every run on this device stopped with it\.$/.exec(
          message,
        );
      expect(m, message).not.toBeNull();
      expect(m?.[3] === undefined ? null : Number(m[3])).toBe(ck?.step ?? null);
      if (ck) expect(Number(m?.[1])).toBeGreaterThanOrEqual(ck.step);
    }
    expect(device.users).toBe(0);

    // Resume both on the same page: a new device, the base uploaded again, each from its checkpoint.
    const from = posted.length;
    await s.resumeInterrupted(specs[0]);
    await s.resumeInterrupted(specs[1]);
    await s.get('a')?.finished;
    await s.get('b')?.finished;
    expect(acquired).toBe(2);
    expect(s.get('a')?.state).toBe('done');
    expect(s.get('b')?.state).toBe('done');
    expect(device.baseMemory()).toEqual([
      { model: 'tiny', dtype: 'f32', bytes: estimateWeightBytes(cfg, 'f32'), users: 2 },
    ]);
    const after = (runId: string) => {
      const out: Record<number, number> = {};
      for (const m of posted.slice(from))
        if (m.type === 'metrics')
          for (const b of m.batch)
            if (b.runId === runId) for (const p of b.points) if (p.loss !== null) out[p.step] = p.loss;
      return out;
    };
    // The reference: each run restored from the same checkpoint by a scheduler with a device of its own.
    for (const sp of specs) {
      const ck = kept.get(sp.id) ?? null;
      const ref = world(ck);
      await ref.s.resumeInterrupted(sp);
      await ref.s.get(sp.id)?.finished;
      const want = ref.losses(sp.id);
      const got = after(sp.id);
      const first = (ck?.step ?? 0) + 1;
      expect(Object.keys(want)).toEqual(
        Array.from({ length: steps + 1 - first }, (_, i) => String(first + i)),
      );
      expect(Object.keys(got)).toEqual(Object.keys(want));
      for (const k of Object.keys(want))
        expect(
          Math.abs((got[Number(k)] ?? Number.NaN) - (want[Number(k)] ?? Number.NaN)),
        ).toBeLessThanOrEqual(1e-6);
    }
    s.forget(['a', 'b']);
  });
});
