// The page's plan before a download: the choices the plan panel holds (batch, sequence length, activation
// checkpointing, the base's dtype) and the plan itself, computed from a config.json (a dropped folder's or a
// Hub model's) with train/plan.ts — the function the CLI's `plan` prints — so the page and
// `npm run cli -- plan` give the same numbers for the same inputs. The methods and the memory budget are the
// form's (the UI slice's), so the plan is of the runs the user is about to start.
import { create } from 'zustand';
import { parseModelConfig } from '../formats/model-config';
import type { RawOptions } from '../peft/types';
import type { BaseDtype } from '../tensor/weight-format';
import {
  PLAN_DEFAULTS,
  type PlanChoice,
  type PlanRun,
  planJson,
  planTraining,
  suggestFits,
  suggestFitsSteps,
} from '../train/plan';

export interface PlanPanelChoice {
  batch: number;
  seqLen: number;
  checkpointing: boolean;
  baseDtype: BaseDtype;
}

/** A real model's plan starts at a laptop-sized fine-tune: 4 rows of 512 tokens, an f32 base. */
export const PLAN_PANEL_DEFAULTS: PlanPanelChoice = {
  batch: 4,
  seqLen: 512,
  checkpointing: PLAN_DEFAULTS.checkpointing,
  baseDtype: PLAN_DEFAULTS.baseDtype,
};

interface PlanPanelStore {
  choice: PlanPanelChoice;
  setChoice: (c: Partial<PlanPanelChoice>) => void;
}

export const usePlanPanel = create<PlanPanelStore>()((set) => ({
  choice: PLAN_PANEL_DEFAULTS,
  setChoice: (c) => set((s) => ({ choice: { ...s.choice, ...c } })),
}));

/** The runs the form holds: each enabled method with its options (LoRA's defaults when none is enabled). */
export function formRuns(methods: Record<string, { enabled: boolean; options: RawOptions }>): PlanRun[] {
  const runs = Object.entries(methods)
    .filter(([, m]) => m.enabled)
    .map(([method, m]) => ({ method, options: m.options }));
  return runs.length > 0 ? runs : [{ method: 'lora', options: {} }];
}

export type PlanLine = ReturnType<typeof planJson>;

/** The plan of a config.json (text or parsed) for these runs: the CLI's JSON line, or why there is none. */
export function pagePlan(
  configJson: unknown,
  runs: readonly PlanRun[],
  choice: PlanPanelChoice,
  budget: number | null,
  /** The adapter's per-buffer limit, once the page has one (PlanChoice.maxBufferBytes). */
  maxBufferBytes?: number,
): { line: PlanLine } | { error: string } {
  try {
    const config = parseModelConfig(configJson);
    const full: PlanChoice = { ...PLAN_DEFAULTS, ...choice, maxBufferBytes };
    const plan = planTraining(config, runs, full);
    const suggestions = budget === null ? null : suggestFits(config, runs, plan, budget);
    return { line: planJson(plan, suggestions, budget) };
  } catch (e) {
    return { error: e instanceof Error ? e.message : String(e) };
  }
}

export type PagePlanResult = { line: PlanLine; pending?: boolean } | { error: string };

/**
 * pagePlan a little at a time, for the page's main thread: `onResult` gets the plan first (flagged pending
 * while suggestions are still being looked for, when over budget), then the finished line, the same as
 * pagePlan's; between two meter steps the thread is handed back (`yieldNow`). Returns a cancel function.
 */
export function pagePlanInSteps(
  configJson: unknown,
  runs: readonly PlanRun[],
  choice: PlanPanelChoice,
  budget: number | null,
  onResult: (r: PagePlanResult) => void,
  yieldNow: (next: () => void) => void = (next) => setTimeout(next, 0),
  maxBufferBytes?: number,
): () => void {
  let cancelled = false;
  const fail = (e: unknown) => onResult({ error: e instanceof Error ? e.message : String(e) });
  try {
    const config = parseModelConfig(configJson);
    const plan = planTraining(config, runs, { ...PLAN_DEFAULTS, ...choice, maxBufferBytes });
    if (budget === null || plan.predictedPeakBytes <= budget) {
      onResult({ line: planJson(plan, budget === null ? null : [], budget) });
      return () => undefined;
    }
    onResult({ line: planJson(plan, null, budget), pending: true });
    const steps = suggestFitsSteps(config, runs, plan, budget);
    const next = () => {
      if (cancelled) return;
      try {
        const r = steps.next();
        if (r.done) onResult({ line: planJson(plan, r.value, budget) });
        else yieldNow(next);
      } catch (e) {
        fail(e);
      }
    };
    yieldNow(next);
  } catch (e) {
    fail(e);
  }
  return () => {
    cancelled = true;
  };
}
