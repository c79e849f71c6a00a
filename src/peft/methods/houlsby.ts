// Houlsby adapters (the adapters library's double_seq_bn): a bottleneck adapter after attention and after
// the MLP, swish, reduction factor 16. The maths, keys and config live in bottleneck.ts.
import { bottleneckMethod } from './bottleneck';

export const houlsby = bottleneckMethod({
  name: 'houlsby',
  label: 'Houlsby adapters',
  architecture: 'double_seq_bn',
  reductionFactor: 16,
  nonLinearity: 'swish',
  sites: ['attn', 'mlp'],
  phm: false,
});
