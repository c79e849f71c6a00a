// Compacter (the adapters library's CompacterConfig): the Pfeiffer-site adapter whose down and up
// projections are PHM layers H = Σᵢ rule[i] ⊗ (left[i]·right[i]) with one rule [n,n,n] shared by every layer
// and both projections (`base_model.model.phm_rule`), phm_dim 4, rank 1, exact GELU, reduction factor 32,
// PHM biases on. H is built on the device each step (ops-peft.ts phmWeight). See bottleneck.ts.
import { bottleneckMethod } from './bottleneck';

export const compacter = bottleneckMethod({
  name: 'compacter',
  label: 'Compacter',
  architecture: 'compacter',
  reductionFactor: 32,
  nonLinearity: 'gelu',
  sites: ['mlp'],
  phm: true,
});
