// The training worker: owns every GPUDevice the playground uses (one per run, so each run's memory is
// counted exactly by its own arena and a lost device or an out-of-memory error ends only that run), the
// loaded model (through src/model/sources: the built-in one cached, or dropped files), the parsed datasets,
// and every engine call the page needs: method plans (trainable count, predicted memory), training
// (interleaved round-robin, or one after another when the predicted memory of the runs exceeds the
// budget), checkpoints to IndexedDB every K steps (resume after a reload), generation streamed token by
// token, inference latency, the task metric, and adapter / ONNX export and adapter import.
/// <reference lib="webworker" />
import { parseDataset } from '../data/parse';
import { type PreparedDataset, prepareDataset } from '../data/prepare';
import { tokenizeForSft, tokenizePrompt, tokenLengthHistogram } from '../data/tokenize';
import type { ColumnMapping } from '../data/types';
import { exportOnnx } from '../export/onnx/export';
import { countParameters, expectedTensorShapes, type ModelConfig } from '../formats/model-config';
import type { TensorReader } from '../formats/safetensors';
import type { TextTokenizer } from '../formats/tokenizer';
import type { GpuContext } from '../gpu/context';
import { acquireBrowserGpu } from '../gpu/device';
import { generate } from '../model/generate';
import { loadCheckpointSpecs } from '../model/load';
import { builtinModelSource, filesModelSource } from '../model/sources';
import { Adapter, planAdapter } from '../peft/adapter';
import { exportMergedModel, mergedConfig } from '../peft/export';
import { getMethod, listMethods } from '../peft/registry';
import type { MethodInfo } from '../peft/types';
import { summarizeGpu } from '../gpu/summary';
import { gpuBackend } from '../tensor/gpu-backend';
import { ParamSet, type ParamSpec } from '../tensor/params';
import { predictTrainingMemory } from '../train/memory';
import { type SftCheckpoint, SftRunner } from '../train/sft';
import { sftData } from '../train/sft-data';
import { dataTokenizer } from '../train/tokenizer-adapter';
import {
  deleteCheckpoint,
  loadCheckpoint,
  loadDatasetBytes,
  loadSavedRun,
  saveCheckpoint,
  saveDatasetBytes,
} from './checkpoints';
import type { FromWorker, ModelSource, RunSpec, RunState, SamplingSettings, ToWorker } from './protocol';
import { createRlRun, RlRunHandle, type TrainingRunner } from './rl-runs';

const scope = self as unknown as DedicatedWorkerGlobalScope;
const post = (m: FromWorker, transfer: Transferable[] = []) => scope.postMessage(m, transfer);

interface LoadedModel {
  name: string;
  config: ModelConfig;
  reader: TensorReader;
  tokenizer: TextTokenizer;
  /** The checkpoint read once as specs, shared by plans and runs (each run uploads its own copy). */
  base: Promise<ParamSpec[]>;
}

interface DatasetEntry {
  prepared: PreparedDataset;
  name: string;
  bytes: Uint8Array;
  mapping?: ColumnMapping;
  onError: 'skip' | 'stop';
  saved: boolean;
}

interface Run {
  spec: RunSpec;
  state: RunState;
  ctx: GpuContext | null;
  runner: TrainingRunner | null;
  /** Wall time spent running (paused time excluded), for the time-left estimate. */
  wallMs: number;
  lastTick: number;
  finished: Promise<void>;
  resolveFinished: () => void;
  /** A generation, measurement or export is using the adapter's state: steps wait. */
  busy: boolean;
}

let model: Promise<LoadedModel> | null = null;
let maxBufferBytes = Number.POSITIVE_INFINITY;
let gpuProbe: Promise<void> | null = null;
const datasets = new Map<string, DatasetEntry>();
const runs = new Map<string, Run>();

const message = (e: unknown) => (e instanceof Error ? e.message : String(e));

