// Pfeiffer adapters: the shared matrix on both families, the PyTorch reference (ReLU), the adapters
// library's seq_bn count on a 768-wide 12-layer model (894,528), and sites=attn (the seed's placement).
import { describe, expect, it } from 'vitest';
import { checkBottleneckReference } from '../../../test/helpers/bottleneck-reference';
import { GPT2_SMALL, matrixFreeBuild } from '../../../test/helpers/peft-build';
import { TINY_GPT2 } from '../../model/testing';
import { methodMatrix } from '../matrix';
import { pfeiffer } from './pfeiffer';

methodMatrix('pfeiffer');

describe('pfeiffer specifics', () => {
  it('matches the PyTorch reference (forward and gradients)', () => checkBottleneckReference('pfeiffer'));

  it('counts L·(2dm + m + d) with the adapters defaults; sites=attn moves it after attention', () => {
    const o = pfeiffer.parse({}, GPT2_SMALL);
    expect(o).toMatchObject({ reductionFactor: 16, nonLinearity: 'relu', sites: ['mlp'] });
    expect(pfeiffer.count(o, GPT2_SMALL)).toBe(894_528);
    expect(matrixFreeBuild(pfeiffer, o, GPT2_SMALL)).toBe(894_528);
    const a = pfeiffer.parse({ sites: 'attn' }, TINY_GPT2);
    const added = pfeiffer.build(a, TINY_GPT2, { names: () => [], shape: () => [], data: () => [] }, 0).added;
    expect(added[0].name).toBe('base_model.model.transformer.h.0.attn.adapter.down.weight');
    expect(pfeiffer.adapterConfig(a, TINY_GPT2)).toMatchObject({ sites: ['attn'], architecture: 'seq_bn' });
  });
});
