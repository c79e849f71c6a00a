// DPO with TRL's DPOTrainer semantics (sigmoid loss): for each pair, the policy's and the reference's
// log-probabilities summed over the completion tokens of chosen and rejected; loss −log σ(β·(Δchosen −
// Δrejected)). The reference is the same model with the adapter disabled, evaluated on a tape without
// gradients whose sums stay on the device for the loss kernel (no read inside a step). Metrics follow TRL:
// rewards/chosen, rewards/rejected, accuracy, margin.

import type { TokenizedPair } from '../../data/tokenize';
import { pairLoss } from '../../tensor/ops-rl';
import { Tape } from '../../tensor/tape';
import type { RlMetrics, RlRunner } from './common';
import { batchSeqs, type RlModel, type Seq, withoutVirtual } from './policy';

export interface DpoConfig {
  steps: number;
  /** Pairs per step. */
  batch: number;
  beta: number;
  lr: number;
  logEvery: number;
}

export const DPO_DEFAULTS: Omit<DpoConfig, 'steps' | 'lr'> = { batch: 2, beta: 0.1, logEvery: 1 };

/** Chosen and rejected of each pair, interleaved [c0, r0, c1, r1, …] (the pair loss's layout). */
export function pairSeqs(pairs: readonly TokenizedPair[]): Seq[] {
  const out: Seq[] = [];
  for (const p of pairs) {
    const n = p.promptIds.length;
    out.push({ prompt: p.promptIds, completion: p.chosen.inputIds.slice(n) });
    out.push({ prompt: p.promptIds, completion: p.rejected.inputIds.slice(n) });
  }
  return out;
}

/** The DPO loss of a batch on `tp` against reference sums `ref` (device storage [2P]); returns the stats. */
export function dpoLoss<S, I>(
  m: RlModel<S, I>,
  tp: Tape<S, I>,
  seqs: readonly Seq[],
  padId: number,
  ref: S,
  beta: number,
): S {
  const batch = batchSeqs(seqs, padId, m.virtual());
  const s = m.score(tp, batch);
  return pairLoss(tp, m.sequenceLogp(tp, batch, s.logp), ref, beta, 'dpo');
}

export class DpoRunner<S, I> implements RlRunner {
  readonly algo = 'dpo';
  stepsDone = 0;

  constructor(
    readonly model: RlModel<S, I>,
    readonly pairs: readonly TokenizedPair[],
    readonly padId: number,
    readonly c: DpoConfig,
  ) {
    if (pairs.length === 0) throw new Error('DPO: no preference pairs');
  }

  get steps(): number {
    return this.c.steps;
  }

  get done(): boolean {
    return this.stepsDone >= this.c.steps;
  }

  async step(): Promise<RlMetrics> {
    const m = this.model;
    const k = this.stepsDone;
    const pairs = Array.from(
      { length: this.c.batch },
      (_, i) => this.pairs[(k * this.c.batch + i) % this.pairs.length],
    );
    const seqs = pairSeqs(pairs);
    const batch = batchSeqs(seqs, this.padId, m.virtual());
    // The reference's sums, kept on the device until the loss has used them.
    await m.adapter.setEnabled(false);
    const refTape = new Tape(m.be, false);
    let refSums: S;
    try {
      const refBatch = withoutVirtual(batch);
      refSums = m.sequenceLogp(refTape, refBatch, m.score(refTape, refBatch).logp).store;
    } finally {
      await m.adapter.setEnabled(true);
    }
    const tp = new Tape(m.be, true);
    m.ps.zeroGrads();
    const stats = dpoLoss(m, tp, seqs, this.padId, refSums, this.c.beta);
    tp.backward();
    m.opt.update(this.c.lr);
    const read = m.be.read(stats, 5);
    tp.dispose();
    refTape.dispose();
    const s = await read;
    this.stepsDone++;
    return {
      step: k + 1,
      loss: s[0],
      accuracy: s[1],
      reward_mean: (s[2] + s[3]) / 2,
      // The implicit KL proxy TRL logs as rewards: β·(log π − log π_ref) of chosen and rejected.
      kl: (s[2] + s[3]) / (2 * this.c.beta),
    };
  }

  dispose(): void {
    this.model.dispose();
  }
}
