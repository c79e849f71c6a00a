// LoKr against PEFT's LoKr re-stated in PyTorch (test/fixtures/peft/lokr.json): forward, gradients of x and
// every factor, and the merge, with w1/w2 full or decomposed, on nn.Linear and GPT-2 Conv1D (ΔW applied in
// [out, in]); PEFT's factorization against values worked out by hand; shapes, keys, config and count.
import { describe, expect, it } from 'vitest';
import { testGpu } from '../../../test/helpers/gpu';
import { expectClose } from '../../../test/helpers/numeric';
import { loadReference, runReference } from '../../../test/helpers/peft-reference';
import { randomModelParams } from '../../model/init';
import { linearSites } from '../../model/sites';
import { TINY_GPT2, TINY_LLAMA } from '../../model/testing';
import { cpuBackend } from '../../tensor/cpu-backend';
import { gpuBackend } from '../../tensor/gpu-backend';
import { valuesOf } from '../../tensor/params';
import { planAdapter } from '../adapter';
import { readAdapterConfig } from '../files';
import { factorization, lokr, lokrShape } from './lokr';

const cases = loadReference('lokr');

describe('LoKr against PyTorch (PEFT formulas)', () => {
  for (const k of cases) {
    it(`${k.path} (${Object.keys(k.tensors).length} factors): forward, gradients and merge match`, async () => {
      const ctx = await testGpu();
      for (const kind of ['gpu', 'cpu'] as const) {
        const tol = kind === 'gpu' ? 2e-5 : 1e-10;
        const r =
          kind === 'gpu'
            ? await runReference(gpuBackend(ctx), 'lokr', k)
            : await runReference(cpuBackend(), 'lokr', k);
        expectClose(r.y, k.y.data, tol, tol, `${kind} y`);
        for (const [name, want] of Object.entries(k.grads))
          expectClose(r.grads.get(name)!, want, tol * 5, tol * 5, `${kind} grad ${name}`);
        expectClose(r.merged.weight, k.merged.weight, tol, tol, `${kind} merged weight`);
        expectClose(r.unmerged.weight, k.weight.data, tol, tol, `${kind} unmerged weight`);
      }
    });

    it(`${k.path}: factor shapes and the use_w1/use_w2 rules as PEFT decides them`, () => {
      const c = k.family === 'gpt2' ? TINY_GPT2 : TINY_LLAMA;
      const site = linearSites(c).find((s) => s.path === k.path)!;
      const o = lokr.parse(k.options, c);
      const sh = lokrShape(site, o);
      const want = k.shapes as {
        a: number;
        b: number;
        c: number;
        d: number;
        use_w1: boolean;
        use_w2: boolean;
      };
      expect(sh).toEqual({
        a: want.a,
        b: want.b,
        c: want.c,
        d: want.d,
        useW1: want.use_w1,
        useW2: want.use_w2,
      });
      const built = lokr.build(o, c, { names: () => [], shape: () => [], data: () => [] }, 1).added;
      expect(Object.fromEntries(built.map((t) => [t.name, t.shape]))).toEqual(
        Object.fromEntries(Object.entries(k.tensors).map(([n, t]) => [n, t.shape])),
      );
    });
  }

  it('factorization follows PEFT’s definition (worked by hand)', () => {
    // PEFT's docstring examples.
    expect(factorization(256)).toEqual([16, 16]);
    expect(factorization(128)).toEqual([8, 16]);
    expect(factorization(127)).toEqual([1, 127]);
    expect(factorization(128, 4)).toEqual([4, 32]);
    // By hand: divisor pairs walked upward while m + n does not grow.
    expect(factorization(768)).toEqual([24, 32]);
    expect(factorization(3072)).toEqual([48, 64]);
    expect(factorization(48)).toEqual([6, 8]);
    expect(factorization(24)).toEqual([4, 6]);
    expect(factorization(8)).toEqual([2, 4]);
    expect(factorization(768, 8)).toEqual([8, 96]);
    // A factor that does not divide caps m: 2, 3, 4 divide 768, 6 > 5 stops the walk.
    expect(factorization(768, 5)).toEqual([4, 192]);
    expect(factorization(1)).toEqual([1, 1]);
  });

  it('init: w1 zero (identity), w2 kaiming-uniform within 1/√fan_in; count and adapter_config as PEFT', () => {
    const base = randomModelParams(TINY_LLAMA, 1, () => false, 0.2, true);
    const plan = planAdapter(lokr, { r: 2, target_modules: ['k_proj', 'down_proj'] }, TINY_LLAMA, base, 7);
    const get = (n: string) => plan.specs.find((s) => s.name === `base_model.model.model.layers.0.${n}`)!;
    expect(Array.from(valuesOf(get('self_attn.k_proj.lokr_w1'))).every((v) => v === 0)).toBe(true);
    // k_proj: out 8 = 2·4, in 16 = 4·4; r 2 ≥ max(4,4)/2 → full w2 [4, 4].
    const w2 = Array.from(valuesOf(get('self_attn.k_proj.lokr_w2')));
    expect(w2.every((v) => Math.abs(v) <= 1 / Math.sqrt(4))).toBe(true);
    expect(w2.some((v) => v !== 0)).toBe(true);
    // down_proj: out 16 = 4·4, in 24 = 4·6; r 2 < max(4,6)/2 → w2_a [4,2], w2_b [2,6].
    expect(get('mlp.down_proj.lokr_w2_a').shape).toEqual([4, 2]);
    // Count per layer: k_proj 2·4 + 4·4, down_proj 4·4 + 2·(4+6).
    expect(plan.count).toBe(2 * (2 * 4 + 4 * 4 + 4 * 4 + 2 * (4 + 6)));
    const cfg = lokr.adapterConfig(lokr.parse({}, TINY_GPT2), TINY_GPT2);
    expect(cfg).toMatchObject({
      peft_type: 'LOKR',
      r: 8,
      alpha: 8,
      decompose_both: false,
      decompose_factor: -1,
      rank_dropout: 0,
      module_dropout: 0,
      init_weights: true,
      target_modules: ['c_attn'],
    });
    expect(() => readAdapterConfig(lokr, { ...cfg, rank_dropout: 0.1 }, TINY_GPT2)).toThrow(/rank_dropout/);
    expect(() => lokr.parse({ decompose_factor: 0 }, TINY_GPT2)).toThrow(/decompose_factor/);
  });
});
