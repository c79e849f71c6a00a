// A vocabulary table above this adapter's real binding limit, trained on: a 1-layer slice of Qwen2.5-3B's
// table and attention shapes (hidden 2048, vocabulary 151,936, tied head: the f32 table is 1.16 GiB, over
// the 1 GiB maxStorageBufferBindingSize of Dawn/SwiftShader here; the MLP narrowed to --intermediate) with
// random weights, one LoRA step (r8, all linears) at B1 T16 on the GPU with the table held in row parts
// (FrozenBase at ctx.limits), against the same step with the table in twice as many parts (half the limit)
// and, with --twin, the float64 twin holding it whole; the arena's peak against the meter's prediction with
// the same limit. Prints one JSON line.
// Usage: node --import tsx bench/split-head-node.ts [--layers N] [--seq T] [--intermediate I] [--twin]
// Host memory: ~3 GB (the f32 values, SwiftShader's copy); --twin adds the twin's float64 copy (~2.6 GB).

import { largestBufferBytes, parseModelConfig } from '../src/formats/model-config';
import { acquireNodeGpu } from '../src/gpu/node';
import { randomModelParams } from '../src/model/init';
import { causalLmLoss } from '../src/model/loss';
import { Adapter, paramSetOnBase, planAdapter } from '../src/peft/adapter';
import { getMethod } from '../src/peft/registry';
import type { Backend } from '../src/tensor/backend';
import { cpuBackend } from '../src/tensor/cpu-backend';
import { FrozenBase } from '../src/tensor/frozen-base';
import { gpuBackend } from '../src/tensor/gpu-backend';
import { ParamSet } from '../src/tensor/params';
import { splitOf } from '../src/tensor/split-weight';
import { Tape } from '../src/tensor/tape';
import { predictTrainingMemory } from '../src/train/memory';

const arg = (flag: string, dflt: number) => {
  const i = process.argv.indexOf(flag);
  return i >= 0 ? Number(process.argv[i + 1]) : dflt;
};
const layers = arg('--layers', 1);
const T = arg('--seq', 16);
const twin = process.argv.includes('--twin');
const intermediate = arg('--intermediate', 1024);

const c = parseModelConfig({
  model_type: 'qwen2',
  vocab_size: 151936,
  hidden_size: 2048,
  intermediate_size: intermediate,
  num_hidden_layers: layers,
  num_attention_heads: 16,
  num_key_value_heads: 2,
  max_position_embeddings: 64,
  rms_norm_eps: 1e-6,
  rope_theta: 1000000,
  hidden_act: 'silu',
  tie_word_embeddings: true,
});
const LORA = { r: 8, lora_alpha: 16, target_modules: 'all-linear', init_lora_weights: 'false' };
const m = getMethod('lora');
const specs = randomModelParams(c, 5);
const plan = planAdapter(m, LORA, c, specs, 7);
const ids = Int32Array.from({ length: T }, (_, i) => (i * 9973 + 11) % c.vocabSize);
ids[0] = c.vocabSize - 1;

async function step<S, I>(be: Backend<S, I>, ps: ParamSet<S, I>) {
  const adapter = new Adapter(m, plan, c, ps);
  const tp = new Tape(be, true);
  ps.zeroGrads();
  const loss = causalLmLoss(tp, c, ps, { ids, labels: ids, B: 1, T }, adapter.hooks).loss;
  tp.backward();
  const out = { loss: (await be.read(loss.store, 1))[0], grads: new Map<string, Float64Array>() };
  for (const t of ps.trainable()) out.grads.set(t.name, await ps.readGrad(t.name));
  tp.dispose();
  adapter.dispose();
  return out;
}

const ctx = await acquireNodeGpu({ quiet: true });
const limit = Math.min(ctx.limits.maxStorageBufferBindingSize, ctx.limits.maxBufferSize);
const tableBytes = largestBufferBytes(c.vocabSize, c.hiddenSize, 'f32', 'out_in');
const be = gpuBackend(ctx);
const values = new Map(specs.map((s) => [s.name, s.data]));
const source = {
  tensors: specs.map((s) => ({
    name: s.name,
    shape: s.shape,
    dtype: 'f32' as const,
    layout: 'out_in' as const,
  })),
  read: async (name: string) => values.get(name)!,
};
const frozenSpecs = plan.specs.map((s) => (s.trainable ? s : { ...s, data: null }));
const predicted = predictTrainingMemory(
  c,
  frozenSpecs,
  (ps) => new Adapter(m, plan, c, ps).hooks,
  { B: 1, T },
  {
    maxBufferBytes: limit,
  },
).peakTotal;
/** One GPU step with the table held under `maxBufferBytes`: its parts, loss, gradients, arena peak. */
async function gpuStep(maxBufferBytes: number) {
  const before = ctx.arena.stats().currentTotal;
  ctx.arena.resetPeak();
  const base = new FrozenBase(be, source, 'f32', undefined, { maxBufferBytes });
  const t0 = performance.now();
  const ps = await paramSetOnBase(be, plan, base);
  const parts = splitOf(ps.get('model.embed_tokens.weight'))?.parts.map((p) => p.rows) ?? null;
  const out = await step(be, ps);
  await ctx.sync();
  const measured = ctx.arena.stats().peakTotal - before;
  const seconds = (performance.now() - t0) / 1000;
  ps.dispose();
  base.dispose();
  return { ...out, parts, measured, seconds };
}
const gpu = await gpuStep(limit);
const finer = await gpuStep(Math.floor(limit / 2));
let worstFiner = 0;
for (const [name, g] of gpu.grads) {
  const got = finer.grads.get(name)!;
  const scale = g.reduce((a, v) => Math.max(a, Math.abs(v)), 0) || 1;
  for (let i = 0; i < g.length; i++) worstFiner = Math.max(worstFiner, Math.abs(got[i] - g[i]) / scale);
}

let vsTwin: { twin_loss: number; loss_rel_err: number; worst_grad_err_of_scale: number } | null = null;
if (twin) {
  const cbe = cpuBackend();
  const cps = new ParamSet(cbe, plan.specs);
  const ref = await step(cbe, cps);
  cps.dispose();
  let worst = 0;
  for (const [name, g] of ref.grads) {
    const got = gpu.grads.get(name)!;
    const scale = g.reduce((a, v) => Math.max(a, Math.abs(v)), 0) || 1;
    for (let i = 0; i < g.length; i++) worst = Math.max(worst, Math.abs(got[i] - g[i]) / scale);
  }
  vsTwin = {
    twin_loss: ref.loss,
    loss_rel_err: Math.abs(gpu.loss - ref.loss) / Math.abs(ref.loss),
    worst_grad_err_of_scale: worst,
  };
}
console.log(
  JSON.stringify({
    shape: `Qwen2.5-3B slice: ${layers} layer(s), V ${c.vocabSize}, d ${c.hiddenSize}, tied, f32, LoRA r8 all-linear, B1 T${T}`,
    binding_limit_bytes: limit,
    table_bytes: tableBytes,
    parts: gpu.parts,
    gpu_loss: gpu.loss,
    finer_parts: finer.parts,
    finer_loss_rel_diff: Math.abs(finer.loss - gpu.loss) / Math.abs(gpu.loss),
    finer_worst_grad_diff_of_scale: worstFiner,
    ...vsTwin,
    measured_peak_bytes: gpu.measured,
    predicted_peak_bytes: predicted,
    gpu_step_seconds: Math.round(gpu.seconds),
  }),
);
