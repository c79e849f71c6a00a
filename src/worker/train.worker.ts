// The training worker's entry: builds the worker's parts once (the loaded model, datasets, plans, the
// scheduler of runs with its effects wired to this worker, generation, exports) and dispatches each message
// from the page to one of them. The worker owns the one GPUDevice the playground uses (device.ts): every run
// and generation share it and the frozen base on it, each run's memory counted under its own id by the arena,
// the base's once; a lost device ends every run on it (their checkpoints kept), and the next need gets a new
// device, so those runs resume from their checkpoints on the same page. The page never runs engine code.
/// <reference lib="webworker" />
import { listMethods } from '../peft/registry';
import type { MethodInfo } from '../peft/types';
import {
  deleteCheckpoint,
  deleteDatasetBytes,
  loadCheckpoint,
  loadDatasetBytes,
  loadSavedRun,
  saveCheckpoint,
  saveDatasetBytes,
} from './checkpoints';
import { Datasets } from './datasets';
import { type DeviceLease, SharedDevice } from './device';
import { Exports } from './exports';
import { Generation } from './generation';
import { measureLatency } from './latency';
import { ModelHolder } from './model';
import { Planner } from './plans';
import type { FromWorker, ToWorker } from './protocol';
import type { TrainingRunner } from './rl-runs';
import { runnerFactory } from './run-setup';
import { Scheduler } from './scheduler';

const scope = self as unknown as DedicatedWorkerGlobalScope;
const post = (m: FromWorker, transfer: Transferable[] = []) => scope.postMessage(m, transfer);

const model = new ModelHolder(post);
const loaded = () => model.require();
const datasets = new Datasets(post, loaded, { save: saveDatasetBytes, load: loadDatasetBytes });
const planner = new Planner(post, loaded);
const device = new SharedDevice(() => model.acquireDevice(), post);
const scheduler = new Scheduler<DeviceLease, TrainingRunner>({
  post,
  acquireDevice: () => device.lease(),
  createRunner: runnerFactory(loaded, datasets, post, device),
  saveCheckpoint,
  loadCheckpoint,
  loadSavedRun,
  deleteCheckpoint,
  now: () => performance.now(),
  sleep: (ms) => new Promise((r) => setTimeout(r, ms)),
});
const generation = new Generation(post, loaded, scheduler, device);
const exports = new Exports(post, loaded, scheduler, datasets);

scope.onmessage = (ev: MessageEvent<ToWorker>) => {
  const msg = ev.data;
  switch (msg.type) {
    case 'init':
      post({
        type: 'methods',
        methods: listMethods().map((m) => JSON.parse(JSON.stringify(m.info)) as MethodInfo),
      });
      model.probeGpu(msg.gpuWithout ?? null);
      break;
    case 'loadModel':
      model.load(msg.source, msg.budgetBytes);
      break;
    case 'addDataset':
      void datasets.add(msg);
      break;
    case 'remapDataset':
      void datasets.remap(msg);
      break;
    case 'plan':
      void planner.plan(msg);
      break;
    case 'start':
      void scheduler.start(msg.runs, msg.budgetBytes);
      break;
    case 'resumeInterrupted':
      void scheduler.resumeInterrupted(msg.spec);
      break;
    case 'generate':
      void generation.generateAll(msg);
      break;
    case 'measure':
      void measureLatency(msg.runId, scheduler, post);
      break;
    case 'exportAdapter':
      void exports.adapter(msg.runId, msg.facts);
      break;
    case 'exportMerged':
      void exports.merged(msg.runId, msg.facts);
      break;
    case 'exportOnnx':
      void exports.onnx(msg.runId);
      break;
    case 'exportRecipe':
      void exports.recipe(msg.runId, msg.spec);
      break;
    case 'forget':
      scheduler.forget(msg.runIds);
      break;
    case 'deleteRun':
      scheduler.forget([msg.runId]);
      if (msg.datasetId) void deleteDatasetBytes(msg.datasetId).catch((e: unknown) => console.warn(e));
      break;
    case 'pause':
      scheduler.pause(msg.runId);
      break;
    case 'resume':
      scheduler.resume(msg.runId);
      break;
    case 'stop':
      scheduler.stop(msg.runId);
      break;
    case 'debugLoseDevice':
      // A forced loss for the e2e (e2e/device-loss.spec.ts); a production build leaves this out.
      if (import.meta.env.DEV) void device.loseForTest();
      break;
  }
};
