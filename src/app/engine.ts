// Glue between the page and the training worker: starts the worker once, sends it the built-in model and a
// sample dataset, turns every worker message into one store action, asks the worker for each chosen method's
// plan (count, predicted memory) whenever its options or the batch shape change, saves runs and metrics to
// IndexedDB as they change, and exposes the actions the panels call (drop a file, start, pause, stop,
// resume after a reload, generate, measure, export (files named after the run), import, delete one run).
// A model from the Hub is fetched in app/hub.ts and handed over here as files.
// The page never runs engine code itself.

import type { PromptTemplate } from '../data/template';
import type { ColumnMapping } from '../data/types';
import { useAppStore } from '../store';
import {
  clearSaved,
  deleteSaved,
  LIVE_STATES,
  loadSaved,
  loadDatasetFiles as loadSavedDatasetFiles,
  saveDatasetFile,
  saveMetrics,
  saveRuns,
} from '../store/persist';
import {
  canResumeFromCheckpoint,
  DELETABLE,
  datasetCopyToDrop,
  exportFactsOf,
  type RunRecord,
} from '../store/runs';
import { sftRunConfig } from '../train/sft-config';
import { TrainingClient } from '../worker/client';
import type { FromWorker, RunSpec } from '../worker/protocol';
import { rlPart } from './rl';
import { holdRun, releaseRun, runsTrainedElsewhere } from './run-locks';
import { reportSaveFailure } from './storage-errors';

export const BUILTIN_MODEL_NAME = 'tiny-llama-brown';
export const SAMPLE_DATASETS = [
  'plurals.jsonl',
  'opposites.csv',
  'past-tense.jsonl',
  // Short answers (good./bad.) the built-in model can learn: the fair comparison's exact match rises above 0.
  'feeling.jsonl',
  // RL samples for the built-in model: sentence openings (PPO, RS, GRPO) and chosen/rejected pairs (reward, DPO).
  'rl-prompts.jsonl',
  'preferences.jsonl',
];
/** Checkpoint every this many steps (a GPU→CPU read of the trainable values and Adam moments). */
export const CHECKPOINT_EVERY = 5;

let client: TrainingClient | null = null;
let nextId = 0;
const uid = (p: string) => `${p}-${Date.now().toString(36)}-${(nextId++).toString(36)}`;

const store = () => useAppStore.getState();
export const messageOf = (e: unknown) => (e instanceof Error ? e.message : String(e));

/** Saves runs; a failure is shown on those runs (storage-errors.ts), never an unhandled rejection. */
function storeRuns(runs: readonly RunRecord[]): void {
  void reportSaveFailure(
    saveRuns(runs),
    runs.map((r) => r.spec.id),
    'this run',
    (id, message) => store().patchRun(id, { message }),
  );
}

function storeMetrics(runId: string, points: Parameters<typeof saveMetrics>[1]): void {
  void reportSaveFailure(saveMetrics(runId, points), [runId], "this run's metrics", (id, message) =>
    store().patchRun(id, { message }),
  );
}

// Metrics are saved at most once a second per run (and at the end), not on every batch.
const dirty = new Set<string>();
let saveTimer: ReturnType<typeof setTimeout> | null = null;
function scheduleMetricsSave(runId: string, now = false): void {
  dirty.add(runId);
  if (saveTimer && !now) return;
  if (saveTimer) clearTimeout(saveTimer);
  saveTimer = setTimeout(
    () => {
      saveTimer = null;
      const save = () => {
        const m = store().metrics;
        for (const id of dirty) storeMetrics(id, m[id] ?? []);
        dirty.clear();
      };
      // IndexedDB's put structured-clones the whole series on this thread: the periodic save waits for
      // an idle moment (500 ms at most); a checkpoint's or a run's end is saved at once (no gap on reload).
      if (now) save();
      else afterIdle(save);
    },
    now ? 0 : 1000,
  );
}

/** Runs `fn` when the main thread is idle (at most `timeout` ms later); plain setTimeout where
 * requestIdleCallback is missing (Safari). */
function afterIdle(fn: () => void, timeout = 500): void {
  if (typeof requestIdleCallback === 'function') requestIdleCallback(fn, { timeout });
  else setTimeout(fn, 0);
}

