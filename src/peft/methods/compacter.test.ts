// Compacter: the shared matrix on both families, the PyTorch reference (PHM weights built as the adapters
// library's kronecker_product(rule, bmm(left, right)).sum(0), exact GELU), keys, the shared rule, the
// identity init (up projection's right factor zero) and the closed-form count n³ + L·(2r(d+m) + d + m).
import { describe, expect, it } from 'vitest';
import { checkBottleneckReference } from '../../../test/helpers/bottleneck-reference';
import { GPT2_SMALL, matrixFreeBuild } from '../../../test/helpers/peft-build';
import { TINY_GPT2 } from '../../model/testing';
import { valuesOf } from '../../tensor/params';
import { methodMatrix } from '../matrix';
import { compacter } from './compacter';

methodMatrix('compacter');

const noBase = { names: () => [], shape: () => [], data: () => [] };

describe('compacter specifics', () => {
  it('matches the PyTorch reference (forward and gradients, rule included)', () =>
    checkBottleneckReference('compacter'));

  it('counts n³ + L·(2r(d+m) + d + m) with the adapters defaults', () => {
    const o = compacter.parse({}, GPT2_SMALL);
    expect(o).toMatchObject({ reductionFactor: 32, nonLinearity: 'gelu', sites: ['mlp'] });
    expect(o.phm).toMatchObject({ dim: 4, rank: 1, initRange: 1e-4 });
    const want = 64 + 12 * (2 * (768 + 24) + 768 + 24);
    expect(compacter.count(o, GPT2_SMALL)).toBe(want);
    expect(matrixFreeBuild(compacter, o, GPT2_SMALL)).toBe(want);
  });

  it('one shared rule; keys as docs/METHODS.md; identity init zeroes the up right factor only', () => {
    const o = compacter.parse({ reduction_factor: 4 }, TINY_GPT2);
    const added = compacter.build(o, TINY_GPT2, noBase, 1).added;
    expect(added.filter((s) => s.name.endsWith('phm_rule')).map((s) => [s.name, s.shape])).toEqual([
      ['base_model.model.phm_rule', [4, 4, 4]],
    ]);
    const p = 'base_model.model.transformer.h.1.mlp.adapter';
    const byName = new Map(added.map((s) => [s.name, s]));
    expect(byName.get(`${p}.down.phm_left`)?.shape).toEqual([4, 4, 1]);
    expect(byName.get(`${p}.down.phm_right`)?.shape).toEqual([4, 1, 1]);
    expect(byName.get(`${p}.up.phm_left`)?.shape).toEqual([4, 1, 1]);
    expect(byName.get(`${p}.up.phm_right`)?.shape).toEqual([4, 1, 4]);
    expect(Array.from(valuesOf(byName.get(`${p}.up.phm_right`)!)).every((v) => v === 0)).toBe(true);
    expect(Array.from(valuesOf(byName.get(`${p}.down.phm_right`)!)).some((v) => v !== 0)).toBe(true);
    expect(() => compacter.parse({ reduction_factor: 8 }, TINY_GPT2)).toThrow(/phm_dim 4 must divide/);
  });
});
