// The RL slice: the algorithm chosen in the form (SFT or one of the RL algorithms), the RL options (their
// defaults and checks are train/rl/options.ts's) and the reward form (rl-spec.ts), and each RL run's latest
// rollouts (prompt, completion, reward) as the worker sends them after every step. Rollouts are not saved:
// they are the live view of a run, and the metric points (saved) carry the figures.
import type { StateCreator } from 'zustand';
import type { Sample } from '../train/rl/common';
import {
  type Algorithm,
  REWARD_FORM_DEFAULTS,
  type RewardForm,
  RL_FORM_DEFAULTS,
  type RlRunSpec,
} from '../worker/rl-spec';

export type RlForm = Omit<RlRunSpec, 'algo' | 'reward'>;

export interface RunRollouts {
  step: number;
  samples: Sample[];
}

export interface RlSlice {
  algorithm: Algorithm;
  rlForm: RlForm;
  rewardForm: RewardForm;
  rollouts: Record<string, RunRollouts>;
  setAlgorithm: (a: Algorithm) => void;
  setRlForm: (patch: Partial<RlForm>) => void;
  setRewardForm: (patch: Partial<RewardForm>) => void;
  setRollouts: (runId: string, step: number, samples: Sample[]) => void;
}

export const createRlSlice: StateCreator<RlSlice, [], [], RlSlice> = (set) => ({
  algorithm: 'sft',
  rlForm: RL_FORM_DEFAULTS,
  rewardForm: REWARD_FORM_DEFAULTS,
  rollouts: {},
  setAlgorithm: (algorithm) => set({ algorithm }),
  setRlForm: (patch) => set((s) => ({ rlForm: { ...s.rlForm, ...patch } })),
  setRewardForm: (patch) => set((s) => ({ rewardForm: { ...s.rewardForm, ...patch } })),
  setRollouts: (runId, step, samples) =>
    set((s) => ({ rollouts: { ...s.rollouts, [runId]: { step, samples } } })),
});
