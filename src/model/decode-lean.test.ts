// Generation's lean step (transformer.ts with a KV cache and no gradients: k/v projected straight into the
// cache rows, q and k rotated in one dispatch, residuals accumulated inside the output projections) against
// the training path: per-step logits equal a full forward without a cache (float64 twin to 1e-10, GPU to 1e-5)
// and the plain cached path (the kernels it replaces; twin 1e-10, GPU 1e-4 as generate.test.ts); dispatches per decode step fall by exactly the
// dispatches it removes (5 per Llama layer, 4 per GPT-2 layer; 3 more per Llama layer with gemv-multi.ts's
// q/k/v and gate/up in one dispatch each), counted by the GPU context.
import { describe, expect, it } from 'vitest';
import { testGpu } from '../../test/helpers/gpu';
import { expectClose } from '../../test/helpers/numeric';
import { type ModelConfig, parseModelConfig } from '../formats/model-config';
import type { GpuRegion } from '../gpu/arena';
import { type GemvMultiArgs, gemvMulti } from '../gpu/kernels/gemv-multi';
import type { Backend } from '../tensor/backend';
import { cpuBackend } from '../tensor/cpu-backend';
import { gpuBackend } from '../tensor/gpu-backend';
import { ParamSet } from '../tensor/params';
import { Tape } from '../tensor/tape';
import { randomModelParams } from './init';
import { KvCache } from './kvcache';
import { TINY_LLAMA } from './testing';
import { forward } from './transformer';

// Widths where a cache row is a GPU view boundary (Hkv·D = 64 floats = 256 bytes): k/v go into the cache.
const LLAMA64: ModelConfig = parseModelConfig({
  model_type: 'llama',
  vocab_size: 41,
  hidden_size: 128,
  intermediate_size: 48,
  num_hidden_layers: 2,
  num_attention_heads: 2,
  num_key_value_heads: 1,
  max_position_embeddings: 32,
  rms_norm_eps: 1e-6,
  rope_theta: 10000,
  hidden_act: 'silu',
  tie_word_embeddings: false,
});
const GPT2_64: ModelConfig = parseModelConfig({
  model_type: 'gpt2',
  vocab_size: 37,
  n_embd: 64,
  n_layer: 2,
  n_head: 2,
  n_positions: 32,
  n_inner: 32,
  layer_norm_epsilon: 1e-5,
  activation_function: 'gelu_new',
});

const params = (c: ModelConfig, seed: number) => randomModelParams(c, seed, () => false, 0.3, true);

/** Rows (B of them, left-padded to one length with 0) fed as a prefill then `feed` one token per step. */
interface Run {
  prompts: number[][];
  feed: number[][];
}

/**
 * Per-step last-position logits [B·V] through the cache (lean or plain), and the dispatch count `count()` saw
 * for each call.
 */
async function cached<S, I>(
  be: Backend<S, I>,
  c: ModelConfig,
  ps: ParamSet<S, I>,
  run: Run,
  plain: boolean,
  count: () => number = () => 0,
  linears?: (p: GemvMultiArgs<S>) => boolean,
): Promise<{ logits: Float64Array[]; dispatches: number[] }> {
  const B = run.prompts.length;
  const L = Math.max(...run.prompts.map((p) => p.length));
  const cache = new KvCache(be, c, {
    B,
    capacity: L + run.feed.length,
    start: run.prompts.map((p) => L - p.length),
  });
  const logits: Float64Array[] = [];
  const dispatches: number[] = [];
  const step = async (ids: Int32Array, T: number) => {
    const tp = new Tape(be, false);
    const d0 = count();
    const r = forward(tp, c, ps, { ids, B, T, cache, lastOnly: true, plain, linears });
    dispatches.push(count() - d0);
    logits.push(await be.read(r.logits.store, B * c.vocabSize));
    tp.dispose();
  };
  const ids = new Int32Array(B * L);
  for (const [b, p] of run.prompts.entries()) ids.set(p, b * L + L - p.length);
  await step(ids, L);
  for (const f of run.feed) await step(Int32Array.from(f), 1);
  cache.dispose();
  return { logits, dispatches };
}

