// Communication volume per method: for every registered method on both families, the all-reduce bytes
// equal four bytes per trainable element the plan allocates; for the methods with a compact form the
// figure follows their own formula (sparse: Σk values, N:M: Σ out·in·N/M, rows: Σ k·in, LoRA: Σ r·(in+out))
// and leaves their int32 indices out.
import { describe, expect, it } from 'vitest';
import { randomModelParams } from '../model/init';
import { TINY_GPT2, TINY_LLAMA } from '../model/testing';
import { planAdapter } from './adapter';
import { allreduceBytes, GRAD_BYTES } from './allreduce';
import { getMethod, listMethods } from './registry';
import { selectSites } from './targets';
import type { RawOptions } from './types';

const size = (shape: readonly number[]) => shape.reduce((a, b) => a * b, 1);

describe('all-reduce bytes', () => {
  for (const c of [TINY_GPT2, TINY_LLAMA]) {
    const base = randomModelParams(c, 1);
    it(`every method: four bytes per trainable element allocated (${c.modelType})`, () => {
      for (const m of listMethods()) {
        const plan = planAdapter(m, m.testOptions(c, false), c, base, 0);
        const trainable = plan.specs.filter((s) => s.trainable).reduce((n, s) => n + size(s.shape), 0);
        expect(allreduceBytes(m, plan.options, c), m.info.name).toBe(4 * trainable);
      }
    });

    it(`sparse, N:M, rows and LoRA follow their formulas, indices excluded (${c.modelType})`, () => {
      const sites = selectSites(c, 'all-linear');
      const cases: { name: string; raw: RawOptions; want: number }[] = [
        {
          name: 'sparse',
          raw: { density: 0.1 },
          want: sites.reduce((n, s) => n + Math.max(1, Math.round(0.1 * s.outFeatures * s.inFeatures)), 0),
        },
        {
          name: 'sparse',
          raw: { mask: 'nm', nm: '1:4' },
          want: sites.reduce((n, s) => n + (s.outFeatures * s.inFeatures) / 4, 0),
        },
        {
          name: 'rows',
          raw: { density: 0.25 },
          want: sites.reduce((n, s) => n + Math.max(1, Math.round(0.25 * s.outFeatures)) * s.inFeatures, 0),
        },
      ];
      for (const k of cases) {
        const m = getMethod(k.name);
        const plan = planAdapter(m, k.raw, c, base, 0);
        const bytes = allreduceBytes(m, plan.options, c);
        expect(bytes, `${k.name} ${JSON.stringify(k.raw)}`).toBe(GRAD_BYTES * k.want);
        const indexBytes = plan.ints.reduce((n, x) => n + 4 * x.data.length, 0);
        expect(indexBytes).toBeGreaterThan(0);
        expect(plan.specs.every((s) => !s.trainable || !s.name.endsWith('indices'))).toBe(true);
      }
      const lora = getMethod('lora');
      const lp = planAdapter(lora, { r: 2, target_modules: 'all-linear' }, c, base, 0);
      expect(allreduceBytes(lora, lp.options, c)).toBe(
        4 * sites.reduce((n, s) => n + 2 * (s.inFeatures + s.outFeatures), 0),
      );
    });
  }
});