async function openModel(src: ModelSource, budgetBytes: number): Promise<LoadedModel> {
  await gpuProbe;
  const source = src.kind === 'builtin' ? builtinModelSource() : filesModelSource(src.files);
  // The fit check runs before the weights are fetched; its message names the figures.
  const opened = await source.open({ budget: { maxBufferBytes, budgetBytes } });
  const { config, reader, tokenizer } = opened;
  const name = src.kind === 'builtin' ? src.name : src.name || opened.label;
  const base = loadCheckpointSpecs(config, reader);
  base.catch(() => undefined);
  const total = countParameters(config);
  post({
    type: 'modelReady',
    model: {
      name,
      modelType: config.modelType,
      layers: config.numLayers,
      hiddenSize: config.hiddenSize,
      vocabSize: config.vocabSize,
      maxPositions: config.maxPositions,
      totalParams: total,
      weightBytes: total * 4,
      configJson: JSON.parse(await configText(src, opened.label)) as Record<string, unknown>,
    },
  });
  return { name, config, reader, tokenizer, base };
}

/** config.json's text again (the source parsed it; the page gets the plain object). */
async function configText(src: ModelSource, label: string): Promise<string> {
  if (src.kind === 'files') {
    const f = src.files.find((x) => x.name === 'config.json');
    if (f) return f.text();
  }
  const { BUILTIN_MODEL_PATH } = await import('../model/sources');
  const res = await fetch(`${BUILTIN_MODEL_PATH}config.json`);
  if (!res.ok) throw new Error(`${label}: config.json could not be read again (HTTP ${res.status})`);
  return res.text();
}

function requireModel(): Promise<LoadedModel> {
  if (!model) throw new Error('no model is loaded yet');
  return model;
}

/** Bytes of files whose shape was not recognised, kept (by dataset id) for a hand-made column mapping. */
const unmapped = new Map<string, { name: string; bytes: Uint8Array }>();

/** Parses a dataset again with the page's mapping / bad-row policy, from the bytes this worker kept. */
async function remapDataset(msg: Extract<ToWorker, { type: 'remapDataset' }>): Promise<void> {
  const held = datasets.get(msg.id) ?? unmapped.get(msg.id);
  if (!held) {
    post({
      type: 'datasetError',
      id: msg.id,
      name: msg.id,
      message: 'this dataset is no longer loaded; drop it again',
    });
    return;
  }
  await addDataset({ ...msg, type: 'addDataset', name: held.name, bytes: held.bytes });
}

async function addDataset(
  msg: Omit<Extract<ToWorker, { type: 'addDataset' }>, 'bytes'> & { bytes: ArrayBuffer | Uint8Array },
): Promise<void> {
  const bytes = msg.bytes instanceof Uint8Array ? msg.bytes : new Uint8Array(msg.bytes);
  try {
    const m = await requireModel();
    const prepared = await prepareDataset(msg.name, bytes, { onError: msg.onError, mapping: msg.mapping });
    datasets.set(msg.id, {
      prepared,
      name: msg.name,
      bytes,
      mapping: msg.mapping,
      onError: msg.onError,
      saved: false,
    });
    const dataTok = dataTokenizer(m.tokenizer, m.config);
    // Prompt-only data is for the online RL algorithms: its examples are prompts (their lengths in the
    // histogram), not SFT rows, none of which it has.
    const promptsOnly = prepared.shape.kind === 'prompt_only';
    const tok = promptsOnly
      ? {
          examples: prepared.examples.map((e) => ({
            fullLength: tokenizePrompt(dataTok, e).promptIds.length,
          })),
          skipped: 0,
          issues: [],
        }
      : tokenizeForSft(dataTok, prepared.examples, { maxLength: msg.seqLen });
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
    unmapped.delete(msg.id);
  } catch (e) {
    // A file that parses but whose columns match no shape can still be mapped by hand: keep its bytes
    // and send its columns with the error.
    let columns: string[] | undefined;
    if (!datasets.has(msg.id)) {
      columns = await parseDataset(msg.name, bytes, { onError: 'skip' })
        .then((p) => p.columns)
        .catch(() => undefined);
      if (columns) unmapped.set(msg.id, { name: msg.name, bytes });
    }
    post({ type: 'datasetError', id: msg.id, name: msg.name, message: message(e), columns });
  }
}