/** The same logits by the training path: each row's whole sequence so far, no cache, no padding. */
async function uncached<S, I>(
  be: Backend<S, I>,
  c: ModelConfig,
  ps: ParamSet<S, I>,
  run: Run,
): Promise<Float64Array[]> {
  const V = c.vocabSize;
  const out: Float64Array[] = [];
  for (let s = 0; s <= run.feed.length; s++) {
    const all = new Float64Array(run.prompts.length * V);
    for (const [b, p] of run.prompts.entries()) {
      const seq = [...p, ...run.feed.slice(0, s).map((f) => f[b])];
      const tp = new Tape(be, false);
      const { logits } = forward(tp, c, ps, { ids: Int32Array.from(seq), B: 1, T: seq.length });
      const l = await be.read(logits.store, seq.length * V);
      all.set(l.subarray((seq.length - 1) * V), b * V);
      tp.dispose();
    }
    out.push(all);
  }
  return out;
}

const ONE: Run = { prompts: [[3, 14, 15, 9, 2]], feed: [[6], [5], [3], [5], [8], [9]] };
const TWO: Run = {
  prompts: [
    [3, 14, 15, 9, 2],
    [7, 1],
  ],
  feed: [
    [6, 2],
    [5, 7],
    [3, 1],
    [5, 9],
  ],
};

describe('the lean decode step', () => {
  for (const c of [LLAMA64, GPT2_64, TINY_LLAMA])
    it(`CPU twin (${c.family}${c === TINY_LLAMA ? ', q/k/v biases' : ''}): logits equal the training path and the plain cached path to 1e-10`, async () => {
      const be = cpuBackend();
      const ps = new ParamSet(be, params(c, 11));
      for (const run of [ONE, TWO]) {
        const want = await uncached(be, c, ps, run);
        const lean = await cached(be, c, ps, run, false);
        const plain = await cached(be, c, ps, run, true);
        for (const [s, l] of lean.logits.entries()) {
          expectClose(l, want[s], 1e-10, 1e-10, `B${run.prompts.length} step ${s} vs training path`);
          expectClose(l, plain.logits[s], 1e-10, 1e-10, `B${run.prompts.length} step ${s} vs plain`);
        }
      }
      ps.dispose();
    });

  for (const [c, saved] of [
    [LLAMA64, 5],
    [GPT2_64, 4],
  ] as const)
    it(`GPU (${c.family}): logits equal the training path to 1e-5; ${saved} dispatches fewer per layer and step`, async () => {
      const ctx = await testGpu();
      // Matmuls one dispatch each: the counts below are the lean step's own savings, not the matmul
      // queue's grouping (which groups the plain path's prefill projections too).
      const be = gpuBackend(ctx, { groupMatmuls: false });
      const ps = new ParamSet(be, params(c, 12));
      try {
        for (const run of [ONE, TWO]) {
          const want = await uncached(be, c, ps, run);
          const count = () => ctx.dispatches;
          const lean = await cached(be, c, ps, run, false, count);
          const plain = await cached(be, c, ps, run, true, count);
          for (const [s, l] of lean.logits.entries()) {
            expectClose(l, want[s], 1e-5, 1e-5, `B${run.prompts.length} step ${s} vs training path`);
            // The plain path's own f32 roundings (other matmul batching) are what separates the two.
            expectClose(l, plain.logits[s], 1e-4, 1e-4, `B${run.prompts.length} step ${s} vs plain`);
          }
          // Decode steps (after the prefill): the counts are the same every step, lower by `saved` per layer.
          const leanSteps = lean.dispatches.slice(1);
          const plainSteps = plain.dispatches.slice(1);
          expect(new Set(leanSteps).size, 'lean dispatches constant').toBe(1);
          expect(new Set(plainSteps).size, 'plain dispatches constant').toBe(1);
          expect(plainSteps[0] - leanSteps[0]).toBe(saved * c.numLayers);
          // The prefill saves as many (GPT-2's batched prompt keeps its k/v slices: rows are not uniform).
          const prefillSaved = c.family === 'gpt2' && run.prompts.length > 1 ? 2 : saved;
          expect(plain.dispatches[0] - lean.dispatches[0]).toBe(prefillSaved * c.numLayers);
          if (c.family !== 'llama') continue;
          // With the multi-projection (q/k/v in one dispatch, gate/up in one): 3 fewer per layer and decode
          // step again; the prefill (T > 1) is as without it.
          const multi = await cached(be, c, ps, run, false, count, (p: GemvMultiArgs<GpuRegion>) =>
            gemvMulti(ctx, p),
          );
          for (const [s, l] of multi.logits.entries())
            expectClose(l, want[s], 1e-5, 1e-5, `multi B${run.prompts.length} step ${s} vs training path`);
          expect(multi.dispatches[0]).toBe(lean.dispatches[0]);
          for (const n of multi.dispatches.slice(1)) expect(leanSteps[0] - n).toBe(3 * c.numLayers);
        }
      } finally {
        ps.dispose();
      }
    });
});
