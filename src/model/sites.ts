// The linear layers of a model, as the transformer exposes them to methods (same paths, shapes and
// layouts as the sites forward() passes to ModelHooks.linear; a test checks the two agree). Methods use
// this list to decide what to allocate before any forward pass runs.

import type { ModelConfig } from '../formats/model-config';
import type { LinearSite } from './transformer';

/** Every linear layer of the model as the transformer exposes them (in forward order). */
export function linearSites(c: ModelConfig): LinearSite[] {
  const out: LinearSite[] = [];
  const d = c.hiddenSize;
  const mk = (
    layer: number,
    path: string,
    inF: number,
    outF: number,
    layout: LinearSite['layout'],
  ): LinearSite => ({
    layer,
    path,
    module: path.slice(path.lastIndexOf('.') + 1),
    inFeatures: inF,
    outFeatures: outF,
    layout,
  });
  for (let i = 0; i < c.numLayers; i++) {
    if (c.family === 'gpt2') {
      const p = `transformer.h.${i}`;
      out.push(mk(i, `${p}.attn.c_attn`, d, 3 * d, 'in_out'));
      out.push(mk(i, `${p}.attn.c_proj`, d, d, 'in_out'));
      out.push(mk(i, `${p}.mlp.c_fc`, d, c.intermediateSize, 'in_out'));
      out.push(mk(i, `${p}.mlp.c_proj`, c.intermediateSize, d, 'in_out'));
    } else {
      const p = `model.layers.${i}`;
      const q = c.numHeads * c.headDim;
      const kv = c.numKvHeads * c.headDim;
      out.push(mk(i, `${p}.self_attn.q_proj`, d, q, 'out_in'));
      out.push(mk(i, `${p}.self_attn.k_proj`, d, kv, 'out_in'));
      out.push(mk(i, `${p}.self_attn.v_proj`, d, kv, 'out_in'));
      out.push(mk(i, `${p}.self_attn.o_proj`, q, d, 'out_in'));
      out.push(mk(i, `${p}.mlp.gate_proj`, d, c.intermediateSize, 'out_in'));
      out.push(mk(i, `${p}.mlp.up_proj`, d, c.intermediateSize, 'out_in'));
      out.push(mk(i, `${p}.mlp.down_proj`, c.intermediateSize, d, 'out_in'));
    }
  }
  return out;
}
