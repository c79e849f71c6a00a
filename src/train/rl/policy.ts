// The model every RL algorithm trains: the base checkpoint + a PEFT method (any registered one) + an optional
// scalar head (PPO's value head, a reward model's score head), in one ParamSet. The reference model is the
// same weights with the adapter disabled (PEFT's disable_adapter), so there is one copy of the base weights.
// Owns batching of prompt+completion sequences (right-padded: the training path's causal attention needs
// no mask for trailing padding) and the scoring pass: per-token log-probs of the completion tokens, entropy,
// and the head's per-token values, on any backend (GPU, or the CPU twin for tests).

import type { ModelConfig } from '../../formats/model-config';
import { type GenerateOptions, generate } from '../../model/generate';
import { forward } from '../../model/transformer';
import {
  Adapter,
  checkTrainableDtypes,
  checkValuesRead,
  paramSetOnBase,
  planAdapter,
  planAdapterOnBase,
} from '../../peft/adapter';
import { getMethod } from '../../peft/registry';
import type { RawOptions } from '../../peft/types';
import type { Backend } from '../../tensor/backend';
import type { FrozenBase } from '../../tensor/frozen-base';
import * as op from '../../tensor/ops';
import { segmentSum, tokenLogprobs } from '../../tensor/ops-rl';
import { ParamSet, type ParamSpec } from '../../tensor/params';
import { Tape, type Tensor } from '../../tensor/tape';
import { rng } from '../../util/rng';
import { ADAMW_DEFAULTS, AdamW } from '../optimizer';

export interface Seq {
  prompt: readonly number[];
  completion: readonly number[];
}

/** A right-padded batch of sequences and, per logits row, the completion token it predicts. */
export interface SeqBatch {
  B: number;
  T: number;
  ids: Int32Array;
  /** Per row of the [B·T', V] logits (T' = T + virtual tokens): the target, or -1. */
  targets: Int32Array;
  /** 1 where the row predicts a completion token. */
  mask: Float64Array;
  /** Per sequence: the row of its first completion prediction and the completion length. */
  first: number[];
  lens: number[];
  /** Rows per sequence (T'). */
  rowsPer: number;
  /** Per sequence: the row of its last real token (a reward model's score row). */
  lastRow: number[];
}

export function batchSeqs(seqs: readonly Seq[], padId: number, virtual = 0): SeqBatch {
  const B = seqs.length;
  const T = Math.max(...seqs.map((s) => s.prompt.length + s.completion.length));
  const Tt = T + virtual;
  const ids = new Int32Array(B * T).fill(padId);
  const targets = new Int32Array(B * Tt).fill(-1);
  const mask = new Float64Array(B * Tt);
  const first: number[] = [];
  const lens: number[] = [];
  const lastRow: number[] = [];
  for (const [b, s] of seqs.entries()) {
    if (s.prompt.length === 0) throw new Error(`sequence ${b}: empty prompt`);
    ids.set(s.prompt, b * T);
    ids.set(s.completion, b * T + s.prompt.length);
    // Completion token i sits at position Lp + i and is predicted by the row before it.
    const r0 = b * Tt + virtual + s.prompt.length - 1;
    for (let i = 0; i < s.completion.length; i++) {
      targets[r0 + i] = s.completion[i];
      mask[r0 + i] = 1;
    }
    first.push(r0);
    lens.push(s.completion.length);
    lastRow.push(b * Tt + virtual + s.prompt.length + s.completion.length - 1);
  }
  return { B, T, ids, targets, mask, first, lens, rowsPer: Tt, lastRow };
}

/**
 * The batch as the reference sees it. The reference is the adapter disabled, and a disabled prompt tuning
 * prepends no virtual tokens, so its logits have T rows per sequence, not T + virtual: the targets, the
 * mask and the row indices shift back by the virtual count. Without virtual tokens, the batch itself.
 */
