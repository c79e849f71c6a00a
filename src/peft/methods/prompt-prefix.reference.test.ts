// Prompt and prefix tuning against PyTorch (test/fixtures/peft/prompt-prefix.json, written by
// scripts/peft-reference/prompt_prefix.py after PEFT's PromptEmbedding, PrefixEncoder and get_prompt on the
// tiny GPT-2 and Llama fixtures): loss, last-position logits and every method tensor's gradient, on the GPU
// and the CPU twin. Then what is specific to each: adapter_config.json and keys as PEFT writes them, the
// closed-form counts, TEXT / SAMPLE_VOCAB init with the fixture tokenizer, the reparametrisation's saved table
// (and loading it as PEFT does), the positions of prefix-tuned tokens, and option errors.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { testGpu } from '../../../test/helpers/gpu';
import { expectClose } from '../../../test/helpers/numeric';
import { parseSafetensors, toFloat32 } from '../../formats/safetensors';
import { randomModelParams } from '../../model/init';
import { loadCheckpointSpecs } from '../../model/load';
import { shiftLabels } from '../../model/loss';
import { dirModelSource } from '../../model/sources/node-dir';
import { TINY_GPT2, TINY_LLAMA } from '../../model/testing';
import { forward } from '../../model/transformer';
import type { Backend } from '../../tensor/backend';
import { cpuBackend } from '../../tensor/cpu-backend';
import { gpuBackend } from '../../tensor/gpu-backend';
import * as op from '../../tensor/ops';
import { ParamSet, type ParamSpec, valuesOf } from '../../tensor/params';
import { Tape } from '../../tensor/tape';
import { Adapter, baseWeightsOf, planAdapter } from '../adapter';
import { readAdapterConfig } from '../files';
import { getMethod } from '../registry';
import type { MethodContext, RawOptions } from '../types';
import { PREFIX_MLP, prefix } from './prefix';
import { prompt, textInitIds } from './prompt';

const ROOT = join(import.meta.dirname, '..', '..', '..');
const MODELS = join(ROOT, 'test', 'fixtures', 'models');

interface RefCase {
  name: string;
  model: string;
  method: 'prompt' | 'prefix';
  options: RawOptions;
  B: number;
  T: number;
  input_ids: number[];
  labels: number[];
  tensors: Record<string, { shape: number[]; data: number[] }>;
  loss: number;
  last_logits: number[];
  grads: Record<string, number[]>;
  table?: number[];
}

const REF = JSON.parse(
  readFileSync(join(ROOT, 'test', 'fixtures', 'peft', 'prompt-prefix.json'), 'utf8'),
) as { cases: RefCase[] };

async function openModel(name: string) {
  const m = await dirModelSource(join(MODELS, name)).open();
  const specs = await loadCheckpointSpecs(m.config, m.reader, () => false);
  return { ...m, specs };
}

/** Gradients: tolerance scaled by the tensor's largest entry (float32 sums against float64). */
function expectGradClose(got: ArrayLike<number>, want: ArrayLike<number>, rtol: number, what: string) {
  let max = 0;
  for (let i = 0; i < want.length; i++) max = Math.max(max, Math.abs(want[i]));
  expectClose(got, want, rtol, rtol * 0.01 * max + 1e-9, what);
}

/** One forward (+ backward) of an adapter on a case's batch: loss, last-position logits per item. */
async function run<S, I>(
  be: Backend<S, I>,
  c: Awaited<ReturnType<typeof openModel>>['config'],
  adapter: Adapter<S, I, unknown>,
  k: RefCase,
  grad: boolean,
) {
  const { B, T } = k;
  const ps = adapter.ps;
  const tp = new Tape(be, grad);
  if (grad) ps.zeroGrads();
  const { logits, virtual } = forward(tp, c, ps, { ids: Int32Array.from(k.input_ids), B, T }, adapter.hooks);
  const Tt = T + virtual;
  const V = c.vocabSize;
  const loss = op.crossEntropy(
    tp,
    tp.reshape(logits, [B * Tt, V]),
    shiftLabels(Int32Array.from(k.labels), B, T, virtual),
    'loss',
  );
  if (grad) tp.backward();
  const all = await be.read(logits.store, logits.size);
  const last = new Float64Array(B * V);
  for (let b = 0; b < B; b++) last.set(all.subarray((b * Tt + Tt - 1) * V, (b * Tt + Tt) * V), b * V);
  const lossValue = (await be.read(loss.store, 1))[0];
  tp.dispose();
  return { loss: lossValue, last };
}

