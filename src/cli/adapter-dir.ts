// Adapter folders in the CLI: `--adapter DIR` for the inference commands (generate, eval): the model's
// parameters with a saved adapter folder (adapter_config.json + adapter_model.safetensors, as `train --out`
// and the playground write them) planned over the base weights and loaded, or the base model alone without
// one (on a FrozenBase streamed in the chosen --base-dtype: loadWithAdapterOnBase); and writing such a
// folder from Adapter.save's files (`train --out`, the `grads` dump).

import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ModelConfig } from '../formats/model-config';
import { baseSpecsOf } from '../model/load';
import type { ModelHooks } from '../model/transformer';
import { Adapter, checkTrainableDtypes, paramSetOnBase, planAdapterOnBase } from '../peft/adapter';
import { planFromAdapterConfig } from '../peft/files';
import type { Backend } from '../tensor/backend';
import type { FrozenBase } from '../tensor/frozen-base';
import { ParamSet, type ParamSpec } from '../tensor/params';
import { savedMethod } from '../train/sft';
import { writeFileAtomic } from './files';

export interface ModelWithAdapter<S, I> {
  ps: ParamSet<S, I>;
  /** The adapter's hooks; undefined for the base model. */
  hooks: ModelHooks<S, I> | undefined;
  /** The adapter's method name, or null for the base model. */
  method: string | null;
  dispose(): void;
}

/** An adapter folder's two files, refused by name when one is missing. */
function adapterFiles(adapterDir: string): { cfgPath: string; wPath: string } {
  const cfgPath = join(adapterDir, 'adapter_config.json');
  const wPath = join(adapterDir, 'adapter_model.safetensors');
  for (const p of [cfgPath, wPath])
    if (!existsSync(p)) throw new Error(`--adapter ${adapterDir}: no ${p.slice(adapterDir.length + 1)}`);
  return { cfgPath, wPath };
}

/** The adapter's saved weights loaded into it; on a bad file everything allocated is freed. */
function withSavedWeights<S, I, O>(
  adapter: Adapter<S, I, O>,
  ps: ParamSet<S, I>,
  wPath: string,
): ModelWithAdapter<S, I> {
  const dispose = () => {
    adapter.dispose();
    ps.dispose();
  };
  try {
    adapter.load(new Uint8Array(readFileSync(wPath)), wPath);
  } catch (e) {
    dispose();
    throw e;
  }
  return { ps, hooks: adapter.hooks, method: adapter.method.info.name, dispose };
}

/** The base model's parameters, with the adapter folder `adapterDir` applied when given. */
export function loadWithAdapter<S, I>(
  be: Backend<S, I>,
  config: ModelConfig,
  baseSpecs: readonly ParamSpec[],
  adapterDir: string | undefined,
): ModelWithAdapter<S, I> {
  if (adapterDir === undefined) {
    const ps = new ParamSet(be, baseSpecs);
    return { ps, hooks: undefined, method: null, dispose: () => ps.dispose() };
  }
  const { cfgPath, wPath } = adapterFiles(adapterDir);
  // Planned (options checked against the model) before anything is allocated.
  const { method, plan } = planAdapterFile(readFileSync(cfgPath, 'utf8'), config, baseSpecs, cfgPath);
  const ps = new ParamSet(be, plan.specs);
  const adapter = new Adapter(method, plan, config, ps);
  return withSavedWeights(adapter, ps, wPath);
}

/**
 * loadWithAdapter on a FrozenBase (streamed from the checkpoint in the chosen dtype): the base model's
 * frozen tensors borrowed from it, the adapter folder applied when given, only the base values the method
 * reads brought to the host. dispose() gives the base's lease back.
 */
export async function loadWithAdapterOnBase<S, I>(
  be: Backend<S, I>,
  config: ModelConfig,
  base: FrozenBase<S, I>,
  adapterDir: string | undefined,
): Promise<ModelWithAdapter<S, I>> {
  const specs = baseSpecsOf(base.source);
  if (adapterDir === undefined) {
    const lease = await base.lease(specs.map((s) => s.name));
    const ps = new ParamSet(be, specs, { base: lease });
    return { ps, hooks: undefined, method: null, dispose: () => ps.dispose() };
  }
  const { cfgPath, wPath } = adapterFiles(adapterDir);
  const read = (n: string) => base.values(n);
  // Planned (options checked against the model) before anything is allocated.
  const { method, options } = withFile(cfgPath, () => savedMethod(readFileSync(cfgPath, 'utf8'), config));
  const plan = await planAdapterOnBase(method, options, config, specs, read, 0);
  checkTrainableDtypes(plan, method.info.label);
  const ps = await paramSetOnBase(be, plan, base);
  const adapter = new Adapter(method, plan, config, ps, read);
  return withSavedWeights(adapter, ps, wPath);
}

/** Runs `f`, naming `file` first in its error (the method's option checks speak of the option alone). */
function withFile<T>(file: string, f: () => T): T {
  try {
    return f();
  } catch (e) {
    const m = e instanceof Error ? e.message : String(e);
    throw new Error(m.startsWith(file) ? m : `${file}: ${m.replace(/^adapter_config\.json: /, '')}`);
  }
}

/** Writes Adapter.save's two files into `dir` (created if needed), each atomically. */
export function writeAdapterFolder(dir: string, files: { config: string; weights: Uint8Array }): void {
  mkdirSync(dir, { recursive: true });
  writeFileAtomic(join(dir, 'adapter_config.json'), files.config);
  writeFileAtomic(join(dir, 'adapter_model.safetensors'), files.weights);
}

/**
 * Plans the adapter an adapter_config.json describes, with the file named first in every failure (the
 * method's option checks speak of the option alone).
 */
export function planAdapterFile(
  text: string,
  config: ModelConfig,
  baseSpecs: readonly ParamSpec[],
  file: string,
  seed = 0,
): ReturnType<typeof planFromAdapterConfig> {
  try {
    return planFromAdapterConfig(text, config, baseSpecs, seed, file);
  } catch (e) {
    const m = e instanceof Error ? e.message : String(e);
    throw new Error(m.startsWith(file) ? m : `${file}: ${m}`);
  }
}
