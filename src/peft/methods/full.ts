// Full fine-tuning, the baseline: every weight trains (GPT-2's tied head is the embedding, one tensor);
// nothing is added; the saved tensors are the model's own under its own keys.

import { countParameters } from '../../formats/model-config';
import { readOptions } from '../options';
import type { PeftMethod } from '../types';

type FullOptions = Record<string, never>;

export const full: PeftMethod<FullOptions> = {
  info: {
    name: 'full',
    label: 'Full fine-tuning',
    family: 'baseline',
    peftType: null,
    mergeable: true,
    identityAtInit: true,
    defaultLr: 5e-5,
    options: [],
  },
  parse(raw) {
    readOptions('full', [], raw); // no options: refuses any given
    return {};
  },
  build: () => ({ baseTrainable: () => true, added: [] }),
  count: (_o, c) => countParameters(c),
  hooks: () => ({}),
  // The weights are the model's: "merging" is a no-op, and the merged model is the trained one.
  merge: () => undefined,
  adapterConfig: () => ({
    peft_type: 'FULL',
    task_type: 'CAUSAL_LM',
    note: 'full fine-tuning: tensors are the model weights',
  }),
  testOptions: () => ({}),
};
