// Inference cost, the fifth comparison column: forward latency of the base model, of the fine-tuned model
// with its method unmerged (extra layers, longer sequences), and merged where the method allows it.
// Median wall time around a full device sync, after a warm-up; the adapter's state is restored after.

import type { ModelConfig } from '../formats/model-config';
import type { GpuRegion } from '../gpu/arena';
import type { GpuContext } from '../gpu/context';
import { forward } from '../model/transformer';
import type { Adapter } from '../peft/adapter';
import type { ParamSet } from '../tensor/params';
import { Tape } from '../tensor/tape';

export interface InferenceLatency {
  baseMs: number;
  unmergedMs: number;
  /** null for methods that cannot merge (adapters, soft prompts). */
  mergedMs: number | null;
  /** unmerged / base: the overhead the method costs at inference when not merged. */
  overhead: number;
}

async function medianMs(runs: number, once: () => Promise<void>): Promise<number> {
  await once(); // warm-up: pipelines compiled, buffers pooled
  const t: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    await once();
    t.push(performance.now() - t0);
  }
  t.sort((a, b) => a - b);
  return t[Math.floor(t.length / 2)];
}

export async function measureInferenceLatency(
  ctx: GpuContext,
  config: ModelConfig,
  ps: ParamSet<GpuRegion, GpuRegion>,
  adapter: Adapter<GpuRegion, GpuRegion, unknown>,
  shape: { B: number; T: number },
  runs = 5,
): Promise<InferenceLatency> {
  const ids = Int32Array.from({ length: shape.B * shape.T }, (_, i) => (i * 31 + 7) % config.vocabSize);
  const once = async () => {
    const tp = new Tape(ps.be, false);
    forward(tp, config, ps, { ids, B: shape.B, T: shape.T }, adapter.hooks);
    await ctx.sync();
    tp.dispose();
  };
  const wasEnabled = adapter.state.enabled;
  const wasMerged = adapter.state.merged;
  if (wasMerged) adapter.unmerge();
  if (!wasEnabled) await adapter.setEnabled(true);
  const unmergedMs = await medianMs(runs, once);
  let mergedMs: number | null = null;
  if (adapter.method.info.mergeable) {
    adapter.merge();
    mergedMs = await medianMs(runs, once);
    adapter.unmerge();
  }
  await adapter.setEnabled(false);
  const baseMs = await medianMs(runs, once);
  await adapter.setEnabled(wasEnabled);
  if (wasMerged) adapter.merge();
  return { baseMs, unmergedMs, mergedMs, overhead: unmergedMs / baseMs };
}