export function withoutVirtual(batch: SeqBatch): SeqBatch {
  const virtual = batch.rowsPer - batch.T;
  if (virtual === 0) return batch;
  const { B, T } = batch;
  const targets = new Int32Array(B * T).fill(-1);
  const mask = new Float64Array(B * T);
  for (let b = 0; b < B; b++)
    for (let t = 0; t < T; t++) {
      targets[b * T + t] = batch.targets[b * batch.rowsPer + virtual + t];
      mask[b * T + t] = batch.mask[b * batch.rowsPer + virtual + t];
    }
  // Row b·T' + virtual + t becomes b·T + t.
  const row = (r: number) => r - (Math.floor(r / batch.rowsPer) + 1) * virtual;
  return {
    ...batch,
    targets,
    mask,
    first: batch.first.map(row),
    lastRow: batch.lastRow.map(row),
    rowsPer: T,
  };
}

export type HeadKind = 'value' | 'score' | null;

export interface RlModelOptions {
  method: string;
  options: RawOptions;
  seed: number;
  lr: number;
  head: HeadKind;
  weightDecay?: number;
  maxGradNorm?: number;
}

/** The head's tensors: PPO's value head (TRL's ValueHead: Linear(d, 1) with bias) or a score head (no bias). */
function headSpecs(config: ModelConfig, head: HeadKind, seed: number): ParamSpec[] {
  if (!head) return [];
  const d = config.hiddenSize;
  const r = rng(seed ^ 0x5eed);
  // Small uniform init (nn.Linear's bound 1/√d, scaled down so the first values are near 0).
  const w = Float32Array.from({ length: d }, () => ((r() * 2 - 1) * 0.1) / Math.sqrt(d));
  if (head === 'value')
    return [
      { name: 'v_head.summary.weight', shape: [1, d], trainable: true, data: w },
      { name: 'v_head.summary.bias', shape: [1], trainable: true, data: new Float32Array(1) },
    ];
  return [{ name: 'score.weight', shape: [1, d], trainable: true, data: w }];
}

export interface Scored<S> {
  logp: Tensor<S>;
  entropy: S;
  /** Per-row head output [B·T'] (null without a head). */
  values: Tensor<S> | null;
}

export class RlModel<S, I> {
  private constructor(
    readonly be: Backend<S, I>,
    readonly config: ModelConfig,
    readonly ps: ParamSet<S, I>,
    readonly adapter: Adapter<S, I, unknown>,
    readonly opt: AdamW<S, I>,
    readonly head: HeadKind,
  ) {}

  static create<S, I>(
    be: Backend<S, I>,
    config: ModelConfig,
    baseSpecs: readonly ParamSpec[],
    o: RlModelOptions,
  ): RlModel<S, I> {
    const method = getMethod(o.method);
    const plan = planAdapter(method, o.options, config, baseSpecs, o.seed);
    checkValuesRead(plan);
    const ps = new ParamSet(be, [...plan.specs, ...headSpecs(config, o.head, o.seed)]);
    const adapter = new Adapter(method, plan, config, ps);
    return new RlModel(be, config, ps, adapter, RlModel.optimizer(ps, o), o.head);
  }

  /**
   * The model on a shared frozen base (the worker's, the CLI's): its frozen tensors borrowed from `base`,
   * only the base values the method reads fetched (planAdapterOnBase), the trainable ones its own.
   */
  static async createOnBase<S, I>(
    be: Backend<S, I>,
    config: ModelConfig,
    base: FrozenBase<S, I>,
    baseSpecs: readonly ParamSpec[],
    o: RlModelOptions,
  ): Promise<RlModel<S, I>> {
    const method = getMethod(o.method);
    const read = (name: string) => base.values(name);
    const options = method.parse(o.options, config);
    const plan = await planAdapterOnBase(method, options, config, baseSpecs, read, o.seed);
    checkTrainableDtypes(plan, method.info.label);
    const ps = await paramSetOnBase(be, plan, base, headSpecs(config, o.head, o.seed));
    try {
      const adapter = new Adapter(method, plan, config, ps, read);
      return new RlModel(be, config, ps, adapter, RlModel.optimizer(ps, o), o.head);
    } catch (e) {
      ps.dispose();
      throw e;
    }
  }

  private static optimizer<S, I>(ps: ParamSet<S, I>, o: RlModelOptions): AdamW<S, I> {
    // TRL's RL trainers take the Trainer's AdamW (β 0.9/0.999, ε 1e-8) with weight decay 0 unless set.
    return new AdamW(ps, {
      ...ADAMW_DEFAULTS,
      lr: o.lr,
      weightDecay: o.weightDecay ?? 0,
      maxGradNorm: o.maxGradNorm ?? ADAMW_DEFAULTS.maxGradNorm,
    });
  }

