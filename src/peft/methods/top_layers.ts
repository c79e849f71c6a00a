// Top layers: every weight of the last k blocks and the final norm trains under the model's own keys
// (PEFT's layers_to_transform applied to full fine-tuning). GPT-2's head is wte, which is not in the top
// layers, so it stays frozen; an untied Llama lm_head stays frozen too. Trained in place, so merging is
// a no-op and the merged model is the trained one.

import { modelTensors } from '../../formats/architecture';
import { expectedTensorShapes, type ModelConfig } from '../../formats/model-config';
import { OptionReader } from '../options';
import type { OptionSpec, PeftMethod, RawOptions } from '../types';

export interface TopLayersOptions {
  numLayers: number;
}

const OPTIONS = [
  {
    key: 'num_layers',
    kind: 'int',
    default: 1,
    min: 1,
    group: 'main',
    help: 'number of top transformer blocks that train (at most the model’s layers)',
  },
] as const satisfies readonly OptionSpec[];

/** The trainable predicate over canonical model keys. */
export function topLayersTrainable(o: TopLayersOptions, c: ModelConfig): (name: string) => boolean {
  const t = modelTensors(c);
  // Module paths of what trains: the last k blocks and the final norm (every tensor under them).
  const paths = [...t.blocks.slice(c.numLayers - o.numLayers).map((b) => b.path), t.finalNorm.path];
  return (name) => paths.some((p) => name.startsWith(`${p}.`));
}

function parse(raw: RawOptions, c: ModelConfig): TopLayersOptions {
  const rd = new OptionReader('top_layers', OPTIONS, raw);
  return { numLayers: rd.get('num_layers', { max: c.numLayers }) };
}

export const topLayers: PeftMethod<TopLayersOptions> = {
  info: {
    name: 'top_layers',
    label: 'Top layers',
    family: 'selective',
    peftType: null,
    mergeable: true,
    identityAtInit: true,
    defaultLr: 1e-4,
    options: OPTIONS,
  },
  parse,
  build: (o, c) => ({ baseTrainable: topLayersTrainable(o, c), added: [] }),
  count(o, c) {
    const t = topLayersTrainable(o, c);
    let n = 0;
    for (const [name, shape] of expectedTensorShapes(c)) if (t(name)) n += shape.reduce((a, b) => a * b, 1);
    return n;
  },
  hooks: () => ({}),
  merge: () => undefined,
  adapterConfig: (o, c) => ({
    peft_type: 'TOP_LAYERS',
    task_type: 'CAUSAL_LM',
    num_layers: o.numLayers,
    layers_to_transform: Array.from({ length: o.numLayers }, (_, i) => c.numLayers - o.numLayers + i),
    final_norm: true,
  }),
  testOptions: () => ({ num_layers: 1 }),
};