async function setupCase<S, I>(be: Backend<S, I>, k: RefCase) {
  const model = await openModel(k.model);
  const method = getMethod(k.method);
  const plan = planAdapter(method, k.options, model.config, model.specs, 1);
  const ps = new ParamSet(be, plan.specs);
  for (const [name, t] of Object.entries(k.tensors)) {
    expect([...ps.get(name).shape], name).toEqual(t.shape);
    ps.write(name, t.data);
  }
  // The recorded tensors are exactly what the method trains: none missing, none extra.
  expect(
    ps
      .trainable()
      .map((t) => t.name)
      .sort(),
  ).toEqual(Object.keys(k.tensors).sort());
  expect(ps.trainableCount).toBe(plan.count);
  return { model, plan, ps, adapter: new Adapter(method, plan, model.config, ps) };
}

describe.each(REF.cases.map((k) => [k.name, k] as const))('%s against PyTorch', (_name, k) => {
  for (const [label, makeBe, tol] of [
    ['GPU', async () => gpuBackend(await testGpu()), { logits: 2e-4, loss: 2e-5, grads: 2e-3 }],
    ['CPU twin', async () => cpuBackend(), { logits: 1e-6, loss: 1e-7, grads: 1e-5 }],
  ] as const) {
    it(`${label}: loss, last logits and every method gradient`, async () => {
      const be = await makeBe();
      const s = await setupCase(be as Backend<unknown, unknown>, k);
      const r = await run(be as Backend<unknown, unknown>, s.model.config, s.adapter, k, true);
      expectClose([r.loss], [k.loss], tol.loss, 0, 'loss');
      expectClose(r.last, k.last_logits, tol.logits, tol.logits, 'last logits');
      for (const name of Object.keys(k.tensors))
        expectGradClose(await s.ps.readGrad(name), k.grads[name], tol.grads, `grad ${name}`);
      s.adapter.dispose();
      s.ps.dispose();
    });
  }

  if (k.table) {
    it('a save writes the computed table as prompt_embeddings; rebuilt from the saved config it gives the same outputs', async () => {
      const be = gpuBackend(await testGpu());
      const s = await setupCase(be, k);
      const want = await run(be, s.model.config, s.adapter, k, false);
      const saved = await s.adapter.save('llama-tiny');
      const h = parseSafetensors(saved.files.weights, 'adapter_model.safetensors');
      expect([...h.tensors.keys()]).toEqual(['prompt_embeddings']);
      const info = h.tensors.get('prompt_embeddings')!;
      const c = s.model.config;
      expect(info.shape).toEqual([3, c.numLayers * 2 * c.numKvHeads * c.headDim]);
      const table = toFloat32(
        saved.files.weights.subarray(h.dataStart + info.begin, h.dataStart + info.end),
        info.dtype,
        'adapter_model.safetensors',
        'prompt_embeddings',
      );
      expectClose(table, k.table!, 1e-5, 1e-6, 'saved table');
      // This adapter cannot load it back (the MLP cannot be recovered), and says so.
      expect(() => s.adapter.load(saved.files.weights)).toThrow(
        /rebuild the adapter from the saved adapter_config/,
      );
      // Rebuilt from the saved adapter_config.json: the table is the parameter, as PEFT's inference mode.
      const o = readAdapterConfig(prefix, saved.config, c);
      expect(o.tableOnly).toBe(true);
      expect(prefix.adapterConfig(o, c)).toEqual({ ...saved.config, base_model_name_or_path: undefined });
      const specs = [...s.model.specs, ...prefix.build(o, c, baseWeightsOf(s.model.specs), 9).added];
      const plan2 = { ...s.plan, options: o, specs, count: prefix.count(o, c), saved: ['prompt_embeddings'] };
      const ps2 = new ParamSet(be, specs);
      const a2 = new Adapter(prefix, plan2, c, ps2);
      a2.load(saved.files.weights);
      const got = await run(be, c, a2 as Adapter<unknown, unknown, unknown>, k, false);
      expectClose([got.loss], [want.loss], 1e-6, 0, 'rebuilt loss');
      expectClose(got.last, want.last, 1e-5, 1e-5, 'rebuilt logits');
      expect(ps2.trainableCount).toBe(plan2.count);
      for (const x of [s, { adapter: a2, ps: ps2 }]) {
        x.adapter.dispose();
        x.ps.dispose();
      }
    });
  }
});

