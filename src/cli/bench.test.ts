// bench --compare selective's variants: on one model the four methods train (nearly) the same number of
// parameters — N:M fixes the budget, unstructured sparse and rows match it exactly where the widths allow,
// LoRA takes the rank whose count comes nearest — and all over every linear layer.
import { describe, expect, it } from 'vitest';
import { randomModelParams } from '../model/init';
import { TINY_GPT2, TINY_LLAMA } from '../model/testing';
import { planAdapter } from '../peft/adapter';
import { getMethod } from '../peft/registry';
import { selectSites } from '../peft/targets';
import { selectiveVariants } from './bench';

describe('bench --compare selective', () => {
  for (const c of [TINY_LLAMA, TINY_GPT2]) {
    it(`sparse, N:M, rows and LoRA at one trainable budget (${c.modelType})`, () => {
      const base = randomModelParams(c, 1);
      const counts = selectiveVariants(c, '1:4').map((v) => ({
        label: v.label,
        count: planAdapter(getMethod(v.method), v.options, c, base, 0).count,
      }));
      expect(counts.map((x) => x.label)).toEqual(['sparse', 'sparse_nm_1_4', 'rows', 'lora']);
      const sites = selectSites(c, 'all-linear');
      const budget = sites.reduce((n, s) => n + (s.outFeatures * s.inFeatures) / 4, 0);
      expect(counts.slice(0, 3).map((x) => x.count)).toEqual([budget, budget, budget]);
      // LoRA's count moves in steps of Σ(in + out): it lands within half a step of the budget.
      const step = sites.reduce((n, s) => n + s.inFeatures + s.outFeatures, 0);
      expect(Math.abs(counts[3].count - budget)).toBeLessThanOrEqual(step / 2);
    });
  }

  it('refuses an --nm that is not N:M', () => {
    expect(() => selectiveVariants(TINY_LLAMA, '2-4')).toThrow(/--nm must be N:M/);
  });
});
