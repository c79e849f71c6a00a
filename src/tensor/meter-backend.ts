// A backend that computes nothing and only meters memory: every allocation and free is counted by
// category exactly as the GPU arena would count it (16-byte aligned buffers), so running one training
// step on it predicts the GPU's memory by category before anything is allocated on the device. Kernels'
// own short-lived workspace (a few reduction partials) is not seen here; it is small by construction.
// A frozen weight in a 16-bit or quantized dtype counts its packed values and its scales as two buffers,
// each aligned as the arena aligns them, exactly what the GPU backend allocates for it.

import { type ByCategory, type MemoryCategory, zeroByCategory } from '../gpu/arena';
import { weightBytes } from '../util/quant';
import type { Backend } from './backend';
import type { BaseDtype, WeightFormat, WeightLayout } from './weight-format';

/** Storage on the meter: a size and a category, no data. */
export interface MeterStore {
  readonly bytes: number;
  readonly category: MemoryCategory;
  readonly view: boolean;
}

export interface MeterStats {
  current: ByCategory;
  peak: ByCategory;
  peakTotal: number;
  atPeak: ByCategory;
}

export interface MeterBackend extends Backend<MeterStore, MeterStore> {
  stats(): MeterStats;
}

const aligned = (n: number) => Math.max(16, Math.ceil(n / 16) * 16);

export function meterBackend(): MeterBackend {
  const current = zeroByCategory();
  const peak = zeroByCategory();
  let atPeak = zeroByCategory();
  let total = 0;
  let peakTotal = 0;
  const alloc = (bytes: number, category: MemoryCategory): MeterStore => {
    const b = aligned(bytes);
    current[category] += b;
    total += b;
    if (current[category] > peak[category]) peak[category] = current[category];
    if (total > peakTotal) {
      peakTotal = total;
      atPeak = { ...current };
    }
    return { bytes: b, category, view: false };
  };
  const free = (s: MeterStore) => {
    if (s.view) return;
    current[s.category] -= s.bytes;
    total -= s.bytes;
  };
  const nothing = () => undefined;
  const memory = {
    kind: 'gpu' as const,
    viewAlign: 64,
    alloc: (n: number, category: MemoryCategory) => alloc(n * 4, category),
    free,
    upload: (data: ArrayLike<number>, category: MemoryCategory) => alloc(data.length * 4, category),
    uploadInt: (data: Int32Array) => alloc(data.length * 4, 'activations'),
    uploadWeight: (
      _data: ArrayLike<number>,
      shape: readonly number[],
      dtype: BaseDtype,
      layout: WeightLayout,
      category: MemoryCategory,
    ): { store: MeterStore; format: WeightFormat<MeterStore> | null } => {
      const b = weightBytes(shape, dtype, layout);
      const store = alloc(b.values, category);
      if (dtype === 'f32') return { store, format: null };
      return { store, format: { dtype, layout, scales: b.scales ? alloc(b.scales, category) : null } };
    },
    freeWeight: (store: MeterStore, format: WeightFormat<MeterStore> | null) => {
      free(store);
      if (format?.scales) free(format.scales);
    },
    readWeight: async (_s: MeterStore, _f: WeightFormat<MeterStore> | null, n: number) => new Float64Array(n),
    freeInt: free,
    read: async (_s: MeterStore, n: number) => new Float64Array(n),
    view: (s: MeterStore, _offset: number, n: number): MeterStore => ({
      bytes: n * 4,
      category: s.category,
      view: true,
    }),
    stats: (): MeterStats => ({
      current: { ...current },
      peak: { ...peak },
      peakTotal,
      atPeak: { ...atPeak },
    }),
  };
  // Every other primitive computes and allocates nothing through the backend: answer any of them, present
  // or added later, with a no-op, so the meter never falls behind the Backend interface.
  return new Proxy(memory, {
    get: (target, key) => (key in target ? target[key as keyof typeof target] : nothing),
  }) as unknown as MeterBackend;
}
