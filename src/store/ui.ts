// The UI slice: form state (methods chosen with their options, hyperparameters), the charts' x axis and
// the comparison table's sort. Nothing here is sent anywhere until "start".
import type { StateCreator } from 'zustand';
import type { MethodOptions } from '../train/local-methods';
import type { LrSchedule } from '../train/sft-config';

export type XAxis = 'step' | 'tokens' | 'time';

export interface Hyper {
  /** null: each method's own default learning rate. */
  lr: number | null;
  schedule: LrSchedule;
  batch: number;
  seqLen: number;
  steps: number;
  gradAccum: number;
  weightDecay: number;
  maxGradNorm: number;
  seed: number;
  evalEvery: number;
  evalFraction: number;
}

export const HYPER_DEFAULTS: Hyper = {
  lr: null,
  schedule: 'cosine',
  batch: 4,
  seqLen: 48,
  steps: 40,
  gradAccum: 1,
  weightDecay: 0,
  maxGradNorm: 1,
  seed: 0,
  evalEvery: 10,
  evalFraction: 0.1,
};

export interface MethodChoice {
  enabled: boolean;
  options: MethodOptions;
}

export interface UiSlice {
  xAxis: XAxis;
  sort: { key: string; dir: 1 | -1 };
  hyper: Hyper;
  methods: Record<string, MethodChoice>;
  setXAxis: (x: XAxis) => void;
  setSort: (key: string) => void;
  setHyper: (h: Partial<Hyper>) => void;
  setMethod: (name: string, c: Partial<MethodChoice>) => void;
}

export const createUiSlice: StateCreator<UiSlice, [], [], UiSlice> = (set) => ({
  xAxis: 'step',
  sort: { key: 'evalLoss', dir: 1 },
  hyper: HYPER_DEFAULTS,
  methods: {
    full: { enabled: true, options: {} },
    top_layers: { enabled: true, options: { num_layers: 1 } },
  },
  setXAxis: (xAxis) => set({ xAxis }),
  setSort: (key) => set((s) => ({ sort: { key, dir: s.sort.key === key ? (-s.sort.dir as 1 | -1) : 1 } })),
  setHyper: (h) => set((s) => ({ hyper: { ...s.hyper, ...h } })),
  setMethod: (name, c) =>
    set((s) => {
      const prev = s.methods[name] ?? { enabled: false, options: {} };
      return {
        methods: { ...s.methods, [name]: { ...prev, ...c, options: { ...prev.options, ...c.options } } },
      };
    }),
});
