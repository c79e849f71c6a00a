// `npm run cli -- grads`: one forward and backward pass of the causal-LM loss (model/loss.ts, the loss
// every trainer uses), dropout off, written out for checking against PyTorch and PEFT (docs/METHODS.md "The
// gradient dump"): adapter_config.json and adapter_model.safetensors (the adapter as initialised, exactly
// as `train --out` saves it: Adapter.save, sparse and rows indices included), batch.safetensors
// (input_ids and labels, int32 [B,T], exactly what was fed), grads.safetensors (float32 gradient of the
// loss for each trainable tensor, under the keys it is saved with), then one JSON line {"loss", "tokens"}
// last on stdout.
//
// The method is a pluggable step (`GradsMethod`): from the base checkpoint it gives every parameter spec
// with its trainable flag (plus whatever it adds), the key each trainable tensor is saved under,
// adapter_config.json, and, attached to the parameters, its hooks and its saved files. Every method, `full`
// included, comes from src/peft's registry (grads-methods.ts), so a dump's adapter is the adapter `train
// --out` saves: canonical keys (a GPT-2 file without the `transformer.` prefix is saved with it). The pass itself (`runGrads`) takes any Backend, so tests
// run it on the GPU and on the CPU twin alike.
import { readFileSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { Batcher } from '../data/batch';
import { prepareDataset } from '../data/prepare';
import { tokenizeForSft } from '../data/tokenize';
import type { ModelConfig } from '../formats/model-config';
import { type TensorToWrite, writeSafetensors } from '../formats/safetensors';
import { acquireNodeGpu } from '../gpu/node';
import { loadCheckpointSpecs } from '../model/load';
import { causalLmLoss } from '../model/loss';
import { dirModelSource } from '../model/sources/node-dir';
import type { OpenedModel } from '../model/sources/open';
import type { ModelHooks } from '../model/transformer';
import type { Backend } from '../tensor/backend';
import { gpuBackend } from '../tensor/gpu-backend';
import { ParamSet, type ParamSpec } from '../tensor/params';
import { Tape } from '../tensor/tape';
import { dataTokenizer, specialIds } from '../train/tokenizer-adapter';
import { writeAdapterFolder } from './adapter-dir';
import type { Args, FlagSpecs } from './args';
import { nodeBudget } from './model-dir';

export interface GradsMethodInput {
  config: ModelConfig;
  /** The base checkpoint, frozen, under canonical keys (expectedTensorShapes order). */
  base: readonly ParamSpec[];
  /** `--set key=value` options, named as in adapter_config.json. */
  options: ReadonlyMap<string, string>;
  seed: number;
  /** What adapter_config.json records as base_model_name_or_path. */
  modelName: string;
  /** The model's tokenizer, for methods that initialise from text (prompt tuning's TEXT init). */
  tokenizer?: { encode(text: string): number[] };
}

export interface GradsMethodSetup<S, I> {
  /** Every parameter: base tensors with their trainable flags, then what the method adds. */
  specs: ParamSpec[];
  /** Parameter name → key in adapter_model.safetensors and grads.safetensors, for each trainable one. */
  keys: ReadonlyMap<string, string>;
  adapterConfig: Record<string, unknown>;
  /** The method on the ParamSet built from `specs`. */
  attach(ps: ParamSet<S, I>): GradsAttachment<S, I>;
}

export interface AdapterFiles {
  config: string;
  weights: Uint8Array;
}

export interface GradsAttachment<S, I> {
  /** The method's hooks, dropout off. */
  hooks: ModelHooks<S, I>;
  /** The adapter files as `train --out` writes them; absent: the trainable tensors under `keys`. */
  save?(): Promise<AdapterFiles>;
  /** Frees what the method put on the device besides the parameters (index buffers). */
  dispose?(): void;
}

export interface GradsMethod {
  readonly name: string;
  setup<S, I>(input: GradsMethodInput): GradsMethodSetup<S, I>;
}

export interface GradsRequest {
  model: OpenedModel;
  modelName: string;
  method: GradsMethod;
  options: ReadonlyMap<string, string>;
  /** The dataset file's name (its extension picks the parser) and bytes. */
  dataName: string;
  data: Uint8Array;
  B: number;
  T: number;
  seed: number;
}

export interface GradsResult {
  loss: number;
  /** Targets the mean loss is taken over (labels after the shift that are not -100). */
  tokens: number;
  adapterConfig: Record<string, unknown>;
  /** Trainable tensors as initialised, by saved key. */
  initial: Map<string, { shape: readonly number[]; data: Float32Array }>;
  grads: Map<string, { shape: readonly number[]; data: Float32Array }>;
  inputIds: Int32Array;
  labels: Int32Array;
  /** adapter_config.json and adapter_model.safetensors as written. */
  files: AdapterFiles;
}

/** The batch `grads` feeds: the dataset's SFT rows, tokenised to T, shuffled by the seed, batch 0. */
export async function gradsBatch(
  req: Pick<GradsRequest, 'model' | 'dataName' | 'data' | 'B' | 'T' | 'seed'>,
) {
  const prepared = await prepareDataset(req.dataName, req.data, { onError: 'skip' });
  for (const issue of prepared.issues.slice(0, 5)) process.stderr.write(`skipped: ${issue.message}\n`);
  const tok = dataTokenizer(req.model.tokenizer, req.model.config);
  const rows = tokenizeForSft(tok, prepared.examples, { maxLength: req.T }).examples;
  if (rows.length === 0) throw new Error(`${req.dataName}: no usable training examples`);
  const { padId } = specialIds(req.model.tokenizer, req.model.config);
  return new Batcher(rows, { batchSize: req.B, seqLen: req.T, padId, seed: req.seed }).batchAt(0);
}

/** One forward and backward pass of `req.method` on `be`; nothing is written. */
export async function runGrads<S, I>(be: Backend<S, I>, req: GradsRequest): Promise<GradsResult> {
  const { config } = req.model;
  const batch = await gradsBatch(req);
  const base = await loadCheckpointSpecs(config, req.model.reader);
  const setup = req.method.setup<S, I>({
    config,
    base,
    options: req.options,
    seed: req.seed,
    modelName: req.modelName,
    tokenizer: { encode: (text: string) => req.model.tokenizer.encode(text) },
  });
  const ps = new ParamSet(be, setup.specs);
  const method = setup.attach(ps);
  try {
    const tp = new Tape(be, true);
    ps.zeroGrads();
    const { B, T } = req;
    const { loss, targets } = causalLmLoss(
      tp,
      config,
      ps,
      { ids: batch.inputIds, labels: batch.labels, B, T },
      method.hooks,
    );
    tp.backward();
    const lossValue = (await be.read(loss.store, 1))[0];
    tp.dispose();
    const initial = new Map<string, { shape: readonly number[]; data: Float32Array }>();
    const grads = new Map<string, { shape: readonly number[]; data: Float32Array }>();
    for (const spec of setup.specs) {
      if (!spec.trainable) continue;
      const key = setup.keys.get(spec.name);
      if (key === undefined) throw new Error(`method ${req.method.name}: no saved key for ${spec.name}`);
      initial.set(key, {
        shape: spec.shape,
        data: Float32Array.from(spec.data ?? (await ps.read(spec.name))),
      });
      grads.set(key, { shape: spec.shape, data: Float32Array.from(await ps.readGrad(spec.name)) });
    }
    // No update ran: the parameters still hold their initial values, which is what the save reads.
    const files = method.save
      ? await method.save()
      : {
          config: `${JSON.stringify(setup.adapterConfig, null, 2)}\n`,
          weights: writeSafetensors(f32Tensors(initial)),
        };
    return {
      loss: lossValue,
      tokens: targets.reduce((n, t) => n + (t === -100 ? 0 : 1), 0),
      adapterConfig: setup.adapterConfig,
      initial,
      grads,
      inputIds: batch.inputIds,
      labels: batch.labels,
      files,
    };
  } finally {
    method.dispose?.();
    ps.dispose();
  }
}

function f32Tensors(m: Map<string, { shape: readonly number[]; data: Float32Array }>) {
  const out = new Map<string, TensorToWrite>();
  for (const [k, t] of m) out.set(k, { dtype: 'F32', shape: t.shape, data: t.data });
  return out;
}

/** Writes the four files of the dump into `dir`. */
export function writeGrads(dir: string, r: GradsResult, B: number, T: number): void {
  writeAdapterFolder(dir, r.files);
  writeFileSync(
    join(dir, 'batch.safetensors'),
    writeSafetensors({
      input_ids: { dtype: 'I32', shape: [B, T], data: r.inputIds },
      labels: { dtype: 'I32', shape: [B, T], data: r.labels },
    }),
  );
  writeFileSync(join(dir, 'grads.safetensors'), writeSafetensors(f32Tensors(r.grads)));
}

/** Resolves --method among the given methods (the PEFT registry's, as grads-methods.ts lists them). */
export function gradsMethod(name: string, methods: ReadonlyMap<string, GradsMethod>): GradsMethod {
  const m = methods.get(name);
  if (!m) throw new Error(`--method ${name}: grads knows ${[...methods.keys()].join(', ')}`);
  return m;
}

/** grads' flags, strict once declared (an unknown or misspelt flag is an error naming the nearest). */
export const GRADS_FLAGS: FlagSpecs = {
  model: 'string',
  method: 'string',
  set: 'list',
  data: 'string',
  batch: 'string',
  seq: 'string',
  seed: 'string',
  out: 'string',
};

/** The command: flags as docs/METHODS.md gives them. */
export async function gradsCommand(a: Args, methods: ReadonlyMap<string, GradsMethod>): Promise<void> {
  a.declare(GRADS_FLAGS, 'grads');
  const dir = a.str('model');
  const method = gradsMethod(a.str('method', 'full'), methods);
  const dataPath = a.str('data');
  const out = a.str('out');
  const B = a.int('batch', 2);
  const T = a.int('seq', 64);
  if (B < 1 || T < 2) throw new Error('--batch must be at least 1 and --seq at least 2');
  const ctx = await acquireNodeGpu({ tune: true });
  try {
    const model = await dirModelSource(dir).open({ budget: nodeBudget(ctx) });
    const r = await runGrads(gpuBackend(ctx), {
      model,
      modelName: dir,
      method,
      options: a.sets(),
      dataName: basename(dataPath),
      data: new Uint8Array(readFileSync(dataPath)),
      B,
      T,
      seed: a.int('seed', 0),
    });
    writeGrads(out, r, B, T);
    process.stdout.write(`${JSON.stringify({ loss: r.loss, tokens: r.tokens })}\n`);
  } finally {
    ctx.destroy();
  }
}