function persistRun(id: string): void {
  const r = store().runs.find((x) => x.spec.id === id);
  if (r) storeRuns([r]);
}

function download(name: string, bytes: ArrayBuffer | string, type: string): void {
  const url = URL.createObjectURL(new Blob([bytes], { type }));
  const a = document.createElement('a');
  a.href = url;
  a.download = name;
  a.click();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}

/** Display names the page gave with an export, by run id: every file of that run is named after it. */
const exportNames = new Map<string, string>();
const labelOf = (id: string) =>
  exportNames.get(id) ?? store().runs.find((r) => r.spec.id === id)?.method ?? 'run';

function apply(m: FromWorker): void {
  const s = store();
  switch (m.type) {
    case 'gpu':
      s.setGpu({ state: 'ready', info: m.info });
      break;
    case 'baseMemory':
      // The frozen bases the runs share, each drawn once on the memory chart.
      s.setBases(m.bases);
      break;
    case 'gpuError':
      s.setGpu({ state: 'error', name: m.name, message: m.message });
      break;
    case 'methods':
      s.setMethodInfos(m.methods);
      requestPlans();
      break;
    case 'modelLoading':
      s.setModel({ state: 'loading', name: m.name });
      break;
    case 'modelReady':
      s.modelReady(m.model);
      requestPlans(true);
      break;
    case 'modelError':
      s.modelFailed(m.message);
      break;
    case 'datasetReady':
      s.datasetReady(m.dataset);
      keepDatasetFile(m.dataset.id);
      break;
    case 'datasetError':
      s.datasetFailed(m.id, m.name, m.message, m.columns);
      break;
    case 'datasetProgress': {
      const { type: _, ...progress } = m;
      s.datasetProgressed(progress);
      break;
    }
    case 'datasetCancelled':
      s.datasetCancelled(m.id);
      break;
    case 'planResult':
      s.setPlan(m.plan);
      break;
    case 'schedule':
      s.setSchedule({ mode: m.mode, message: m.message });
      break;
    case 'runState': {
      // This tab's worker has the run live: hold its lock so another tab does not resume it.
      if (LIVE_STATES.has(m.state)) holdRun(m.runId);
      else releaseRun(m.runId);
      // resumable: a lost device ended it, its checkpoint kept (any other state clears it).
      const patch: Partial<RunRecord> = { state: m.state, message: m.message, resumable: m.resumable };
      if (m.info) {
        patch.info = m.info;
        patch.method = m.info.method;
      }
      if (m.state !== 'running' && m.state !== 'paused') patch.etaS = null;
      if (m.resumedFrom !== undefined) {
        // Points logged after the checkpoint are redone by the resumed run.
        const from = m.resumedFrom;
        s.setMetrics({ ...s.metrics, [m.runId]: (s.metrics[m.runId] ?? []).filter((p) => p.step <= from) });
        patch.message = `Resumed from the checkpoint at step ${from}.`;
      }
      s.patchRun(m.runId, patch);
      persistRun(m.runId);
      if (m.state === 'done' || m.state === 'error' || m.state === 'stopped')
        scheduleMetricsSave(m.runId, true);
      break;
    }
    case 'runResults':
      s.patchResults(m.runId, m.results);
      persistRun(m.runId);
      // A checkpoint: its points are saved now, so a reload resumes with no gap in the curve.
      if (m.results.checkpointStep !== undefined) scheduleMetricsSave(m.runId, true);
      break;
    case 'runError':
      s.patchRun(m.runId, { message: m.message });
      break;
    case 'metrics': {
      // One set() for the whole batch: points, memory and time left (one notification, one render pass).
      s.appendMetrics(m.batch);
      for (const b of m.batch) scheduleMetricsSave(b.runId);
      break;
    }
    case 'genToken':
      s.genToken(m.reqId, m.target, m.text);
      break;
    case 'genDone':
      s.genDone(m.reqId, m.target, m.error);
      break;
    case 'rollouts':
      s.setRollouts(m.runId, m.step, m.samples);
      break;
    case 'file':
      download(`${labelOf(m.runId)}-${m.name}`, m.bytes, m.mime);
      break;
  }
}

// ---- plans: asked again when a chosen method's options or the batch shape change -------------------

