// Glue between the page and the training worker: starts the worker once, sends it the built-in model
// and a sample dataset, turns every worker message into one store action, saves runs and metrics to
// IndexedDB as they change, and exposes the actions the panels call (drop a file, start, pause, stop).
import { useAppStore } from '../store';
import { clearSaved, loadSaved, saveMetrics, saveRuns } from '../store/persist';
import type { RunRecord } from '../store/runs';
import { LOCAL_METHODS, methodSpec, predictMemory, withDefaults } from '../train/local-methods';
import { SFT_DEFAULTS } from '../train/sft-config';
import { TrainingClient } from '../worker/client';
import type { FromWorker, RunSpec } from '../worker/protocol';

export const BUILTIN_MODEL = {
  base: `${import.meta.env.BASE_URL}models/tiny-llama-brown`,
  name: 'tiny-llama-brown',
};
export const SAMPLE_DATASETS = ['plurals.jsonl', 'opposites.csv', 'past-tense.jsonl'];

let client: TrainingClient | null = null;
let nextId = 0;
const uid = (p: string) => `${p}-${Date.now().toString(36)}-${(nextId++).toString(36)}`;

const store = () => useAppStore.getState();

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
      const m = store().metrics;
      for (const id of dirty) void saveMetrics(id, m[id] ?? []);
      dirty.clear();
    },
    now ? 0 : 1000,
  );
}

function persistRun(id: string): void {
  const r = store().runs.find((x) => x.spec.id === id);
  if (r) void saveRuns([r]);
}

function apply(m: FromWorker): void {
  const s = store();
  switch (m.type) {
    case 'gpu':
      s.setGpu({ state: 'ready', info: m.info });
      break;
    case 'gpuError':
      s.setGpu({ state: 'error', name: m.name, message: m.message });
      break;
    case 'modelLoading':
      s.setModel({ state: 'loading', name: m.name });
      break;
    case 'modelReady':
      s.modelReady(m.model);
      break;
    case 'modelError':
      s.setModel({ state: 'error', message: m.message });
      break;
    case 'datasetReady':
      s.datasetReady(m.dataset);
      break;
    case 'datasetError':
      s.datasetFailed(m.id, m.name, m.message);
      break;
    case 'runState': {
      const patch: Partial<RunRecord> = { state: m.state, message: m.message };
      if (m.info) patch.info = m.info;
      if (m.state !== 'running' && m.state !== 'paused') patch.etaS = null;
      s.patchRun(m.runId, patch);
      persistRun(m.runId);
      if (m.state === 'done' || m.state === 'error' || m.state === 'stopped')
        scheduleMetricsSave(m.runId, true);
      break;
    }
    case 'metrics': {
      s.appendMetrics(m.batch);
      for (const b of m.batch) {
        s.patchRun(b.runId, { memory: b.memory, etaS: b.etaS });
        scheduleMetricsSave(b.runId);
      }
      break;
    }
  }
}

/** Starts the worker, loads the built-in model and the first sample dataset, restores saved runs. */
export function startEngine(): void {
  if (client) return;
  client = new TrainingClient(apply, (message) =>
    store().setGpu({ state: 'error', name: 'WorkerError', message }),
  );
  client.send({ type: 'init' });
  client.send({ type: 'loadModel', source: { kind: 'url', ...BUILTIN_MODEL } });
  void loadSaved()
    .then(({ runs, metrics }) => {
      if (runs.length === 0) return;
      store().setMetrics({ ...metrics, ...store().metrics });
      store().setRuns([...runs, ...store().runs]);
      void saveRuns(runs.filter((r) => r.state === 'interrupted'));
    })
    .catch((e: unknown) => console.warn('saved runs could not be read:', e));
  void loadSample(SAMPLE_DATASETS[0]);
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
  client?.send({ type: 'addDataset', id, name, bytes, onError: 'skip', seqLen: store().hyper.seqLen });
}

