// The training worker: owns every GPUDevice the playground uses (one per run, so each run's memory is
// counted exactly by its own arena and a lost device or an out-of-memory error ends only that run), the
// loaded model (config, checkpoint reader, tokenizer) and the parsed datasets. Runs' steps are
// interleaved round-robin so their curves grow side by side; metrics go to the page in batches.
/// <reference lib="webworker" />
import type { BatchRow } from '../data/batch';
import { type PreparedDataset, prepareDataset } from '../data/prepare';
import { splitTrainEval } from '../data/split';
import { tokenizeForSft, tokenLengthHistogram } from '../data/tokenize';
import {
  countParameters,
  type ModelConfig,
  parseModelConfig,
  readerShapes,
  validateCheckpointShapes,
} from '../formats/model-config';
import { bytesSource, SafetensorsFile, type TensorReader } from '../formats/safetensors';
import { loadTokenizer, type TextTokenizer } from '../formats/tokenizer';
import type { GpuContext } from '../gpu/context';
import { acquireBrowserGpu } from '../gpu/device';
import { summarizeGpu } from '../store/gpu';
import { SftRunner } from '../train/sft';
import { dataTokenizer } from '../train/tokenizer-adapter';
import type { FromWorker, ModelSource, RunSpec, RunState, ToWorker } from './protocol';

const post = (m: FromWorker) => (self as unknown as DedicatedWorkerGlobalScope).postMessage(m);

interface LoadedModel {
  name: string;
  config: ModelConfig;
  reader: TensorReader;
  tokenizer: TextTokenizer;
}

interface Run {
  spec: RunSpec;
  state: RunState;
  ctx: GpuContext | null;
  runner: SftRunner | null;
  /** Wall time spent running (paused time excluded), for the time-left estimate. */
  wallMs: number;
  lastTick: number;
}

let model: Promise<LoadedModel> | null = null;
const datasets = new Map<string, PreparedDataset>();
const runs = new Map<string, Run>();

async function fetchBytes(url: string, optional = false): Promise<ArrayBuffer | null> {
  const res = await fetch(url);
  if (!res.ok) {
    if (optional) return null;
    throw new Error(`${url}: HTTP ${res.status} ${res.statusText}`);
  }
  return res.arrayBuffer();
}

async function openModel(src: ModelSource): Promise<LoadedModel> {
  let cfg: ArrayBuffer;
  let weights: ArrayBuffer;
  let tok: ArrayBuffer;
  let tokCfg: ArrayBuffer | null | undefined;
  if (src.kind === 'url') {
    const b = src.base.replace(/\/$/, '');
    [cfg, tok, tokCfg, weights] = (await Promise.all([
      fetchBytes(`${b}/config.json`),
      fetchBytes(`${b}/tokenizer.json`),
      fetchBytes(`${b}/tokenizer_config.json`, true),
      fetchBytes(`${b}/model.safetensors`),
    ])) as [ArrayBuffer, ArrayBuffer, ArrayBuffer | null, ArrayBuffer];
  } else {
    ({ config: cfg, weights, tokenizer: tok, tokenizerConfig: tokCfg } = src);
  }
  const dec = new TextDecoder();
  const config = parseModelConfig(dec.decode(cfg), `${src.name}/config.json`);
  const reader = await SafetensorsFile.open(bytesSource(new Uint8Array(weights), 'model.safetensors'));
  // Shapes checked now, so a wrong checkpoint is refused on load rather than when a run starts.
  validateCheckpointShapes(config, readerShapes(reader), 'model.safetensors');
  const tokenizer = loadTokenizer(
    {
      tokenizerJson: dec.decode(tok),
      tokenizerConfig: tokCfg ? dec.decode(tokCfg) : undefined,
      tokenizerFile: 'tokenizer.json',
      configFile: 'tokenizer_config.json',
    },
    {
      bosTokenId: config.bosTokenId ?? undefined,
      eosTokenIds: config.eosTokenIds,
      padTokenId: config.padTokenId ?? undefined,
    },
  );
  const m = { name: src.name, config, reader, tokenizer };
  post({
    type: 'modelReady',
    model: {
      name: src.name,
      modelType: config.modelType,
      layers: config.numLayers,
      hiddenSize: config.hiddenSize,
      vocabSize: config.vocabSize,
      maxPositions: config.maxPositions,
      totalParams: countParameters(config),
      weightBytes: countParameters(config) * 4,
      configJson: JSON.parse(dec.decode(cfg)) as Record<string, unknown>,
    },
  });
  return m;
}

