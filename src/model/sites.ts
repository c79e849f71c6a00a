// The sites of a model, as the transformer exposes them to methods: every linear (same paths, shapes and
// layouts as the sites forward() passes to ModelHooks.linear; a test checks the two agree) and every
// sublayer output. Both are views of the architecture table (formats/architecture.ts). Methods use these
// lists to decide what to allocate before any forward pass runs.

import { modelLinears, modelTensors } from '../formats/architecture';
import type { ModelConfig } from '../formats/model-config';
import type { LinearSite, SublayerSite } from './transformer';

/** Every linear layer of the model as the transformer exposes them (in forward order). */
export function linearSites(c: ModelConfig): LinearSite[] {
  return modelLinears(c).map((l) => l.site);
}

/** Every sublayer (attention, MLP) of the model as ModelHooks.sublayer sees them (in forward order). */
export function sublayerSites(c: ModelConfig): SublayerSite[] {
  return modelTensors(c).blocks.flatMap((b): SublayerSite[] => [
    { layer: b.layer, kind: 'attn', path: b.attnPath },
    { layer: b.layer, kind: 'mlp', path: b.mlpPath },
  ]);
}