const planKey = (method: string) => {
  const s = store();
  const h = s.hyper;
  return JSON.stringify([
    s.methods[method]?.options ?? {},
    h.batch,
    h.seqLen,
    !!h.pack,
    h.baseDtype,
    h.checkpointing,
  ]);
};
const asked = new Map<string, string>();

function requestPlans(force = false): void {
  const s = store();
  if (s.model.state !== 'ready' || !client) return;
  if (force) asked.clear();
  for (const info of s.methodInfos) {
    const key = planKey(info.name);
    if (asked.get(info.name) === key) continue;
    asked.set(info.name, key);
    client.send({
      type: 'plan',
      method: info.name,
      options: s.methods[info.name]?.options ?? {},
      key,
      batch: s.hyper.batch,
      seqLen: s.hyper.seqLen,
      pack: !!s.hyper.pack,
      baseDtype: s.hyper.baseDtype,
      checkpointing: s.hyper.checkpointing,
    });
  }
}

/** Starts the worker, loads the built-in model and the first sample dataset, restores saved runs. */
export function startEngine(): void {
  if (client) return;
  client = new TrainingClient(apply, (message) =>
    store().setGpu({ state: 'error', name: 'WorkerError', message }),
  );
  // `?gpu_without=subgroups` runs the page as a browser without that feature would (the portable kernels).
  client.send({
    type: 'init',
    gpuWithout: new URLSearchParams(globalThis.location?.search ?? '').get('gpu_without'),
  });
  // Dev server and tests only (a production build drops it): e2e/device-loss.spec.ts forces a device loss.
  if (import.meta.env.DEV)
    (window as unknown as { __loseGpuDevice?: () => void }).__loseGpuDevice = () =>
      client?.send({ type: 'debugLoseDevice' });
  client.send({
    type: 'loadModel',
    source: { kind: 'builtin', name: BUILTIN_MODEL_NAME },
    budgetBytes: store().budgetBytes,
  });
  // Options, batch and sequence length feed the plans; a change asks again (the key drops stale answers).
  // Debounced: typing "16" into a field is one request per method, not two.
  let planTimer: ReturnType<typeof setTimeout> | null = null;
  useAppStore.subscribe((s, prev) => {
    if (s.methods === prev.methods && s.hyper === prev.hyper) return;
    if (planTimer) clearTimeout(planTimer);
    planTimer = setTimeout(() => requestPlans(), 150);
  });
  void Promise.all([loadSaved(), runsTrainedElsewhere()])
    .then(([{ runs: saved, metrics }, elsewhere]) => {
      if (saved.length === 0) return;
      // A run another tab is training is that tab's: shown here, never resumed or saved from here.
      const runs = saved.map((r) =>
        r.state === 'interrupted' && elsewhere.has(r.spec.id)
          ? {
              ...r,
              state: 'elsewhere' as const,
              message: 'Training in another tab of this page; reload this one after it ends to see it here.',
            }
          : r,
      );
      store().setMetrics({ ...metrics, ...store().metrics });
      store().setRuns([...runs, ...store().runs]);
      storeRuns(runs.filter((r) => r.state === 'interrupted'));
    })
    .catch((e: unknown) => console.warn('saved runs could not be read:', e));
  void loadSample(SAMPLE_DATASETS[0]);
  // Files dropped on an earlier visit come back under their ids (saved runs name them).
  void loadSavedDatasetFiles()
    .then((saved) => {
      for (const d of saved) addDatasetFile(d.id, d.name, d.file);
    })
    .catch((e: unknown) => console.warn('saved datasets could not be read:', e));
}

export async function loadSample(name: string): Promise<void> {
  const res = await fetch(`${import.meta.env.BASE_URL}datasets/${name}`);
  if (!res.ok) {
    store().datasetFailed(name, name, `could not fetch the sample (HTTP ${res.status})`);
    return;
  }
  sendDataset(name, await res.arrayBuffer());
}

function sendDataset(name: string, bytes: ArrayBuffer): void {
  const id = uid('ds');
  store().datasetPending(id, name);
  client?.send({
    type: 'addDataset',
    id,
    name,
    bytes,
    onError: store().badRows,
    seqLen: store().hyper.seqLen,
  });
}

/**
 * Parses a dataset again in the worker (which kept its bytes) with a hand-made column mapping, or with the
 * current bad-row policy when `mapping` is undefined (the mapping is then detected again).
 */