const message = (e: unknown) => (e instanceof Error ? e.message : String(e));

async function addDataset(msg: Extract<ToWorker, { type: 'addDataset' }>): Promise<void> {
  try {
    const m = await requireModel();
    const prepared = await prepareDataset(msg.name, new Uint8Array(msg.bytes), {
      onError: msg.onError,
      mapping: msg.mapping,
    });
    datasets.set(msg.id, prepared);
    const tok = tokenizeForSft(dataTokenizer(m.tokenizer, m.config), prepared.examples, {
      maxLength: msg.seqLen,
    });
    const histogram = tokenLengthHistogram(
      tok.examples.map((e) => e.fullLength),
      { binCount: 16, maxLength: msg.seqLen },
    );
    post({
      type: 'datasetReady',
      dataset: {
        id: msg.id,
        name: msg.name,
        format: prepared.parsed.format,
        columns: prepared.parsed.columns,
        rows: prepared.parsed.rows.length,
        examples: tok.examples.length,
        shape: prepared.shape.kind,
        mapping: prepared.shape.mapping,
        skipped: prepared.skipped + tok.skipped,
        issues: [...prepared.issues, ...tok.issues].slice(0, 20),
        preview: prepared.parsed.rows.slice(0, 5),
        histogram,
        truncatedAt: msg.seqLen,
      },
    });
  } catch (e) {
    post({ type: 'datasetError', id: msg.id, name: msg.name, message: message(e) });
  }
}

function requireModel(): Promise<LoadedModel> {
  if (!model) throw new Error('no model is loaded yet');
  return model;
}

function setState(run: Run, state: RunState, msg?: string): void {
  run.state = state;
  post({ type: 'runState', runId: run.spec.id, state, message: msg });
}

/** The sentence a failed run shows: what happened and what to try. */
function explain(e: unknown): string {
  const err = e instanceof Error ? e : new Error(String(e));
  if (err.name === 'GpuOutOfMemoryError')
    return `${err.message} Try a smaller batch or sequence length, or a method that trains fewer weights.`;
  if (err.name === 'GpuDeviceLostError') return `${err.message} The other runs go on; start this one again.`;
  return err.message;
}

function release(run: Run): void {
  try {
    run.runner?.dispose();
  } catch {
    // A lost device cannot free buffers; destroying the context below is all that is left to do.
  }
  run.runner = null;
  run.ctx?.destroy();
  run.ctx = null;
}

function fail(run: Run, e: unknown): void {
  release(run);
  setState(run, 'error', explain(e));
}

async function prepareRun(run: Run): Promise<void> {
  setState(run, 'loading');
  const m = await requireModel();
  const ds = datasets.get(run.spec.datasetId);
  if (!ds) throw new Error(`dataset ${run.spec.datasetId} is not loaded in the worker; drop it again`);
  const c = run.spec.config;
  const tok = tokenizeForSft(dataTokenizer(m.tokenizer, m.config), ds.examples, { maxLength: c.seqLen });
  const split = splitTrainEval<BatchRow>(tok.examples, { evalFraction: run.spec.evalFraction, seed: c.seed });
  run.ctx = await acquireBrowserGpu();
  const padId = m.tokenizer.padId ?? m.tokenizer.eosId ?? 0;
  run.runner = await SftRunner.create(
    run.ctx,
    m.config,
    m.reader,
    { train: split.train, eval: split.eval, padId },
    c,
  );
  if (run.state !== 'loading') return release(run); // stopped while loading
  run.lastTick = performance.now();
  post({
    type: 'runState',
    runId: run.spec.id,
    state: 'running',
    info: {
      trainableParams: run.runner.trainableParams,
      totalParams: run.runner.totalParams,
      trainExamples: split.train.length,
      evalExamples: split.eval.length,
    },
  });
  run.state = 'running';
}

// ---- metrics out, in batches ----------------------------------------------------------------------

type Batch = Extract<FromWorker, { type: 'metrics' }>['batch'];
let outbox: Batch = [];
let lastFlush = 0;

