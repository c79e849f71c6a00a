// Pfeiffer adapters (the adapters library's seq_bn): one bottleneck adapter after the MLP (sites=attn
// places it after attention, as the seed's text does), ReLU, reduction factor 16. See bottleneck.ts.
import { bottleneckMethod } from './bottleneck';

export const pfeiffer = bottleneckMethod({
  name: 'pfeiffer',
  label: 'Pfeiffer adapters',
  architecture: 'seq_bn',
  reductionFactor: 16,
  nonLinearity: 'relu',
  sites: ['mlp'],
  phm: false,
});