// ---- plans: counts and predicted memory before a run starts -------------------------------------

const methodCtxOf = (m: LoadedModel) => ({
  tokenizer: { encode: (text: string) => m.tokenizer.encode(text) },
  tokenizerName: m.name,
});

/** The newest plan asked for per method: older requests still queued are skipped. */
const latestPlan = new Map<string, string>();

async function plan(msg: Extract<ToWorker, { type: 'plan' }>): Promise<void> {
  const out = { method: msg.method, key: msg.key, trainable: 0, total: 0, predicted: null };
  latestPlan.set(msg.method, msg.key);
  try {
    const m = await requireModel();
    const base = await m.base;
    if (latestPlan.get(msg.method) !== msg.key) return;
    const method = getMethod(msg.method);
    const p = planAdapter(method, msg.options, m.config, base, 0, methodCtxOf(m));
    const stats = predictTrainingMemory(
      m.config,
      p.specs,
      (mps) => new Adapter(method, p, m.config, mps).hooks,
      { B: msg.batch, T: msg.seqLen, pack: msg.pack },
    );
    post({
      type: 'planResult',
      plan: {
        ...out,
        trainable: p.count,
        total: countParameters(m.config),
        predicted: { peak: { ...stats.peak }, peakTotal: stats.peakTotal },
      },
    });
  } catch (e) {
    post({ type: 'planResult', plan: { ...out, error: message(e) } });
  }
}

// ---- runs -----------------------------------------------------------------------------------------

function newRun(spec: RunSpec): Run {
  let resolveFinished = () => {};
  const finished = new Promise<void>((r) => {
    resolveFinished = r;
  });
  return {
    spec,
    state: 'queued',
    ctx: null,
    runner: null,
    wallMs: 0,
    lastTick: 0,
    finished,
    resolveFinished,
    busy: false,
  };
}

const TERMINAL = new Set<RunState>(['done', 'stopped', 'error']);

