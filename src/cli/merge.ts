// `npm run cli -- merge --model DIR --adapter DIR --out DIR [--onnx]`: folds a saved adapter into the base
// weights and writes a plain Hugging Face model folder (config.json, model.safetensors, the tokenizer
// files), and with --onnx also model.onnx for onnxruntime.

import { existsSync, readFileSync } from 'node:fs';
import { isAbsolute, join, relative, resolve } from 'node:path';
import { exportOnnx, weightsFromSpecs } from '../export/onnx/export';
import { bytesSource, SafetensorsFile } from '../formats/safetensors';
import { loadCheckpointSpecs } from '../model/load';
import { Adapter } from '../peft/adapter';
import { exportMergedModel } from '../peft/export';
import { cpuBackend } from '../tensor/cpu-backend';
import { ParamSet } from '../tensor/params';
import { planAdapterFile } from './adapter-dir';
import type { Args, FlagSpecs } from './args';
import { prepareOutDir, writeFileAtomic } from './files';
import { openModelDir } from './model-dir';

/** Refuses an --out that is the --model folder or inside it (the merge would overwrite its base). */
export function checkMergeOut(model: string, out: string): void {
  const rel = relative(resolve(model), resolve(out));
  if (rel === '' || (!rel.startsWith('..') && !isAbsolute(rel)))
    throw new Error(
      `--out ${out} is ${rel === '' ? 'the --model folder' : 'inside the --model folder'} (${model}): the merged weights would overwrite the base; choose another folder`,
    );
}

export const MERGE_USAGE = `  merge --model DIR --adapter DIR --out DIR [--onnx]
        the adapter folded into the weights, written as a Hugging Face model folder (and model.onnx)`;

export const MERGE_FLAGS: FlagSpecs = { model: 'string', adapter: 'string', out: 'string', onnx: 'switch' };

export async function mergeCommand(a: Args): Promise<void> {
  a.declare(MERGE_FLAGS, 'merge');
  const modelDir = a.nonEmpty('model');
  const out = a.nonEmpty('out');
  checkMergeOut(modelDir, out);
  const md = await openModelDir(modelDir);
  const adapterDir = a.nonEmpty('adapter');
  const cfgPath = join(adapterDir, 'adapter_config.json');
  const wPath = join(adapterDir, 'adapter_model.safetensors');
  for (const p of [cfgPath, wPath])
    if (!existsSync(p)) throw new Error(`${adapterDir}: no ${p.slice(adapterDir.length + 1)}`);
  const base = await loadCheckpointSpecs(md.config, md.reader);
  const { method, plan } = planAdapterFile(readFileSync(cfgPath, 'utf8'), md.config, base, cfgPath);
  // Merging is exact arithmetic on the weights: the CPU twin does it in float64 with no device needed.
  const ps = new ParamSet(cpuBackend(), plan.specs);
  const adapter = new Adapter(method, plan, md.config, ps);
  adapter.load(new Uint8Array(readFileSync(wPath)), wPath);
  prepareOutDir(out);
  const merged = await exportMergedModel(adapter);
  writeFileAtomic(join(out, 'config.json'), merged.configJson);
  writeFileAtomic(join(out, 'model.safetensors'), merged.weights);
  for (const f of ['tokenizer.json', 'tokenizer_config.json']) {
    if (existsSync(join(md.dir, f))) writeFileAtomic(join(out, f), readFileSync(join(md.dir, f)));
  }
  let onnxBytes = 0;
  if (a.bool('onnx') === true) {
    const reader = await SafetensorsFile.open(bytesSource(merged.weights, 'model.safetensors'));
    const onnx = exportOnnx(
      merged.config,
      weightsFromSpecs(await loadCheckpointSpecs(merged.config, reader)),
    );
    writeFileAtomic(join(out, 'model.onnx'), onnx);
    onnxBytes = onnx.length;
  }
  process.stdout.write(
    `${JSON.stringify({ done: true, method: method.info.name, out, model_bytes: merged.weights.length, onnx_bytes: onnxBytes })}\n`,
  );
}
