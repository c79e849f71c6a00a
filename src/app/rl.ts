// The RL part of "Start runs": from the form's algorithm, RL options and reward (store/rl.ts) and the
// selected dataset's shape, the RlRunSpec each new run carries — or the sentence saying why it cannot start
// (a shape the algorithm cannot read, a bad reward field, options the runner would refuse, checked by
// train/rl/options.ts as the CLI's flags are). Pure, so it is tested without a page; engine.ts calls it.
import type { ShapeKind } from '../data/types';
import type { RlForm } from '../store/rl';
import type { RunRecord } from '../store/runs';
import { checkRlOptions } from '../train/rl/options';
import {
  type Algorithm,
  checkShape,
  ONLINE,
  type RewardChoice,
  type RewardForm,
  type RlRunSpec,
  rewardFromForm,
} from '../worker/rl-spec';

export interface RlFormState {
  algorithm: Algorithm;
  rlForm: RlForm;
  rewardForm: RewardForm;
  runs: readonly RunRecord[];
}

/** Finished reward-model runs of this session, for the "model" reward's select. */
export const rewardModelRuns = (runs: readonly RunRecord[]) =>
  runs.filter((r) => r.spec.rl?.algo === 'reward' && r.state === 'done');

/** undefined: an SFT run; else the RL spec, or why not. */
export function rlPart(
  s: RlFormState,
  shape: ShapeKind,
  batch: number,
): { rl: RlRunSpec | undefined } | { error: string } {
  const algo = s.algorithm;
  let reward: RewardChoice | undefined;
  if (ONLINE.has(algo)) {
    const r = rewardFromForm(s.rewardForm);
    if ('error' in r) return r;
    reward = r.reward;
    if (
      reward.kind === 'model' &&
      !rewardModelRuns(s.runs).some((x) => x.spec.id === s.rewardForm.modelRunId)
    )
      return { error: 'the model reward needs a finished reward-model run of this session' };
  }
  const shapeProblem = checkShape(algo, shape, reward);
  if (shapeProblem) return { error: shapeProblem };
  if (algo === 'sft') return { rl: undefined };
  const f = s.rlForm;
  const problem = checkRlOptions(algo, f, batch);
  if (problem) return { error: problem };
  return { rl: { ...f, algo, ...(reward ? { reward } : {}) } };
}
