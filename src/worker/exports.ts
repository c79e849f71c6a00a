// Files out of a paused or finished run, sent to the page as transferred bytes: the adapter (PEFT's
// adapter_config.json and adapter_model.safetensors), the merged model (config.json and model.safetensors),
// and the merged model as ONNX for the preview (mergeable methods only; the adapter is unmerged again after).
// Importing an adapter needs nothing here: a run started with `initAdapter` loads it (run-setup.ts).
import { exportOnnx } from '../export/onnx/export';
import type { GpuContext } from '../gpu/context';
import { exportMergedModel, mergedConfig, mergedWeights } from '../peft/export';
import { errorMessage, type LoadedModel } from './model';
import type { FromWorker } from './protocol';
import type { TrainingRunner } from './rl-runs';
import type { Scheduler } from './scheduler';

type Post = (m: FromWorker, transfer?: Transferable[]) => void;

export class Exports {
  constructor(
    private readonly post: Post,
    private readonly model: () => Promise<LoadedModel>,
    private readonly scheduler: Scheduler<GpuContext, TrainingRunner>,
  ) {}

  private sendFile(runId: string, name: string, bytes: Uint8Array, mime: string): void {
    const copy =
      bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength ? bytes : bytes.slice();
    const buffer = copy.buffer as ArrayBuffer;
    this.post({ type: 'file', runId, name, bytes: buffer, mime }, [buffer]);
  }

  async adapter(runId: string): Promise<void> {
    try {
      const m = await this.model();
      const saved = await this.scheduler.exclusive(runId, (_run, r) => r.adapter.save(m.name));
      const config = new TextEncoder().encode(saved.files.config);
      this.sendFile(runId, 'adapter_config.json', config, 'application/json');
      this.sendFile(runId, 'adapter_model.safetensors', saved.files.weights, 'application/octet-stream');
    } catch (e) {
      this.post({ type: 'runError', runId, message: `export: ${errorMessage(e)}` });
    }
  }

  async merged(runId: string): Promise<void> {
    try {
      const merged = await this.scheduler.exclusive(runId, (_run, r) => exportMergedModel(r.adapter));
      this.sendFile(runId, 'config.json', new TextEncoder().encode(merged.configJson), 'application/json');
      this.sendFile(runId, 'model.safetensors', merged.weights, 'application/octet-stream');
    } catch (e) {
      this.post({ type: 'runError', runId, message: `merged export: ${errorMessage(e)}` });
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