  /** Virtual tokens the method prepends (prompt tuning), which shift every row. */
  virtual(): number {
    const probe = new Tape(this.be, false);
    const n = this.adapter.hooks.virtualTokens?.(probe)?.shape[0] ?? 0;
    probe.dispose();
    return n;
  }

  /** Samples completions with the KV cache, through the adapter's hooks (or the base when disabled). */
  generate(prompts: readonly (readonly number[])[], opts: Omit<GenerateOptions<S, I>, 'hooks'>) {
    return generate(this.be, this.config, this.ps, prompts, { ...opts, hooks: this.adapter.hooks });
  }

  /**
   * The scoring forward on `tp`: log-probs of each row's target (logits divided by `temperature`, as TRL
   * does for the policy), entropies and head values.
   */
  score(tp: Tape<S, I>, batch: SeqBatch, temperature = 1): Scored<S> {
    const { logits, hidden } = forward(
      tp,
      this.config,
      this.ps,
      { ids: batch.ids, B: batch.B, T: batch.T },
      this.adapter.hooks,
    );
    const V = this.config.vocabSize;
    let flat = tp.reshape(logits, [batch.B * batch.rowsPer, V]);
    // Greedy rollouts (temperature 0) are scored at temperature 1.
    if (temperature > 0 && temperature !== 1)
      flat = op.scale(tp, flat, 1 / (temperature + 1e-7), 'logits/temperature');
    const { logp, entropy } = tokenLogprobs(tp, flat, batch.targets, 'logp');
    let values: Tensor<S> | null = null;
    if (this.head === 'value') {
      values = op.linear(
        tp,
        hidden,
        this.ps.get('v_head.summary.weight'),
        this.ps.get('v_head.summary.bias'),
        'out_in',
        'v_head',
      );
    } else if (this.head === 'score') {
      values = op.linear(tp, hidden, this.ps.get('score.weight'), null, 'out_in', 'score');
    }
    return { logp, entropy, values: values && tp.reshape(values, [values.size]) };
  }

  /** Per-sequence sums of the completion tokens' log-probs: [B]. */
  sequenceLogp(tp: Tape<S, I>, batch: SeqBatch, logp: Tensor<S>): Tensor<S> {
    return segmentSum(tp, logp, batch.mask, batch.B, batch.rowsPer, 'seq_logp');
  }

  /** Per-sequence head value at its last real token (a reward model's score): [B]. */
  lastValues(tp: Tape<S, I>, batch: SeqBatch, values: Tensor<S>): Tensor<S> {
    const w = new Float64Array(batch.B * batch.rowsPer);
    for (const r of batch.lastRow) w[r] = 1;
    return segmentSum(tp, values, w, batch.B, batch.rowsPer, 'last_value');
  }

  /** No-grad pass: per sequence, the completion tokens' log-probs, entropies and values (read back). */
  async evaluate(
    policyBatch: SeqBatch,
    opts: { temperature?: number; reference?: boolean } = {},
  ): Promise<{ logp: Float64Array[]; entropy: Float64Array[]; values: Float64Array[] | null }> {
    const ref = opts.reference === true;
    const batch = ref ? withoutVirtual(policyBatch) : policyBatch;
    if (ref) await this.adapter.setEnabled(false);
    try {
      const tp = new Tape(this.be, false);
      try {
        const s = this.score(tp, batch, opts.temperature ?? 1);
        const n = batch.B * batch.rowsPer;
        const [lp, ent, val] = await Promise.all([
          this.be.read(s.logp.store, n),
          this.be.read(s.entropy, n),
          s.values ? this.be.read(s.values.store, n) : Promise.resolve(null),
        ]);
        const cut = (a: Float64Array, b: number) => a.slice(batch.first[b], batch.first[b] + batch.lens[b]);
        return {
          logp: batch.lens.map((_, b) => cut(lp, b)),
          entropy: batch.lens.map((_, b) => cut(ent, b)),
          values: val ? batch.lens.map((_, b) => cut(val, b)) : null,
        };
      } finally {
        tp.dispose();
      }
    } finally {
      if (ref) await this.adapter.setEnabled(true);
    }
  }

  dispose(): void {
    this.opt.dispose();
    this.adapter.dispose();
    this.ps.dispose();
  }
}
