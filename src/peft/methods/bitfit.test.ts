// BitFit: the shared matrix on both families (Qwen2-style tiny Llama with all-linear: its q/k/v biases
// train in place, o/gate/up/down get new zero biases), plus a Llama with no biases at all: the default
// targets every linear with a zero bias under the model's own keys, a fresh adapter is the identity, and
// merged equals unmerged (the biases stay applied: see bitfit.ts).
import { describe, expect, it } from 'vitest';
import { testGpu } from '../../../test/helpers/gpu';
import { expectClose } from '../../../test/helpers/numeric';
import { parseModelConfig } from '../../formats/model-config';
import { randomModelParams } from '../../model/init';
import { TINY_GPT2 } from '../../model/testing';
import { forward } from '../../model/transformer';
import { gpuBackend } from '../../tensor/gpu-backend';
import { ParamSet } from '../../tensor/params';
import { Tape } from '../../tensor/tape';
import { Adapter, planAdapter } from '../adapter';
import { methodMatrix } from '../matrix';
import { bitfit } from './bitfit';

methodMatrix('bitfit');

const LLAMA_NO_BIAS = parseModelConfig({
  model_type: 'llama',
  vocab_size: 29,
  hidden_size: 16,
  intermediate_size: 24,
  num_hidden_layers: 2,
  num_attention_heads: 4,
  num_key_value_heads: 2,
  max_position_embeddings: 32,
  rms_norm_eps: 1e-6,
  tie_word_embeddings: true,
});

describe('bitfit specifics', () => {
  it('GPT-2: every bias by default (attention, MLP, norms), counted in closed form', () => {
    const o = bitfit.parse({}, TINY_GPT2);
    const d = TINY_GPT2.hiddenSize;
    const I = TINY_GPT2.intermediateSize;
    expect(o.added).toEqual([]);
    // Per block ln_1, c_attn, attn.c_proj, ln_2, c_fc, mlp.c_proj; then ln_f.
    expect(bitfit.count(o, TINY_GPT2)).toBe(TINY_GPT2.numLayers * (d + 3 * d + d + d + I + d) + d);
    expect(o.base).toContain('transformer.h.0.ln_1.bias');
    expect(o.base).toContain('transformer.ln_f.bias');
    expect(bitfit.parse({ target_modules: ['c_fc'] }, TINY_GPT2).base).toEqual([
      'transformer.h.0.mlp.c_fc.bias',
      'transformer.h.1.mlp.c_fc.bias',
    ]);
    expect(() => bitfit.parse({ target_modules: ['nope'] }, TINY_GPT2)).toThrow(
      /matches no bias or linear layer/,
    );
  });

  it('a bias-less Llama gets zero biases under its own keys: identity at init, merged = unmerged', async () => {
    const c = LLAMA_NO_BIAS;
    const be = gpuBackend(await testGpu());
    const base = randomModelParams(c, 2, () => false, 0.2, true);
    const plan = planAdapter(bitfit, {}, c, base, 0);
    expect(plan.saved.slice(0, 2)).toEqual([
      'model.layers.0.self_attn.q_proj.bias',
      'model.layers.0.self_attn.k_proj.bias',
    ]);
    expect(plan.count).toBe(c.numLayers * (16 + 8 + 8 + 16 + 24 + 24 + 16));
    const ps = new ParamSet(be, plan.specs);
    expect(ps.trainableCount).toBe(plan.count);
    const adapter = new Adapter(bitfit, plan, c, ps);
    const ids = Int32Array.from({ length: 8 }, (_, i) => (i * 3 + 1) % c.vocabSize);
    const logits = async () => {
      const tp = new Tape(be, false);
      const r = forward(tp, c, ps, { ids, B: 1, T: 8 }, adapter.hooks);
      const out = await be.read(r.logits.store, r.logits.size);
      tp.dispose();
      return out;
    };
    const fresh = await logits();
    await adapter.setEnabled(false);
    expectClose(fresh, await logits(), 0, 0, 'zero biases = base');
    await adapter.setEnabled(true);
    ps.write(
      'model.layers.1.mlp.down_proj.bias',
      Float32Array.from({ length: 16 }, (_, i) => 0.1 * (i - 8)),
    );
    const trained = await logits();
    expect(trained.some((v, i) => Math.abs(v - fresh[i]) > 1e-4)).toBe(true);
    adapter.merge();
    expectClose(await logits(), trained, 1e-6, 1e-7, 'merged');
    adapter.unmerge();
    expect(bitfit.adapterConfig(plan.options, c)).toMatchObject({
      peft_type: 'BITFIT',
      target_modules: null,
    });
    adapter.dispose();
    ps.dispose();
  });
});