describe('prompt tuning specifics', () => {
  it('adapter_config.json as PEFT writes it, and the closed-form count', () => {
    for (const c of [TINY_GPT2, TINY_LLAMA]) {
      const o = prompt.parse({ num_virtual_tokens: 5 }, c);
      expect(prompt.count(o, c)).toBe(5 * c.hiddenSize);
      expect(prompt.adapterConfig(o, c)).toEqual({
        peft_type: 'PROMPT_TUNING',
        task_type: 'CAUSAL_LM',
        auto_mapping: null,
        revision: null,
        inference_mode: true,
        num_virtual_tokens: 5,
        token_dim: c.hiddenSize,
        num_transformer_submodules: 1,
        num_attention_heads: c.numHeads,
        num_layers: c.numLayers,
        modules_to_save: null,
        prompt_tuning_init: 'RANDOM',
        prompt_tuning_init_text: null,
        tokenizer_name_or_path: null,
        tokenizer_kwargs: null,
      });
    }
    // PEFT's default init is RANDOM; the trained tensor is saved under prompt_embeddings, no prefix.
    const plan = planAdapter(prompt, {}, TINY_GPT2, specsOf(TINY_GPT2), 1);
    expect(plan.options.init).toBe('RANDOM');
    expect(plan.options.numVirtualTokens).toBe(20);
    expect(plan.saved).toEqual(['prompt_embeddings']);
  });

  it('TEXT init: the tokenized text, repeated or cut to n, picks rows of the embedding table', async () => {
    const model = await openModel('llama-tiny');
    const c = model.config;
    const ctx: MethodContext = { tokenizer: model.tokenizer, tokenizerName: 'llama-tiny' };
    const text = 'the cat sat';
    const ids = model.tokenizer.encode(text);
    expect(ids.length).toBeGreaterThan(1);
    expect(textInitIds([1, 2, 3], 7)).toEqual([1, 2, 3, 1, 2, 3, 1]);
    expect(textInitIds([1, 2, 3], 2)).toEqual([1, 2]);
    const table = valuesOf(model.specs.find((s) => s.name === 'model.embed_tokens.weight')!);
    const d = c.hiddenSize;
    for (const n of [ids.length + 2, ids.length - 1]) {
      const raw = { num_virtual_tokens: n, prompt_tuning_init: 'TEXT', prompt_tuning_init_text: text };
      const plan = planAdapter(prompt, raw, c, model.specs, 1, ctx);
      const got = valuesOf(plan.specs.find((s) => s.name === 'prompt_embeddings')!);
      const want = textInitIds(ids, n).flatMap((id) =>
        Array.from({ length: d }, (_, j) => table[id * d + j]),
      );
      expect(Array.from(got)).toEqual(want);
      // tokenizer_name_or_path comes from the context when not given, and is written as PEFT requires.
      expect(prompt.adapterConfig(plan.options, c)).toMatchObject({
        prompt_tuning_init: 'TEXT',
        prompt_tuning_init_text: text,
        tokenizer_name_or_path: 'llama-tiny',
      });
    }
    // Without a tokenizer, or without text, TEXT init says what is missing.
    expect(() =>
      planAdapter(prompt, { prompt_tuning_init: 'TEXT', prompt_tuning_init_text: text }, c, model.specs, 1, {
        tokenizerName: 'x',
      }),
    ).toThrow(/needs the model's tokenizer/);
    expect(() => planAdapter(prompt, { prompt_tuning_init: 'TEXT' }, c, model.specs, 1, ctx)).toThrow(
      /needs prompt_tuning_init_text/,
    );
    // A saved TEXT adapter is rebuilt without a tokenizer (its values are loaded, not initialised).
    const saved = prompt.adapterConfig(
      prompt.parse(
        { prompt_tuning_init: 'TEXT', prompt_tuning_init_text: text, num_virtual_tokens: 4 },
        c,
        ctx,
      ),
      c,
    );
    expect(prompt.adapterConfig(readAdapterConfig(prompt, saved, c), c)).toEqual(saved);
  });

  it('SAMPLE_VOCAB init takes whole rows of the embedding table; RANDOM is N(0, 1)', () => {
    const c = TINY_LLAMA;
    const specs = specsOf(c);
    const table = valuesOf(specs.find((s) => s.name === 'model.embed_tokens.weight')!);
    const d = c.hiddenSize;
    const plan = planAdapter(
      prompt,
      { num_virtual_tokens: 6, prompt_tuning_init: 'SAMPLE_VOCAB' },
      c,
      specs,
      3,
    );
    const got = valuesOf(plan.specs.find((s) => s.name === 'prompt_embeddings')!);
    for (let r = 0; r < 6; r++) {
      const row = Array.from(got).slice(r * d, (r + 1) * d);
      const match = Array.from({ length: c.vocabSize }, (_, v) => v).filter((v) =>
        row.every((x, j) => x === Math.fround(table[v * d + j])),
      );
      expect(match.length, `row ${r} is a vocabulary row`).toBeGreaterThan(0);
    }
    const rnd = valuesOf(planAdapter(prompt, { num_virtual_tokens: 20 }, c, specs, 3).specs.at(-1)!);
    const mean = Array.from(rnd).reduce((a, x) => a + x, 0) / rnd.length;
    const sd = Math.sqrt(Array.from(rnd).reduce((a, x) => a + (x - mean) ** 2, 0) / rnd.length);
    expect(Math.abs(mean)).toBeLessThan(0.15);
    expect(Math.abs(sd - 1)).toBeLessThan(0.15);
  });

  it('bad options name the option', () => {
    expect(() => prompt.parse({ num_virtual_tokens: 0 }, TINY_GPT2)).toThrow(/num_virtual_tokens/);
    expect(() => prompt.parse({ prompt_tuning_init: 'WORDS' }, TINY_GPT2)).toThrow(/prompt_tuning_init/);
    expect(() => prompt.parse({ num_virtual_tokens: 4, r: 8 }, TINY_GPT2)).toThrow(/unknown option "r"/);
    expect(() => readAdapterConfig(prompt, { num_virtual_tokens: 4, token_dim: 99 }, TINY_GPT2)).toThrow(
      /token_dim = 99/,
    );
  });
});

describe('prefix tuning specifics', () => {
  it('adapter_config.json as PEFT writes it (token_dim and heads after its GQA adjustment), and the counts', () => {
    for (const c of [TINY_GPT2, TINY_LLAMA]) {
      const td = c.numKvHeads * c.headDim;
      const W = c.numLayers * 2 * td;
      const o = prefix.parse({ num_virtual_tokens: 4 }, c);
      expect(prefix.count(o, c)).toBe(4 * W);
      expect(prefix.adapterConfig(o, c)).toEqual({
        peft_type: 'PREFIX_TUNING',
        task_type: 'CAUSAL_LM',
        auto_mapping: null,
        revision: null,
        inference_mode: true,
        num_virtual_tokens: 4,
        token_dim: td,
        num_transformer_submodules: 1,
        num_attention_heads: c.numKvHeads,
        num_layers: c.numLayers,
        modules_to_save: null,
        encoder_hidden_size: td,
        prefix_projection: false,
      });
      const m = prefix.parse({ num_virtual_tokens: 4, prefix_projection: true, encoder_hidden_size: 7 }, c);
      expect(prefix.count(m, c)).toBe(4 * td + 7 * td + 7 + W * 7 + W);
      const plan = planAdapter(prefix, { num_virtual_tokens: 4, prefix_projection: true }, c, specsOf(c), 1);
      expect(plan.specs.filter((s) => s.trainable).map((s) => [s.name, s.shape])).toEqual([
        [PREFIX_MLP.embedding, [4, td]],
        [PREFIX_MLP.w0, [td, td]],
        [PREFIX_MLP.b0, [td]],
        [PREFIX_MLP.w2, [W, td]],
        [PREFIX_MLP.b2, [W]],
      ]);
      expect(plan.count).toBe(4 * td + td * td + td + W * td + W);
    }
  });

  it('real tokens take positions n..n+T−1: GPT-2 past its position table is refused with the reason', () => {
    const c = TINY_GPT2; // 32 positions
    const be = cpuBackend();
    const plan = planAdapter(prefix, { num_virtual_tokens: 30 }, c, specsOf(c), 1);
    const ps = new ParamSet(be, plan.specs);
    const a = new Adapter(prefix, plan, c, ps);
    const tp = new Tape(be, false);
    expect(() => forward(tp, c, ps, { ids: new Int32Array(3), B: 1, T: 3 }, a.hooks)).toThrow(
      /position 32 \(real tokens start at 30, after the prefix\)/,
    );
    tp.dispose();
  });

  it('bad options name the option', () => {
    expect(() => prefix.parse({ prefix_projection: 'maybe' }, TINY_LLAMA)).toThrow(/prefix_projection/);
    expect(() => prefix.parse({ encoder_hidden_size: -3 }, TINY_LLAMA)).toThrow(/encoder_hidden_size/);
    expect(() => readAdapterConfig(prefix, { num_virtual_tokens: 4, num_layers: 7 }, TINY_LLAMA)).toThrow(
      /num_layers = 7/,
    );
  });
});

/** Random base weights: values irrelevant to these checks, shapes as the config says. */
function specsOf(c: typeof TINY_GPT2): ParamSpec[] {
  return randomModelParams(c, 11, () => false, 0.2, true);
}
