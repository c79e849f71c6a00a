// DoRA against PEFT's DoraLinearLayer re-stated in PyTorch (test/fixtures/peft/dora.json): forward, the
// gradients of x, A, B and the magnitude with the norm detached, the magnitude's init, and the merge, on an
// nn.Linear (Qwen2 k_proj with bias) and a GPT-2 Conv1D (fan_in_fan_out); plus the saved keys, config and count.
import { describe, expect, it } from 'vitest';
import { testGpu } from '../../../test/helpers/gpu';
import { expectClose } from '../../../test/helpers/numeric';
import { configOf, loadReference, runReference } from '../../../test/helpers/peft-reference';
import { randomModelParams } from '../../model/init';
import { linearSites } from '../../model/sites';
import { TINY_GPT2, TINY_LLAMA } from '../../model/testing';
import { cpuBackend } from '../../tensor/cpu-backend';
import { gpuBackend } from '../../tensor/gpu-backend';
import { planAdapter } from '../adapter';
import { readAdapterConfig } from '../files';
import { dora, doraNormsHost } from './dora';

const cases = loadReference('dora');

describe('DoRA against PyTorch (PEFT formulas)', () => {
  for (const k of cases) {
    it(`${k.path}: forward, gradients and merge match on GPU and the CPU twin`, async () => {
      const ctx = await testGpu();
      for (const kind of ['gpu', 'cpu'] as const) {
        const tol = kind === 'gpu' ? 2e-5 : 1e-10;
        const r =
          kind === 'gpu'
            ? await runReference(gpuBackend(ctx), 'dora', k)
            : await runReference(cpuBackend(), 'dora', k);
        expectClose(r.y, k.y.data, tol, tol, `${kind} y`);
        for (const [name, want] of Object.entries(k.grads))
          expectClose(r.grads.get(name)!, want, tol * 5, tol * 5, `${kind} grad ${name}`);
        expectClose(r.merged.weight, k.merged.weight, tol, tol, `${kind} merged weight`);
        expectClose(r.unmerged.weight, k.weight.data, tol, tol, `${kind} unmerged weight`);
      }
    });

    it(`${k.path}: the magnitude starts at ‖W + s·BA‖ per output row`, () => {
      const site = linearSites(configOf(k)).find((s) => s.path === k.path)!;
      const A = k.tensors[`base_model.model.${k.path}.lora_A.weight`];
      const B = k.tensors[`base_model.model.${k.path}.lora_B.weight`];
      const r = Number(k.options.r);
      const s = Number(k.options.lora_alpha) / r;
      expectClose(
        doraNormsHost(site, k.weight.data, A.data, B.data, r, s),
        k.magnitude_init as number[],
        1e-12,
        1e-12,
        'magnitude init',
      );
    });
  }

  it('saves lora_magnitude_vector beside lora_A/B, as LORA with use_dora, and counts r·(in+out)+out', () => {
    const o = dora.parse({}, TINY_GPT2);
    const base = randomModelParams(TINY_GPT2, 1, () => false, 0.2, true);
    const plan = planAdapter(dora, {}, TINY_GPT2, base, 1);
    // PEFT's default for GPT-2: c_attn, r 8, alpha 8: per layer 8·(16+48) + 48.
    expect(plan.count).toBe(2 * (8 * (16 + 48) + 48));
    expect(plan.saved).toContain('base_model.model.transformer.h.1.attn.c_attn.lora_magnitude_vector');
    expect(plan.specs.find((s) => s.name.endsWith('h.0.attn.c_attn.lora_magnitude_vector'))?.shape).toEqual([
      48,
    ]);
    const cfg = dora.adapterConfig(o, TINY_GPT2);
    expect(cfg).toMatchObject({
      peft_type: 'LORA',
      use_dora: true,
      fan_in_fan_out: true,
      r: 8,
      lora_alpha: 8,
    });
    expect(dora.adapterConfig(dora.parse({}, TINY_LLAMA), TINY_LLAMA)).toMatchObject({
      fan_in_fan_out: false,
      target_modules: ['q_proj', 'v_proj'],
    });
    expect(() => readAdapterConfig(dora, { ...cfg, use_dora: false }, TINY_GPT2)).toThrow(/use_dora/);
  });
});