export async function loadDatasetFiles(files: FileList | File[]): Promise<void> {
  for (const f of Array.from(files)) sendDataset(f.name, await f.arrayBuffer());
}

/** A dropped model: config.json, model.safetensors and tokenizer.json (tokenizer_config.json optional). */
export async function loadModelFiles(files: FileList | File[]): Promise<void> {
  const byName = new Map(Array.from(files).map((f) => [f.name, f]));
  const missing = ['config.json', 'model.safetensors', 'tokenizer.json'].filter((n) => !byName.has(n));
  if (missing.length) {
    store().setModel({
      state: 'error',
      message: `dropped files lack ${missing.join(', ')} (all three are needed together)`,
    });
    return;
  }
  const read = (n: string) => byName.get(n)!.arrayBuffer();
  const tc = byName.get('tokenizer_config.json');
  client?.send({
    type: 'loadModel',
    source: {
      kind: 'files',
      name: byName.get('config.json')!.webkitRelativePath.split('/')[0] || 'dropped model',
      config: await read('config.json'),
      weights: await read('model.safetensors'),
      tokenizer: await read('tokenizer.json'),
      tokenizerConfig: tc ? await tc.arrayBuffer() : undefined,
    },
  });
}

/** Starts one run per enabled method with the form's hyperparameters; returns why not, if it cannot. */
export function startRuns(): string | null {
  const s = store();
  if (s.model.state !== 'ready') return 'the model is not loaded yet';
  const ds = s.datasets.find((d) => d.id === s.selectedDatasetId);
  if (!ds) return 'choose a dataset first';
  const chosen = LOCAL_METHODS.filter((m) => s.methods[m.name]?.enabled);
  if (chosen.length === 0) return 'choose at least one method';
  const h = s.hyper;
  const records: RunRecord[] = chosen.map((m) => {
    const options = withDefaults(m, s.methods[m.name]?.options);
    const spec: RunSpec = {
      id: uid('run'),
      label: `${m.name}${Object.entries(options)
        .map(([k, v]) => ` ${k}=${v}`)
        .join('')} · ${ds.name}`,
      datasetId: ds.id,
      evalFraction: h.evalFraction,
      config: {
        ...SFT_DEFAULTS,
        method: m.name,
        options,
        lr: h.lr ?? m.defaultLr,
        schedule: h.schedule,
        steps: h.steps,
        batch: h.batch,
        seqLen: h.seqLen,
        gradAccum: h.gradAccum,
        weightDecay: h.weightDecay,
        maxGradNorm: h.maxGradNorm,
        seed: h.seed,
        evalEvery: h.evalEvery,
        logEvery: Math.max(1, Math.min(5, Math.floor(h.steps / 20))),
      },
    };
    const cfg = (s.model as Extract<typeof s.model, { state: 'ready' }>).config;
    return {
      spec,
      method: m.name,
      methodLabel: methodSpec(m.name).label,
      state: 'queued',
      predicted: predictMemory(cfg, m.name, options, h.batch, h.seqLen),
      weightBytes: (s.model as Extract<typeof s.model, { state: 'ready' }>).summary.weightBytes,
      createdAt: Date.now(),
      memory: null,
      etaS: null,
    };
  });
  s.addRuns(records);
  void saveRuns(records);
  client?.send({ type: 'start', runs: records.map((r) => r.spec) });
  return null;
}

export const pauseRun = (runId: string) => client?.send({ type: 'pause', runId });
export const resumeRun = (runId: string) => client?.send({ type: 'resume', runId });
export const stopRun = (runId: string) => client?.send({ type: 'stop', runId });

export async function clearRuns(): Promise<void> {
  const live = store().runs.filter((r) => ['queued', 'loading', 'running', 'paused'].includes(r.state));
  for (const r of live) stopRun(r.spec.id);
  await clearSaved();
  store().setRuns([]);
  store().setMetrics({});
}
