// Files out of a paused or finished run, sent to the page as transferred bytes: the adapter as one zip
// (folder `<run name>/`: PEFT's adapter_config.json, adapter_model.safetensors and a README.md model card),
// the merged model as one zip (config.json, model.safetensors and the tokenizer files the model came with),
// the merged model as ONNX for the preview (mergeable methods only; the adapter is unmerged again after), and
// the run's TRL + PEFT + Accelerate recipe as one zip (train/recipe: the files `npm run cli -- recipe` writes).
// Importing an adapter needs nothing here: a run started with `initAdapter` loads it (run-setup.ts).
import type { Example } from '../data/types';
import { exportOnnx } from '../export/onnx/export';
import type { TokenizerFiles } from '../formats/tokenizer';
import { type ZipEntry, zipFiles } from '../formats/zip';
import { planAdapter } from '../peft/adapter';
import { exportMergedModel, mergedConfig, mergedWeights } from '../peft/export';
import { getMethod } from '../peft/registry';
import { recipeInputOf } from '../train/recipe/input';
import { buildRecipe } from '../train/recipe/recipe';
import type { RecipeFile, RecipeReward } from '../train/recipe/types';
import type { Datasets } from './datasets';
import type { DeviceLease } from './device';
import { errorMessage, type LoadedModel, methodCtxOf } from './model';
import { adapterModelCard } from './model-card';
import type { ExportFacts, FromWorker, RunSpec } from './protocol';
import { rlSettings, type TrainingRunner } from './rl-runs';
import type { Scheduler } from './scheduler';

type Post = (m: FromWorker, transfer?: Transferable[]) => void;

export class Exports {
  constructor(
    private readonly post: Post,
    private readonly model: () => Promise<LoadedModel>,
    private readonly scheduler: Scheduler<DeviceLease, TrainingRunner>,
    private readonly datasets?: Datasets,
  ) {}

  private sendFile(runId: string, name: string, bytes: Uint8Array, mime: string): void {
    const copy =
      bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength ? bytes : bytes.slice();
    const buffer = copy.buffer as ArrayBuffer;
    this.post({ type: 'file', runId, name, bytes: buffer, mime }, [buffer]);
  }

  async adapter(runId: string, facts?: ExportFacts): Promise<void> {
    try {
      const m = await this.model();
      const { saved, spec } = await this.scheduler.exclusive(runId, async (run, r) => ({
        saved: await r.adapter.save(m.name),
        spec: run.spec,
      }));
      const name = folderName(facts, runId);
      const files: ZipEntry[] = [
        { path: 'adapter_config.json', text: saved.files.config },
        { path: 'adapter_model.safetensors', bytes: saved.files.weights },
        { path: 'README.md', text: adapterModelCard(m.name, spec, { ...facts, name }) },
      ];
      this.sendFile(runId, 'adapter.zip', zipFiles(files, name), 'application/zip');
    } catch (e) {
      this.post({ type: 'runError', runId, message: `export: ${errorMessage(e)}` });
    }
  }

  /** The merged model as a folder transformers loads: config.json, model.safetensors and the tokenizer. */
  async merged(runId: string, facts?: ExportFacts): Promise<void> {
    try {
      const m = await this.model();
      const merged = await this.scheduler.exclusive(runId, (_run, r) => exportMergedModel(r.adapter));
      const name = folderName(facts, runId);
      const files: ZipEntry[] = [
        { path: 'config.json', text: merged.configJson },
        { path: 'model.safetensors', bytes: merged.weights },
        ...tokenizerEntries(m.tokenizerFiles),
      ];
      this.sendFile(runId, 'merged.zip', zipFiles(files, name), 'application/zip');
    } catch (e) {
      this.post({ type: 'runError', runId, message: `merged export: ${errorMessage(e)}` });
    }
  }