function queuePoints(run: Run, points: Batch[number]['points']): void {
  const r = run.runner;
  if (!r || points.length === 0) return;
  const c = run.spec.config;
  const etaS = r.step > 0 ? ((run.wallMs / r.step) * (c.steps - r.step)) / 1000 : null;
  outbox.push({ runId: run.spec.id, points, memory: r.memory(), etaS });
}

function flushOutbox(force = false): void {
  const now = performance.now();
  if (outbox.length === 0 || (!force && now - lastFlush < 200)) return;
  post({ type: 'metrics', batch: outbox });
  outbox = [];
  lastFlush = now;
}

// ---- the scheduler --------------------------------------------------------------------------------

let loopRunning = false;
const tick = () => new Promise<void>((r) => setTimeout(r, 0));

async function stepRun(run: Run): Promise<void> {
  const r = run.runner!;
  const now = performance.now();
  run.wallMs += now - run.lastTick;
  run.lastTick = now;
  r.stepOnce();
  // Keep at most two loss reads in flight per device: the queue stays short, so pause and stop act fast.
  await r.settle(2);
  queuePoints(run, r.takePoints());
  const c = run.spec.config;
  if (r.done || (c.evalEvery > 0 && r.step % c.evalEvery === 0)) {
    queuePoints(run, await r.flush());
    const e = await r.evalPoint();
    if (e) queuePoints(run, [e]);
  }
  if (r.done) {
    flushOutbox(true);
    release(run);
    setState(run, 'done');
  }
}

async function loop(): Promise<void> {
  if (loopRunning) return;
  loopRunning = true;
  try {
    for (;;) {
      const active = [...runs.values()].filter((r) => r.state === 'running' || r.state === 'paused');
      const running = active.filter((r) => r.state === 'running' && r.runner);
      if (active.length === 0) break;
      for (const run of running) {
        if (run.state !== 'running') continue;
        try {
          await stepRun(run);
        } catch (e) {
          flushOutbox(true);
          fail(run, e);
        }
        flushOutbox();
        // A macrotask between steps lets pause/stop messages in.
        await tick();
      }
      if (running.length === 0) await new Promise((r) => setTimeout(r, 50));
    }
  } finally {
    flushOutbox(true);
    loopRunning = false;
  }
}

async function start(specs: RunSpec[]): Promise<void> {
  const fresh = specs.map((spec) => {
    const run: Run = { spec, state: 'queued', ctx: null, runner: null, wallMs: 0, lastTick: 0 };
    runs.set(spec.id, run);
    post({ type: 'runState', runId: spec.id, state: 'queued' });
    return run;
  });
  // Loaded one after another (each reads the checkpoint onto its own device), then all step together.
  for (const run of fresh) {
    try {
      await prepareRun(run);
    } catch (e) {
      fail(run, e);
    }
  }
  void loop();
}

self.onmessage = (ev: MessageEvent<ToWorker>) => {
  const msg = ev.data;
  switch (msg.type) {
    case 'init':
      void (async () => {
        try {
          const ctx = await acquireBrowserGpu();
          post({ type: 'gpu', info: summarizeGpu(ctx) });
          ctx.destroy();
        } catch (e) {
          const err = e instanceof Error ? e : new Error(String(e));
          post({ type: 'gpuError', name: err.name, message: err.message });
        }
      })();
      break;
    case 'loadModel':
      post({ type: 'modelLoading', name: msg.source.name });
      model = openModel(msg.source);
      model.catch((e: unknown) => post({ type: 'modelError', message: message(e) }));
      break;
    case 'addDataset':
      void addDataset(msg);
      break;
    case 'start':
      void start(msg.runs);
      break;
    case 'pause': {
      const run = runs.get(msg.runId);
      if (run?.state === 'running') setState(run, 'paused');
      break;
    }
    case 'resume': {
      const run = runs.get(msg.runId);
      if (run?.state === 'paused') {
        run.lastTick = performance.now();
        setState(run, 'running');
        void loop();
      }
      break;
    }
    case 'stop': {
      const run = runs.get(msg.runId);
      if (run && ['running', 'paused', 'loading', 'queued'].includes(run.state)) {
        const wasLoading = run.state === 'loading';
        setState(run, 'stopped');
        if (!wasLoading) release(run);
      }
      break;
    }
  }
};