function setState(run: Run, state: RunState, msg?: string): void {
  run.state = state;
  post({ type: 'runState', runId: run.spec.id, state, message: msg });
  if (TERMINAL.has(state)) run.resolveFinished();
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

async function datasetFor(spec: RunSpec): Promise<DatasetEntry> {
  const have = datasets.get(spec.datasetId);
  if (have) return have;
  // After a reload the page's datasets are new: the run's own copy was saved when it started.
  const saved = await loadDatasetBytes(spec.datasetId);
  if (!saved) throw new Error(`dataset ${spec.datasetId} is neither loaded nor saved; drop it again`);
  const prepared = await prepareDataset(saved.name, saved.bytes, {
    onError: saved.onError,
    mapping: saved.mapping,
  });
  const e: DatasetEntry = { ...saved, prepared, saved: true };
  datasets.set(spec.datasetId, e);
  return e;
}

/** revive: bring a finished run back (after a reload) for generation and export, silently, without training. */
async function prepareRun(run: Run, resume: SftCheckpoint | null = null, revive = false): Promise<void> {
  if (revive) run.state = 'loading';
  else setState(run, 'loading');
  const m = await requireModel();
  const ds = await datasetFor(run.spec);
  // RL runs keep no checkpoint but restart after a reload, from the dataset saved here.
  if (!ds.saved && (run.spec.checkpointEvery > 0 || run.spec.rl)) {
    ds.saved = true;
    void saveDatasetBytes(run.spec.datasetId, ds).catch((e: unknown) =>
      console.warn('dataset not saved:', e),
    );
  }
  const c = run.spec.config;
  const data = sftData(m.tokenizer, m.config, ds.prepared.examples, {
    seqLen: c.seqLen,
    evalFraction: run.spec.evalFraction,
    seed: c.seed,
  });
  run.ctx = await acquireBrowserGpu();
  run.runner = run.spec.rl
    ? await createRlRun(run.spec, run.ctx, { ...m, baseSpecs: await m.base }, ds.prepared.examples, post)
    : await SftRunner.create(run.ctx, m.config, m.reader, data, c, {
        methodCtx: methodCtxOf(m),
        baseSpecs: await m.base,
        adapterConfig: run.spec.initAdapter?.config,
        adapterWeights: run.spec.initAdapter ? new Uint8Array(run.spec.initAdapter.weights) : undefined,
      });
  if (resume) run.runner.restore(resume);
  if (run.state !== 'loading') return release(run); // stopped while loading
  if (revive) {
    run.state = 'done';
    run.resolveFinished();
    return;
  }
  run.lastTick = performance.now();
  run.wallMs = resume?.activeMs ?? 0;
  const info = run.runner.adapter.method.info;
  post({
    type: 'runState',
    runId: run.spec.id,
    state: 'running',
    info: {
      trainableParams: run.runner.trainableParams,
      totalParams: run.runner.totalParams,
      trainExamples: run.runner instanceof RlRunHandle ? run.runner.counts.train : data.train.length,
      evalExamples: run.runner instanceof RlRunHandle ? run.runner.counts.eval : data.eval.length,
      mergeable: info.mergeable,
      method: info.name,
    },
    resumedFrom: resume ? resume.step : undefined,
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

// Batches go out at most every 250 ms: each one costs the page a store update and a chart redraw.
function flushOutbox(force = false): void {
  const now = performance.now();
  if (outbox.length === 0 || (!force && now - lastFlush < 250)) return;
  post({ type: 'metrics', batch: outbox });
  outbox = [];
  lastFlush = now;
}

// ---- the scheduler --------------------------------------------------------------------------------

let loopRunning = false;
const tick = () => new Promise<void>((r) => setTimeout(r, 0));

async function finishRun(run: Run): Promise<void> {
  const r = run.runner!;
  const m = await requireModel();
  queuePoints(run, await r.flush());
  const e = await r.evalPoint();
  if (e) queuePoints(run, [e]);
  flushOutbox(true);
  const eosIds = [
    ...new Set([...m.config.eosTokenIds, ...(m.tokenizer.eosId !== null ? [m.tokenizer.eosId] : [])]),
  ];
  let exactMatch: number | null = null;
  try {
    exactMatch = await r.exactMatch(eosIds);
  } catch (err) {
    console.warn('exact match failed:', err);
  }
  post({ type: 'runResults', runId: run.spec.id, results: { evalLoss: e?.evalLoss ?? null, exactMatch } });
  // The trained state is kept (generation, export, latency) and saved, so it survives a reload too.
  if (run.spec.checkpointEvery > 0) await checkpointRun(run);
  setState(run, 'done');
}

async function checkpointRun(run: Run): Promise<void> {
  const r = run.runner;
  if (!r) return;
  // Every point up to the checkpoint goes out first, so the page saves them with it (none lost on a reload).
  queuePoints(run, await r.flush());
  flushOutbox(true);
  const ck = await r.checkpoint();
  await saveCheckpoint(run.spec.id, ck, run.spec);
  post({ type: 'runResults', runId: run.spec.id, results: { checkpointStep: ck.step } });
}

async function stepRun(run: Run): Promise<void> {
  const r = run.runner!;
  if (r.done) return finishRun(run);
  const now = performance.now();
  run.wallMs += now - run.lastTick;
  run.lastTick = now;
  r.stepOnce();
  // Keep at most two loss reads in flight per device: the queue stays short, so pause and stop act fast.
  // Interleaved with other runs, each step is drained before the next run's is queued: devices share the
  // machine, so a run's time would otherwise include the others' work in flight (its tokens/s and ms/step
  // are one of the five things compared). Alone, two steps stay in flight to keep the GPU busy.
  await r.settle(interleaved() ? 0 : 2);
  queuePoints(run, r.takePoints());
  const c = run.spec.config;
  if (r.done) return finishRun(run);
  if (c.evalEvery > 0 && r.step % c.evalEvery === 0) {
    queuePoints(run, await r.flush());
    const e = await r.evalPoint();
    if (e) queuePoints(run, [e]);
  }
  if (run.spec.checkpointEvery > 0 && r.step % run.spec.checkpointEvery === 0) await checkpointRun(run);
}

/** More than one run is stepping now. */
function interleaved(): boolean {
  let n = 0;
  for (const r of runs.values()) if (r.state === 'running' && r.runner) n++;
  return n > 1;
}

async function loop(): Promise<void> {
  if (loopRunning) return;
  loopRunning = true;
  try {
    for (;;) {
      const active = [...runs.values()].filter((r) => r.state === 'running' || r.state === 'paused');
      const running = active.filter((r) => r.state === 'running' && r.runner && !r.busy);
      if (active.length === 0) break;
      for (const run of running) {
        if (run.state !== 'running' || run.busy) continue;
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

async function start(specs: RunSpec[], budgetBytes: number): Promise<void> {
  const fresh = specs.map((spec) => {
    const run = newRun(spec);
    runs.set(spec.id, run);
    post({ type: 'runState', runId: spec.id, state: 'queued' });
    return run;
  });
  const total = specs.reduce((a, s) => a + s.predictedBytes, 0);
  const gib = (b: number) => `${(b / 2 ** 30).toFixed(2)} GiB`;
  const sequential = specs.length > 1 && total > budgetBytes;
  post({
    type: 'schedule',
    mode: sequential ? 'sequential' : 'interleaved',
    message: sequential
      ? `The ${specs.length} runs need ${gib(total)} together (predicted), over the ${gib(budgetBytes)} budget: they run one after another.`
      : `The ${specs.length} run(s) need ${gib(total)} together (predicted), within the ${gib(budgetBytes)} budget: their steps are interleaved.`,
  });
  for (const run of fresh) {
    if (run.state !== 'queued') continue; // stopped while waiting
    try {
      await prepareRun(run);
    } catch (e) {
      fail(run, e);
      continue;
    }
    void loop();
    if (sequential) {
      await run.finished;
      // Its training memory (activations, workspace) is gone; its weights stay for generation and export.
    }
  }
}

async function resumeInterrupted(spec: RunSpec): Promise<void> {
  // A copy brought back for generation or export gives way to the run that trains on.
  const old = runs.get(spec.id);
  if (old) release(old);
  const run = newRun(spec);
  runs.set(spec.id, run);
  try {
    const ck = await loadCheckpoint(spec.id);
    await prepareRun(run, ck);
    if (!ck)
      post({
        type: 'runError',
        runId: spec.id,
        message: 'no checkpoint was saved before the reload: it starts again from step 0',
      });
  } catch (e) {
    fail(run, e);
    return;
  }
  if (run.runner?.done) {
    await finishRun(run);
    return;
  }
  void loop();
}

// ---- generation, latency, export ----------------------------------------------------------------

/** The base model for generation: its own device and one copy of the weights, made on first use. */
let baseGen: Promise<{ ctx: GpuContext; ps: ParamSet<unknown, unknown> }> | null = null;

function baseModel() {
  baseGen ??= (async () => {
    const m = await requireModel();
    const ctx = await acquireBrowserGpu();
    const ps = new ParamSet(gpuBackend(ctx), await m.base) as unknown as ParamSet<unknown, unknown>;
    return { ctx, ps };
  })();
  return baseGen;
}

/** Finished runs being brought back from their last checkpoint, by id (one revival per run at a time). */
const reviving = new Map<string, Promise<void>>();

/** A finished run of an earlier page (after a reload): rebuilt from its saved spec and last checkpoint. */
async function revive(runId: string): Promise<void> {
  const saved = await loadSavedRun(runId);
  if (!saved)
    throw new Error(
      'this run is not in the worker, and no checkpoint of it was saved: resume it first, or import its adapter',
    );
  const run = newRun(saved.spec);
  runs.set(runId, run);
  try {
    await prepareRun(run, saved.ck, true);
  } catch (e) {
    release(run);
    runs.delete(runId);
    throw e;
  }
}

async function idleRunner(runId: string): Promise<{ run: Run; runner: TrainingRunner }> {
  let p = reviving.get(runId);
  if (!p && !runs.has(runId)) {
    p = revive(runId).finally(() => reviving.delete(runId));
    reviving.set(runId, p);
  }
  await p;
  const run = runs.get(runId);
  if (!run?.runner) throw new Error('this run has no trained state in the worker (it stopped or failed)');
  return { run, runner: run.runner };
}

async function generateAll(msg: Extract<ToWorker, { type: 'generate' }>): Promise<void> {
  const m = await requireModel().catch(() => null);
  if (!m) {
    post({ type: 'genDone', reqId: msg.reqId, target: 'base', error: 'no model is loaded yet' });
    return;
  }
  const tok = dataTokenizer(m.tokenizer, m.config);
  const ids = m.tokenizer.encode(msg.prompt);
  if (tok.bosId !== null && ids[0] !== tok.bosId) ids.unshift(tok.bosId);
  const eosIds = [
    ...new Set([...m.config.eosTokenIds, ...(m.tokenizer.eosId !== null ? [m.tokenizer.eosId] : [])]),
  ];
  const s: SamplingSettings = msg.sampling;
  const decode = (x: readonly number[]) => m.tokenizer.decode(x, { skipSpecialTokens: true });
  for (const target of ['base', ...msg.runIds]) {
    let run: Run | null = null;
    try {
      if (ids.length === 0) throw new Error('the prompt encodes to no tokens');
      let ps: ParamSet<unknown, unknown>;
      let hooks = {};
      if (target === 'base') ps = (await baseModel()).ps;
      else {
        const r = await idleRunner(target);
        run = r.run;
        run.busy = true;
        ps = r.runner.ps as unknown as ParamSet<unknown, unknown>;
        hooks = r.runner.adapter.hooks;
      }
      await generate(ps.be, m.config, ps, [ids], {
        maxNewTokens: s.maxNewTokens,
        temperature: s.temperature,
        topK: s.topK,
        topP: s.topP,
        seed: s.seed,
        eosIds,
        hooks,
        decode,
        onToken: (e) => {
          if (e.text) post({ type: 'genToken', reqId: msg.reqId, target, text: e.text });
        },
      });
      post({ type: 'genDone', reqId: msg.reqId, target });
    } catch (e) {
      post({ type: 'genDone', reqId: msg.reqId, target, error: message(e) });
    } finally {
      if (run) run.busy = false;
    }
  }
}

async function exclusive<T>(runId: string, f: (run: Run, r: TrainingRunner) => Promise<T>): Promise<T> {
  const { run, runner } = await idleRunner(runId);
  if (run.state === 'running') throw new Error('pause the run (or let it finish) first');
  run.busy = true;
  try {
    return await f(run, runner);
  } finally {
    run.busy = false;
  }
}

async function measure(runId: string): Promise<void> {
  try {
    const { measureInferenceLatency } = await import('../train/latency');
    const lat = await exclusive(runId, (run, r) =>
      measureInferenceLatency(run.ctx!, r.config, r.ps, r.adapter, { B: 1, T: run.spec.config.seqLen }, 5),
    );
    post({
      type: 'runResults',
      runId,
      results: { latency: { baseMs: lat.baseMs, unmergedMs: lat.unmergedMs, mergedMs: lat.mergedMs } },
    });
  } catch (e) {
    post({ type: 'runError', runId, message: `latency: ${message(e)}` });
  }
}

function sendFile(runId: string, name: string, bytes: Uint8Array, mime: string): void {
  const copy = bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength ? bytes : bytes.slice();
  post({ type: 'file', runId, name, bytes: copy.buffer as ArrayBuffer, mime }, [copy.buffer as ArrayBuffer]);
}

async function exportAdapter(runId: string): Promise<void> {
  try {
    const m = await requireModel();
    const saved = await exclusive(runId, (_run, r) => r.adapter.save(m.name));
    sendFile(runId, 'adapter_config.json', new TextEncoder().encode(saved.files.config), 'application/json');
    sendFile(runId, 'adapter_model.safetensors', saved.files.weights, 'application/octet-stream');
  } catch (e) {
    post({ type: 'runError', runId, message: `export: ${message(e)}` });
  }
}

async function exportMerged(runId: string): Promise<void> {
  try {
    const merged = await exclusive(runId, async (_run, r) => {
      const out = await exportMergedModel(r.adapter);
      return out;
    });
    sendFile(runId, 'config.json', new TextEncoder().encode(merged.configJson), 'application/json');
    sendFile(runId, 'model.safetensors', merged.weights, 'application/octet-stream');
  } catch (e) {
    post({ type: 'runError', runId, message: `merged export: ${message(e)}` });
  }
}

async function exportOnnxFile(runId: string): Promise<void> {
  try {
    const bytes = await exclusive(runId, async (_run, r) => {
      const a = r.adapter;
      if (!a.method.info.mergeable)
        throw new Error(`${a.method.info.label} cannot be merged, so it has no ONNX preview`);
      const wasMerged = a.state.merged;
      a.merge();
      try {
        const config = mergedConfig(a.config, new Set(r.ps.tensors.keys()));
        const weights = new Map<string, Float32Array>();
        for (const [name, shape] of expectedTensorShapes(config)) {
          const n = shape.reduce((x, y) => x * y, 1);
          weights.set(
            name,
            r.ps.tensors.has(name) ? Float32Array.from(await r.ps.read(name)) : new Float32Array(n),
          );
        }
        return exportOnnx(config, weights, { name: a.method.info.name });
      } finally {
        if (!wasMerged) a.unmerge();
      }
    });
    sendFile(runId, 'model.onnx', bytes, 'application/octet-stream');
  } catch (e) {
    post({ type: 'runError', runId, message: `ONNX export: ${message(e)}` });
  }
}

scope.onmessage = (ev: MessageEvent<ToWorker>) => {
  const msg = ev.data;
  switch (msg.type) {
    case 'init':
      post({
        type: 'methods',
        methods: listMethods().map((m) => JSON.parse(JSON.stringify(m.info)) as MethodInfo),
      });
      gpuProbe = (async () => {
        try {
          const ctx = await acquireBrowserGpu();
          maxBufferBytes = Math.min(ctx.limits.maxBufferSize, ctx.limits.maxStorageBufferBindingSize);
          post({ type: 'gpu', info: summarizeGpu(ctx) });
          ctx.destroy();
        } catch (e) {
          const err = e instanceof Error ? e : new Error(String(e));
          post({ type: 'gpuError', name: err.name, message: err.message });
        }
      })();
      break;
    case 'loadModel':
      {
        post({ type: 'modelLoading', name: msg.source.name });
        // A model that fails to load leaves the one loaded before in use (the page keeps showing it).
        const previous = model;
        const next = openModel(msg.source, msg.budgetBytes);
        model = next;
        next.catch((e: unknown) => {
          if (model === next) model = previous;
          post({ type: 'modelError', message: message(e) });
        });
      }
      break;
    case 'addDataset':
      void addDataset(msg);
      break;
    case 'remapDataset':
      void remapDataset(msg);
      break;
    case 'plan':
      void plan(msg);
      break;
    case 'start':
      void start(msg.runs, msg.budgetBytes);
      break;
    case 'resumeInterrupted':
      void resumeInterrupted(msg.spec);
      break;
    case 'generate':
      void generateAll(msg);
      break;
    case 'measure':
      void measure(msg.runId);
      break;
    case 'exportAdapter':
      void exportAdapter(msg.runId);
      break;
    case 'exportMerged':
      void exportMerged(msg.runId);
      break;
    case 'exportOnnx':
      void exportOnnxFile(msg.runId);
      break;
    case 'forget':
      for (const id of msg.runIds) {
        const run = runs.get(id);
        if (run) {
          if (!TERMINAL.has(run.state)) setState(run, 'stopped');
          release(run);
          runs.delete(id);
        }
        void deleteCheckpoint(id).catch(() => undefined);
      }
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