  /** The run's recipe folder, zipped, from its spec, its dataset's split and (sparse, rows) its mask. */
  async recipe(runId: string, given?: RunSpec): Promise<void> {
    try {
      const run = this.scheduler.get(runId);
      const spec = run?.spec ?? given;
      if (!spec) throw new Error('this run is no longer in the worker; start it again to export its recipe');
      if (!this.datasets) throw new Error('no datasets in this worker');
      const m = await this.model();
      const ds = await this.datasets.forRun(spec);
      // The trained run's own mask (sparse, rows; a grad mask comes only from there), else planned again.
      const ints =
        run?.runner?.adapter.plan.ints ??
        (['sparse', 'rows'].includes(spec.config.method)
          ? planAdapter(
              getMethod(spec.config.method),
              spec.config.options,
              m.config,
              await m.base,
              spec.config.seed,
              methodCtxOf(m),
            ).ints
          : undefined);
      const files = recipeFilesOfRun(spec, m, ds.prepared.examples, ints, new Date().toISOString());
      this.sendFile(runId, 'recipe.zip', zipFiles(files, 'recipe'), 'application/zip');
    } catch (e) {
      this.post({ type: 'runError', runId, message: `recipe export: ${errorMessage(e)}` });
    }
  }

  async onnx(runId: string): Promise<void> {
    try {
      const bytes = await this.scheduler.exclusive(runId, (_run, r) => onnxOf(r));
      this.sendFile(runId, 'model.onnx', bytes, 'application/octet-stream');
    } catch (e) {
      this.post({ type: 'runError', runId, message: `ONNX export: ${errorMessage(e)}` });
    }
  }
}

/** A file- and folder-name safe run name: the page's display name, else the run id. */
export function folderName(facts: ExportFacts | undefined, runId: string): string {
  const safe = (facts?.name ?? '').replace(/[^A-Za-z0-9._-]+/g, '-').replace(/^[-.]+|-+$/g, '');
  return safe || runId.replace(/[^A-Za-z0-9._-]+/g, '-');
}

/** The tokenizer files the model was loaded with, as the files a Hugging Face folder holds. */
export function tokenizerEntries(t: TokenizerFiles | undefined): ZipEntry[] {
  if (!t) return [];
  const asText = (v: unknown) => (typeof v === 'string' ? v : JSON.stringify(v, null, 2));
  const out: ZipEntry[] = [{ path: 'tokenizer.json', text: asText(t.tokenizerJson) }];
  if (t.tokenizerConfig !== undefined)
    out.push({ path: 'tokenizer_config.json', text: asText(t.tokenizerConfig) });
  if (t.chatTemplate !== undefined) out.push({ path: 'chat_template.jinja', text: t.chatTemplate });
  return out;
}

/** The run's merged model as ONNX; the adapter is left merged or not as it was. */
async function onnxOf(r: TrainingRunner): Promise<Uint8Array> {
  const a = r.adapter;
  if (!a.method.info.mergeable)
    throw new Error(`${a.method.info.label} cannot be merged, so it has no ONNX preview`);
  const wasMerged = a.state.merged;
  a.merge();
  try {
    const config = mergedConfig(a.config, new Set(r.ps.tensors.keys()));
    const weights = new Map<string, Float32Array>();
    for (const [name, t] of await mergedWeights(config, r.ps)) weights.set(name, t.data);
    return exportOnnx(config, weights, { name: a.method.info.name });
  } finally {
    if (!wasMerged) a.unmerge();
  }
}

/**
 * A run's recipe files from its spec as the page started it: the SFT config, or the RL settings the worker
 * builds the runner from (rl-runs.ts rlSettings), the reward (a reward-model run of this session is named by
 * its id: export that run's recipe or adapter too), and the dataset's examples split as the run splits them.
 */
export function recipeFilesOfRun(
  spec: RunSpec,
  m: Pick<LoadedModel, 'name' | 'config' | 'tokenizer'>,
  examples: readonly Example[],
  ints: readonly { name: string; data: Int32Array }[] | undefined,
  createdAt?: string,
): RecipeFile[] {
  const rl = spec.rl ? rlSettings(spec.config, spec.rl, spec.evalFraction) : undefined;
  const r = spec.rl?.reward;
  const reward: RecipeReward | undefined =
    r === undefined
      ? undefined
      : r.kind === 'spec'
        ? { kind: 'spec', spec: r.spec }
        : r.kind === 'js'
          ? { kind: 'js', source: r.code }
          : { kind: 'model', path: `reward-model-${r.runId}` };
  return buildRecipe(
    recipeInputOf({
      algo: spec.rl?.algo ?? 'sft',
      model: { name: m.name, config: m.config, tokenizer: m.tokenizer },
      examples,
      run: spec.config,
      evalFraction: spec.evalFraction,
      rl,
      reward,
      ints,
      createdAt,
    }),
  );
}
