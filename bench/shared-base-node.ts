// Device memory of three runs side by side (LoRA r8, IA3, prompt tuning with 8 virtual tokens) on the
// built-in model, each run on a base of its own (what the worker did before: one copy per run) against all
// three on one shared FrozenBase (what it does now), for an f32, f16 and nf4 base. Prints one JSON line per
// case: the arena's frozen bytes (exact), the runs' trainable bytes and everything held after one step each.
// Usage: node --import tsx bench/shared-base-node.ts

import { openModelDir } from '../src/cli/model-dir';
import { acquireNodeGpu } from '../src/gpu/node';
import { checkpointBaseSource } from '../src/model/load';
import type { RawOptions } from '../src/peft/types';
import { FrozenBase } from '../src/tensor/frozen-base';
import { gpuBackend } from '../src/tensor/gpu-backend';
import type { BaseDtype } from '../src/tensor/weight-format';
import { SFT_DEFAULTS, SftRunner } from '../src/train/sft';

const md = await openModelDir('public/models/tiny-llama-brown');
const rows = Array.from({ length: 8 }, (_, i) => {
  const ids = [1, 5 + i, 9, 12, 40 + i, 7];
  return { inputIds: ids, labels: ids };
});
const data = { train: rows, eval: [], padId: 0 };
const runs: { method: string; options: RawOptions }[] = [
  { method: 'lora', options: { r: 8 } },
  { method: 'ia3', options: {} },
  { method: 'prompt', options: { num_virtual_tokens: 8 } },
];
const ctx = await acquireNodeGpu({ quiet: true });
for (const dtype of ['f32', 'f16', 'nf4'] as BaseDtype[]) {
  for (const shared of [false, true]) {
    const base = shared
      ? new FrozenBase(gpuBackend(ctx), checkpointBaseSource(md.config, md.reader, dtype), dtype)
      : undefined;
    const made: SftRunner[] = [];
    for (const [i, r] of runs.entries()) {
      const run = { ...SFT_DEFAULTS, ...r, lr: 1e-3, steps: 1, batch: 2, seqLen: 8, baseDtype: dtype };
      made.push(await SftRunner.create(ctx, md.config, md.reader, data, run, { base, owner: `run${i}` }));
    }
    for (const r of made) r.stepOnce();
    await ctx.sync();
    const s = ctx.arena.stats().current;
    const held = Object.values(s).reduce((a, b) => a + b, 0);
    console.log(
      JSON.stringify({
        dtype,
        shared,
        frozen_bytes: s.frozen,
        trainable_bytes: s.trainable,
        held_bytes: held,
      }),
    );
    for (const r of made) r.dispose();
    ctx.trimPool();
  }
}
ctx.destroy();