export function remapDataset(id: string, name: string, mapping?: ColumnMapping): void {
  // A file that needed columns mapped by hand is not kept for the next visit: it would ask again.
  droppedFiles.delete(id);
  store().datasetPending(id, name);
  client?.send({ type: 'remapDataset', id, mapping, onError: store().badRows, seqLen: store().hyper.seqLen });
}

/**
 * What the model sees, with `template`: the worker renders the dataset's examples with that prompt template
 * (training then uses it too) at the current sequence length, and answers with its summary and preview.
 */
export function previewDataset(id: string, template: PromptTemplate): void {
  const ds = store().datasets.find((d) => d.id === id);
  if (!ds) return;
  store().datasetPending(id, ds.name);
  client?.send({
    type: 'remapDataset',
    id,
    mapping: ds.mapping,
    onError: store().badRows,
    seqLen: store().hyper.seqLen,
    template,
  });
}

/**
 * Dropped dataset files go to the worker as File objects (cloned by reference, never read on the page); the
 * worker reads each in chunks, reporting progress, and a cancel (cancelDataset) stops it.
 */
export function loadDatasetFiles(files: FileList | File[]): void {
  for (const f of Array.from(files)) addDatasetFile(uid('ds'), f.name, f);
}

/** Dropped files waiting for the worker's verdict: kept across reloads once they load. */
const droppedFiles = new Map<string, { name: string; file: Blob }>();

function addDatasetFile(id: string, name: string, f: Blob): void {
  droppedFiles.set(id, { name, file: f });
  store().datasetPending(id, name);
  client?.send({
    type: 'addDatasetFile',
    id,
    name,
    file: f instanceof File ? f : new File([f], name),
    onError: store().badRows,
    seqLen: store().hyper.seqLen,
  });
}

/** A dropped file that loaded is kept (IndexedDB holds the Blob on disk); a refusal only costs the reload. */
function keepDatasetFile(id: string): void {
  const d = droppedFiles.get(id);
  if (!d) return;
  droppedFiles.delete(id);
  void saveDatasetFile({ id, name: d.name, file: d.file, addedAt: Date.now() }).catch((e: unknown) =>
    console.warn(`${d.name} loaded but could not be kept for the next visit: ${messageOf(e)}`),
  );
}

/** Stops loading dataset `id` (a dropped file or a remap); the datasets loaded before stay. */
export const cancelDataset = (id: string) => client?.send({ type: 'cancelDataset', id });

/** A dropped model folder: config.json, model.safetensors (or shards) and tokenizer.json, read in the worker. */
export function loadModelFiles(files: FileList | File[]): void {
  const list = Array.from(files);
  const top = list.find((f) => f.webkitRelativePath)?.webkitRelativePath.split('/')[0];
  sendModelFiles(top || 'dropped model', list);
}

/** Hands a model's files to the worker (a dropped folder, a Hub download: app/hub.ts), validated alike. */
export function sendModelFiles(name: string, files: File[]): void {
  client?.send({
    type: 'loadModel',
    source: { kind: 'files', name, files },
    budgetBytes: store().budgetBytes,
  });
}

function baseSpec(method: string, options: RunSpec['config']['options'], datasetId: string, lr: number) {
  const h = store().hyper;
  return {
    datasetId,
    evalFraction: h.evalFraction,
    checkpointEvery: CHECKPOINT_EVERY,
    config: sftRunConfig({ ...h, method, options, lr }),
  };
}

