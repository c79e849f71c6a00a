// Top layers: the shared matrix on both families, plus which keys train (GPT-2's tied head = wte and an
// untied lm_head stay frozen), the closed-form count, and the option error.
import { describe, expect, it } from 'vitest';
import { expectedTensorShapes } from '../../formats/model-config';
import { TINY_GPT2, TINY_LLAMA } from '../../model/testing';
import { methodMatrix } from '../matrix';
import { topLayers, topLayersTrainable } from './top_layers';

methodMatrix('top_layers');

describe('top_layers specifics', () => {
  it('trains the last k blocks and the final norm only', () => {
    const g = topLayersTrainable(topLayers.parse({ num_layers: 1 }, TINY_GPT2), TINY_GPT2);
    const trained = [...expectedTensorShapes(TINY_GPT2).keys()].filter(g);
    expect(trained.every((n) => n.startsWith('transformer.h.1.') || n.startsWith('transformer.ln_f.'))).toBe(
      true,
    );
    expect(g('transformer.wte.weight')).toBe(false);
    const d = TINY_GPT2.hiddenSize;
    const I = TINY_GPT2.intermediateSize;
    const block = 4 * d + (3 * d * d + 3 * d) + (d * d + d) + (d * I + I) + (I * d + d);
    expect(topLayers.count(topLayers.parse({}, TINY_GPT2), TINY_GPT2)).toBe(block + 2 * d);
    const l = topLayersTrainable(topLayers.parse({ num_layers: 2 }, TINY_LLAMA), TINY_LLAMA);
    expect(l('lm_head.weight')).toBe(false);
    expect(l('model.embed_tokens.weight')).toBe(false);
    expect(l('model.layers.0.mlp.up_proj.weight')).toBe(true);
    expect(l('model.norm.weight')).toBe(true);
    expect(() => topLayers.parse({ num_layers: 3 }, TINY_LLAMA)).toThrow(
      /num_layers = 3 must be an integer in \[1, 2\]/,
    );
  });
});
