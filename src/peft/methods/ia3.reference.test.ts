// (IA)³ against PEFT's IA3 Linear re-stated in PyTorch (test/fixtures/peft/ia3.json): output scaling (bias
// included) and feed-forward input scaling, gradients, and the merge (weight rows/columns, bias on
// non-feed-forward targets), on nn.Linear and GPT-2 Conv1D; defaults, shapes, config and count as PEFT.
import { describe, expect, it } from 'vitest';
import { testGpu } from '../../../test/helpers/gpu';
import { expectClose } from '../../../test/helpers/numeric';
import { loadReference, runReference } from '../../../test/helpers/peft-reference';
import { randomModelParams } from '../../model/init';
import { TINY_GPT2, TINY_LLAMA } from '../../model/testing';
import { cpuBackend } from '../../tensor/cpu-backend';
import { gpuBackend } from '../../tensor/gpu-backend';
import { valuesOf } from '../../tensor/params';
import { planAdapter } from '../adapter';
import { ia3, isFeedforward } from './ia3';

const cases = loadReference('ia3');

describe('IA3 against PyTorch (PEFT formulas)', () => {
  for (const k of cases) {
    it(`${k.path} (${k.feedforward ? 'feed-forward' : 'output'}): forward, gradients and merge match`, async () => {
      const ctx = await testGpu();
      for (const kind of ['gpu', 'cpu'] as const) {
        const tol = kind === 'gpu' ? 2e-5 : 1e-10;
        const r =
          kind === 'gpu'
            ? await runReference(gpuBackend(ctx), 'ia3', k)
            : await runReference(cpuBackend(), 'ia3', k);
        expectClose(r.y, k.y.data, tol, tol, `${kind} y`);
        for (const [name, want] of Object.entries(k.grads))
          expectClose(r.grads.get(name)!, want, tol * 5, tol * 5, `${kind} grad ${name}`);
        expectClose(r.merged.weight, k.merged.weight, tol, tol, `${kind} merged weight`);
        if (k.bias) expectClose(r.merged.bias!, k.merged.bias!, tol, tol, `${kind} merged bias`);
        // PEFT divides by l + 1e-8 on unmerge: back to the base within float32 rounding.
        expectClose(r.unmerged.weight, k.weight.data, 1e-5, 1e-6, `${kind} unmerged weight`);
      }
    });
  }

  it('defaults, vector shapes, feed-forward matching and adapter_config as PEFT', () => {
    const base = randomModelParams(TINY_GPT2, 1, () => false, 0.2, true);
    const plan = planAdapter(ia3, {}, TINY_GPT2, base, 1);
    // GPT-2: c_attn (out 48) and mlp.c_proj (feed-forward, in 64) in each of 2 layers.
    expect(plan.count).toBe(2 * (48 + 64));
    const shape = (n: string) =>
      plan.specs.find((s) => s.name === `base_model.model.transformer.h.0.${n}.ia3_l`)?.shape;
    expect(shape('attn.c_attn')).toEqual([48, 1]);
    expect(shape('mlp.c_proj')).toEqual([1, 64]);
    expect(shape('attn.c_proj')).toBeUndefined();
    expect(
      plan.specs
        .filter((s) => s.name.endsWith('ia3_l'))
        .every((s) => Array.from(valuesOf(s)).every((v) => v === 1)),
    ).toBe(true);
    expect(ia3.adapterConfig(ia3.parse({}, TINY_GPT2), TINY_GPT2)).toMatchObject({
      peft_type: 'IA3',
      target_modules: ['c_attn', 'mlp.c_proj'],
      feedforward_modules: ['mlp.c_proj'],
      fan_in_fan_out: true,
      init_ia3_weights: true,
    });
    // Qwen2 (TINY_LLAMA): q_proj, v_proj, down_proj; down_proj feed-forward (in 24): per layer 16 + 8 + 24.
    const q = ia3.parse({}, TINY_LLAMA);
    expect(q.targets).toEqual(['q_proj', 'v_proj', 'down_proj']);
    expect(ia3.count(q, TINY_LLAMA)).toBe(2 * (16 + 8 + 24));
    expect(ia3.adapterConfig(q, TINY_LLAMA)).toMatchObject({
      feedforward_modules: ['down_proj'],
      fan_in_fan_out: false,
    });
    // PEFT matches feed-forward list entries with endswith (no dot), regexes in full.
    expect(isFeedforward({ path: 'transformer.h.0.attn.c_proj' }, ['c_proj'])).toBe(true);
    expect(isFeedforward({ path: 'transformer.h.0.attn.c_proj' }, ['mlp.c_proj'])).toBe(false);
    expect(isFeedforward({ path: 'transformer.h.0.mlp.c_proj' }, '.*mlp\\.c_proj')).toBe(true);
    expect(() => ia3.parse({ target_modules: ['c_attn'], feedforward_modules: ['c_fc'] }, TINY_GPT2)).toThrow(
      /feedforward_modules/,
    );
  });
});
