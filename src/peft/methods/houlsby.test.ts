// Houlsby adapters: the shared matrix on both families, the PyTorch reference (swish), keys and
// adapter_config.json, and the closed-form count on GPT-2 small's shape (the adapters library's
// double_seq_bn count for a 768-wide, 12-layer model: 1,789,056).
import { describe, expect, it } from 'vitest';
import { checkBottleneckReference } from '../../../test/helpers/bottleneck-reference';
import { GPT2_SMALL, matrixFreeBuild } from '../../../test/helpers/peft-build';
import { TINY_LLAMA } from '../../model/testing';
import { methodMatrix } from '../matrix';
import { houlsby } from './houlsby';

methodMatrix('houlsby');

describe('houlsby specifics', () => {
  it('matches the PyTorch reference (forward and gradients)', () => checkBottleneckReference('houlsby'));

  it('counts 2·L·(2dm + m + d) with the adapters defaults', () => {
    const o = houlsby.parse({}, GPT2_SMALL);
    expect(o).toMatchObject({ reductionFactor: 16, nonLinearity: 'swish', sites: ['attn', 'mlp'] });
    expect(houlsby.count(o, GPT2_SMALL)).toBe(1_789_056);
    expect(matrixFreeBuild(houlsby, o, GPT2_SMALL)).toBe(1_789_056);
  });

  it('names tensors as docs/METHODS.md and writes its adapter_config.json', () => {
    const o = houlsby.parse({ reduction_factor: 4 }, TINY_LLAMA);
    const names = houlsby.build(o, TINY_LLAMA, { names: () => [], shape: () => [], data: () => [] }, 0).added;
    expect(names.slice(0, 4).map((s) => [s.name, s.shape])).toEqual([
      ['base_model.model.model.layers.0.self_attn.adapter.down.weight', [4, 16]],
      ['base_model.model.model.layers.0.self_attn.adapter.down.bias', [4]],
      ['base_model.model.model.layers.0.self_attn.adapter.up.weight', [16, 4]],
      ['base_model.model.model.layers.0.self_attn.adapter.up.bias', [16]],
    ]);
    expect(names[4].name).toBe('base_model.model.model.layers.0.mlp.adapter.down.weight');
    expect(houlsby.adapterConfig(o, TINY_LLAMA)).toMatchObject({
      peft_type: 'BOTTLENECK_ADAPTER',
      method: 'houlsby',
      architecture: 'double_seq_bn',
      reduction_factor: 4,
      non_linearity: 'swish',
      sites: ['attn', 'mlp'],
    });
    expect(() => houlsby.parse({ sites: 'ffn' }, TINY_LLAMA)).toThrow(
      /sites = "ffn" must be attn, mlp or both/,
    );
    expect(() => houlsby.parse({ non_linearity: 'tanhh' }, TINY_LLAMA)).toThrow(/non_linearity/);
  });
});