/** Resolves when every enabled method's plan matches the form (or after `ms`). */
async function plansReady(ms = 60_000): Promise<void> {
  const t0 = Date.now();
  for (;;) {
    const s = store();
    const pending = s.methodInfos.filter(
      (m) => s.methods[m.name]?.enabled && s.plans[m.name]?.key !== planKey(m.name),
    );
    if (pending.length === 0 || Date.now() - t0 > ms) return;
    requestPlans();
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Starts one run per enabled method with the form's hyperparameters; resolves to why not, if it cannot. */
export async function startRuns(): Promise<string | null> {
  await plansReady();
  const s = store();
  if (s.model.state !== 'ready') return 'the model is not loaded yet';
  const ds = s.datasets.find((d) => d.id === s.selectedDatasetId);
  if (!ds) return 'choose a dataset first';
  // The algorithm's RL part (undefined for SFT), checked against the dataset's shape and the reward form.
  const rlp = rlPart(s, ds.shape, s.hyper.batch);
  if ('error' in rlp) return rlp.error;
  const chosen = s.methodInfos.filter((m) => s.methods[m.name]?.enabled);
  if (chosen.length === 0) return 'choose at least one method';
  for (const m of chosen) {
    const p = s.plans[m.name];
    if (!p || p.key !== planKey(m.name)) return `${m.label}: its plan is still being computed`;
    if (p.error) return `${m.label}: ${p.error}`;
  }
  const weightBytes = s.model.summary.weightBytes;
  const records: RunRecord[] = chosen.map((m) => {
    const options = s.methods[m.name]?.options ?? {};
    const plan = s.plans[m.name];
    const spec: RunSpec = {
      id: uid('run'),
      label: `${rlp.rl ? `${rlp.rl.algo} · ` : ''}${m.name}${Object.entries(options)
        .map(([k, v]) => ` ${k}=${JSON.stringify(v)}`)
        .join('')} · ${ds.name}`,
      predictedBytes: plan.predicted?.peakTotal ?? 0,
      predictedFrozenBytes: plan.predicted?.peak.frozen ?? 0,
      ...baseSpec(m.name, options, ds.id, s.hyper.lr ?? m.defaultLr),
      // RL runners keep state beyond the weights, so RL runs save no checkpoints (a reload restarts them).
      ...(rlp.rl ? { rl: rlp.rl, checkpointEvery: 0 } : {}),
    };
    return {
      spec,
      method: m.name,
      methodLabel: m.label,
      state: 'queued',
      predicted: plan.predicted,
      weightBytes,
      createdAt: Date.now(),
      memory: null,
      etaS: null,
    };
  });
  s.addRuns(records);
  storeRuns(records);
  client?.send({ type: 'start', runs: records.map((r) => r.spec), budgetBytes: s.budgetBytes });
  return null;
}

/**
 * An adapter the user dropped (adapter_config.json + adapter_model.safetensors): a run that starts from it,
 * evaluated (steps = 0) or trained on for `steps` more on the selected dataset.
 */
export async function importAdapter(files: FileList | File[], steps: number): Promise<string | null> {
  const s = store();
  if (s.model.state !== 'ready') return 'the model is not loaded yet';
  const ds = s.datasets.find((d) => d.id === s.selectedDatasetId);
  if (!ds) return 'choose a dataset first';
  const byName = new Map(Array.from(files).map((f) => [f.name.replace(/^.*-(adapter_)/, '$1'), f]));
  const cfg = byName.get('adapter_config.json');
  const w = byName.get('adapter_model.safetensors');
  if (!cfg || !w) return 'pick both adapter_config.json and adapter_model.safetensors';
  const config = await cfg.text();
  let method = 'imported';
  try {
    const peftType = (JSON.parse(config) as { peft_type?: unknown }).peft_type;
    if (typeof peftType === 'string') method = peftType.toLowerCase();
  } catch {
    return 'adapter_config.json is not valid JSON';
  }
  const spec: RunSpec = {
    id: uid('run'),
    label: `imported ${method} · ${ds.name}`,
    predictedBytes: 0,
    initAdapter: { config, weights: await w.arrayBuffer() },
    ...baseSpec(method, {}, ds.id, s.hyper.lr ?? 1e-4),
  };
  spec.config.steps = steps;
  const record: RunRecord = {
    spec,
    method,
    methodLabel: `imported (${method})`,
    state: 'queued',
    predicted: null,
    weightBytes: s.model.summary.weightBytes,
    createdAt: Date.now(),
    memory: null,
    etaS: null,
  };
  s.addRuns([record]);
  // The adapter's bytes are not kept with the saved record (the checkpoint holds the trained state).
  storeRuns([{ ...record, spec: { ...spec, initAdapter: undefined } }]);
  client?.send({ type: 'start', runs: [spec], budgetBytes: s.budgetBytes });
  return null;
}

export const pauseRun = (runId: string) => client?.send({ type: 'pause', runId });
export const resumeRun = (runId: string) => client?.send({ type: 'resume', runId });
export const stopRun = (runId: string) => client?.send({ type: 'stop', runId });
export const measureRun = (runId: string) => client?.send({ type: 'measure', runId });
/** File-name safe: "lora (2)" → "lora-2". */
const safeName = (name: string) => name.replace(/[^A-Za-z0-9._-]+/g, '-').replace(/^[-.]+|-+$/g, '') || 'run';

/** Remembers the run's display name for its files and returns what the worker needs for the export. */
function factsFor(runId: string, name: string | undefined) {
  const s = store();
  const run = s.runs.find((r) => r.spec.id === runId);
  const file = safeName(name ?? run?.method ?? runId);
  exportNames.set(runId, file);
  if (!run) return { name: file };
  const dataset = s.datasets.find((d) => d.id === run.spec.datasetId)?.name;
  return exportFactsOf(run, s.metrics[runId] ?? [], file, dataset);
}

/** The adapter as `<name>-adapter.zip` (PEFT's folder and a model card); `name`: the run's display name. */
export const exportAdapter = (runId: string, name?: string) =>
  client?.send({ type: 'exportAdapter', runId, facts: factsFor(runId, name) });
/** The merged model with its tokenizer as `<name>-merged.zip`. */
export const exportMerged = (runId: string, name?: string) =>
  client?.send({ type: 'exportMerged', runId, facts: factsFor(runId, name) });
export const exportOnnx = (runId: string, name?: string) => {
  factsFor(runId, name);
  client?.send({ type: 'exportOnnx', runId });
};
/**
 * The run's TRL + PEFT + Accelerate recipe (train.py, data split, accelerate configs), as recipe.zip. The spec
 * goes along so a run of an earlier page (not in the worker any more) exports too.
 */
export function exportRecipe(runId: string, name?: string): void {
  factsFor(runId, name);
  const spec = store().runs.find((r) => r.spec.id === runId)?.spec;
  client?.send({ type: 'exportRecipe', runId, spec: spec && { ...spec, initAdapter: undefined } });
}

/**
 * Deletes one finished, stopped, failed or interrupted run: its card, points and saved record here; its
 * checkpoint in the worker, and its saved dataset copy when no other run uses it and the page no longer
 * holds that dataset.
 */
export async function deleteRun(runId: string): Promise<void> {
  const s = store();
  const run = s.runs.find((r) => r.spec.id === runId);
  if (!run || !DELETABLE.has(run.state)) return;
  const datasetId = datasetCopyToDrop(
    s.runs,
    runId,
    s.datasets.map((d) => d.id),
  );
  client?.send({ type: 'deleteRun', runId, datasetId });
  dirty.delete(runId);
  exportNames.delete(runId);
  s.removeRun(runId);
  s.dropMetrics(runId);
  await deleteSaved(runId).catch((e: unknown) => console.warn('saved run not deleted:', e));
}

/**
 * Continues a run the reload interrupted, or a lost GPU device ended, from its last checkpoint (kept by the
 * worker; after a loss the worker gets a new device first).
 */
export function resumeInterrupted(runId: string): void {
  const r = store().runs.find((x) => x.spec.id === runId);
  if (!r || !canResumeFromCheckpoint(r)) return;
  if (r.spec.rl) {
    // RL runs keep no checkpoints: the run starts again from step 0, so its old points would be drawn twice.
    store().setMetrics({ ...store().metrics, [runId]: [] });
    store().patchRun(runId, { state: 'queued', message: 'RL runs keep no checkpoint: starting again…' });
  } else store().patchRun(runId, { state: 'queued', message: 'Resuming from the last checkpoint…' });
  client?.send({ type: 'resumeInterrupted', spec: r.spec });
}

/** Streams one prompt through the base model and every run the worker still holds. */
export function generateAll(): void {
  const s = store();
  const live = s.runs
    .filter((r) => ['done', 'paused', 'running', 'stopped'].includes(r.state) && r.info)
    .map((r) => r.spec.id);
  const req = uid('gen');
  s.startGen(req, ['base', ...live]);
  client?.send({ type: 'generate', reqId: req, prompt: s.genPrompt, runIds: live, sampling: s.sampling });
}

export async function clearRuns(): Promise<void> {
  const ids = store().runs.map((r) => r.spec.id);
  client?.send({ type: 'forget', runIds: ids });
  await clearSaved();
  store().setRuns([]);
  store().setMetrics({});
}
