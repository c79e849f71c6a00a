// The UI slice: form state (methods chosen with their options, hyperparameters, the memory budget), the
// method list and each method's plan (count, predicted memory) as the worker computed them, the schedule
// notice, the generation panel's settings and streamed outputs, the charts' x axis and the table's sort,
// and the fair comparison's settings. The settings part is saved across reloads (persist.ts SETTINGS_KEYS).
import type { StateCreator } from 'zustand';
import type { MethodInfo, RawOptions } from '../peft/types';
import type { BaseDtype } from '../tensor/weight-format';
import { DEFAULT_GRID_DECADES } from '../train/compare/sweep';
import { type LrSchedule, SFT_DEFAULTS, SFT_EVAL_FRACTION } from '../train/sft-config';
import type { MethodPlan, SamplingSettings } from '../worker/protocol';

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
  /** Pack several training examples per row (SftRunConfig.pack); eval rows stay one per row. */
  pack: boolean;
  /** How the frozen base is held on the GPU (SftRunConfig.baseDtype): 16-bit or 4-bit to fit a larger model. */
  baseDtype: BaseDtype;
  /** Activation checkpointing per block (SftRunConfig.checkpointing): less memory, about a third more compute. */
  checkpointing: boolean;
}

/**
 * The form starts from the engine's SFT defaults (train/sft-config.ts, which the CLI uses too), except a
 * shorter run on shorter rows: the page opens on the built-in model, where 40 steps of 48 tokens finish in
 * about a minute on a software GPU.
 */
export const HYPER_DEFAULTS: Hyper = {
  lr: null,
  schedule: SFT_DEFAULTS.schedule,
  batch: SFT_DEFAULTS.batch,
  seqLen: 48,
  steps: 40,
  gradAccum: SFT_DEFAULTS.gradAccum,
  weightDecay: SFT_DEFAULTS.weightDecay,
  maxGradNorm: SFT_DEFAULTS.maxGradNorm,
  seed: SFT_DEFAULTS.seed,
  evalEvery: SFT_DEFAULTS.evalEvery,
  evalFraction: SFT_EVAL_FRACTION,
  pack: SFT_DEFAULTS.pack ?? false,
  baseDtype: SFT_DEFAULTS.baseDtype,
  checkpointing: SFT_DEFAULTS.checkpointing,
};

/**
 * The fair comparison's settings (ui/FairPanel.tsx): on, Start runs sweeps each chosen method's learning
 * rate over its default × 10^k (k from `grid`), keeps the rate with the lowest eval loss, then trains
 * `seeds` seeds at it; every run with the form's steps × batch × seq len (train/compare/).
 */
export interface FairSettings {
  enabled: boolean;
  sweep: boolean;
  /** Decades from each method's default, "0,1,2" (parseDecades). */
  grid: string;
  seeds: number;
}

export const FAIR_DEFAULTS: FairSettings = {
  enabled: false,
  sweep: true,
  grid: DEFAULT_GRID_DECADES.join(','),
  seeds: 3,
};

export interface MethodChoice {
  enabled: boolean;
  /** Only the options the user changed; the rest are the method's defaults. */
  options: RawOptions;
}

export const DEFAULT_BUDGET_BYTES = 2 * 2 ** 30;

export const SAMPLING_DEFAULTS: SamplingSettings = {
  temperature: 0,
  topK: 0,
  topP: 1,
  maxNewTokens: 16,
  seed: 0,
};

export interface GenOutput {
  text: string;
  done: boolean;
  error?: string;
}

export interface UiSlice {
  xAxis: XAxis;
  sort: { key: string; dir: 1 | -1 };
  hyper: Hyper;
  methods: Record<string, MethodChoice>;
  fair: FairSettings;
  /** The registry's methods as the worker listed them (plain data). */
  methodInfos: MethodInfo[];
  plans: Record<string, MethodPlan>;
  budgetBytes: number;
  schedule: { mode: 'interleaved' | 'sequential'; message: string } | null;
  sampling: SamplingSettings;
  genPrompt: string;
  /** Streamed outputs of the last generation, by target ('base' or a run id). */
  genOutputs: Record<string, GenOutput>;
  genReq: string | null;
  setMethodInfos: (m: MethodInfo[]) => void;
  setPlan: (p: MethodPlan) => void;
  setBudget: (b: number) => void;
  setSchedule: (s: UiSlice['schedule']) => void;
  setSampling: (s: Partial<SamplingSettings>) => void;
  setGenPrompt: (p: string) => void;
  startGen: (req: string, targets: string[]) => void;
  genToken: (req: string, target: string, text: string) => void;
  genDone: (req: string, target: string, error?: string) => void;
  setXAxis: (x: XAxis) => void;
  setSort: (key: string) => void;
  setHyper: (h: Partial<Hyper>) => void;
  setMethod: (name: string, c: Partial<MethodChoice>) => void;
  setFair: (f: Partial<FairSettings>) => void;
}

export const createUiSlice: StateCreator<UiSlice, [], [], UiSlice> = (set) => ({
  xAxis: 'step',
  sort: { key: 'evalLoss', dir: 1 },
  hyper: HYPER_DEFAULTS,
  methods: {
    lora: { enabled: true, options: {} },
    prompt: { enabled: true, options: {} },
  },
  fair: FAIR_DEFAULTS,
  methodInfos: [],
  plans: {},
  budgetBytes: DEFAULT_BUDGET_BYTES,
  schedule: null,
  sampling: SAMPLING_DEFAULTS,
  genPrompt: 'The plural of cat is',
  genOutputs: {},
  genReq: null,
  setMethodInfos: (methodInfos) => set({ methodInfos }),
  setPlan: (p) => set((s) => ({ plans: { ...s.plans, [p.method]: p } })),
  setBudget: (budgetBytes) => set({ budgetBytes }),
  setSchedule: (schedule) => set({ schedule }),
  setSampling: (x) => set((s) => ({ sampling: { ...s.sampling, ...x } })),
  setGenPrompt: (genPrompt) => set({ genPrompt }),
  startGen: (genReq, targets) =>
    set({ genReq, genOutputs: Object.fromEntries(targets.map((t) => [t, { text: '', done: false }])) }),
  genToken: (req, target, text) =>
    set((s) => {
      if (req !== s.genReq) return {};
      const o = s.genOutputs[target] ?? { text: '', done: false };
      return { genOutputs: { ...s.genOutputs, [target]: { ...o, text: o.text + text } } };
    }),
  genDone: (req, target, error) =>
    set((s) => {
      if (req !== s.genReq) return {};
      const o = s.genOutputs[target] ?? { text: '', done: false };
      return { genOutputs: { ...s.genOutputs, [target]: { ...o, done: true, error } } };
    }),
  setXAxis: (xAxis) => set({ xAxis }),
  setSort: (key) => set((s) => ({ sort: { key, dir: s.sort.key === key ? (-s.sort.dir as 1 | -1) : 1 } })),
  setHyper: (h) => set((s) => ({ hyper: { ...s.hyper, ...h } })),
  setFair: (f) => set((s) => ({ fair: { ...s.fair, ...f } })),
  setMethod: (name, c) =>
    set((s) => {
      const prev = s.methods[name] ?? { enabled: false, options: {} };
      return {
        methods: { ...s.methods, [name]: { ...prev, ...c, options: { ...prev.options, ...c.options } } },
      };
    }),
});
