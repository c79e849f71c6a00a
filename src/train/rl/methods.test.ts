// "With any PEFT method" (sparse's N:M variant too): one GRPO step (sampled rollouts with the KV cache, policy and reference passes,
// an update) and one DPO step for every registered method on a tiny Llama, on the CPU float64 twin. Each
// must give finite figures, change only the method's own tensors, and leave the reference untouched: the
// reference log-probs (adapter disabled) after the update equal those before it, and equal the plain base
// model's. Full fine-tuning has no adapter to disable, so its reference is the model itself; it is checked
// to train and to say so.
import { describe, expect, it } from 'vitest';
import type { TokenizedPair } from '../../data/tokenize';
import { randomModelParams } from '../../model/init';
import { TINY_LLAMA } from '../../model/testing';
import { listMethods } from '../../peft/registry';
import { cpuBackend } from '../../tensor/cpu-backend';
import type { RewardFn } from '../rewards/builtin';
import { DPO_DEFAULTS, DpoRunner } from './dpo';
import { GRPO_DEFAULTS, GrpoRunner } from './grpo';
import { batchSeqs, RlModel, type Seq } from './policy';

/** A model on the CPU float64 twin. */
type Twin = RlModel<Float64Array, Int32Array>;

const C = TINY_LLAMA;
const base = randomModelParams(C, 5, () => false, 0.3);
const PROMPTS = {
  ids: [
    [1, 5, 9],
    [4, 2],
  ],
  texts: ['a', 'b'],
};
/** Completions that decode to more characters score higher: samples get different rewards. */
const lengthReward: RewardFn = async (items) => items.map((x) => x.completion.length);
const PROBE: Seq[] = [
  { prompt: [1, 5, 9], completion: [3, 7, 2] },
  { prompt: [4, 2], completion: [8, 8] },
];

/** Method options that make every method's first step move something (identity inits are fine too). */
const OPTIONS: Record<string, Record<string, number | string | boolean | string[]>> = {
  prompt: { num_virtual_tokens: 2 },
  prefix: { num_virtual_tokens: 2 },
  compacter: { phm_dim: 2, reduction_factor: 4 },
  sparse: { density: 0.1 },
  rows: { density: 0.25 },
  top_layers: { num_layers: 1 },
};

async function logps(m: Twin, reference: boolean): Promise<number[]> {
  const b = batchSeqs(PROBE, 0, m.virtual());
  const e = await m.evaluate(b, { reference });
  return e.logp.flatMap((l) => Array.from(l));
}

async function snapshot(m: Twin): Promise<Map<string, number[]>> {
  const out = new Map<string, number[]>();
  for (const name of m.ps.tensors.keys()) out.set(name, Array.from(await m.ps.read(name)));
  return out;
}

describe('every method runs GRPO and DPO with the reference untouched', () => {
  const be = cpuBackend();
  const plain = RlModel.create(be, C, base, { method: 'lora', options: {}, seed: 1, lr: 0, head: null });
  const baseLogps = logps(plain, true);

  // Every registered method, and sparse's N:M variant (its own update path) beside it.
  const cases = [
    ...listMethods().map((m) => ({ label: m.info.name, info: m.info, options: OPTIONS[m.info.name] ?? {} })),
    ...listMethods()
      .filter((m) => m.info.name === 'sparse')
      .map((m) => ({ label: 'sparse mask=nm', info: m.info, options: { mask: 'nm', nm: '2:4' } })),
  ];
  for (const { label, info, options } of cases) {
    it(label, async () => {
      const make = () =>
        RlModel.create(be, C, base, {
          method: info.name,
          options,
          seed: 1,
          lr: 2e-2,
          head: null,
        });
      const env = (m: Twin) => ({
        model: m,
        decode: (ids: readonly number[]) => ids.join(' '),
        eosIds: [],
        padId: 0,
        reward: lengthReward,
      });
      const m = make();
      const before = await snapshot(m);
      const refBefore = await logps(m, true);
      const grpo = new GrpoRunner(env(m), PROMPTS, {
        ...GRPO_DEFAULTS,
        steps: 1,
        lr: 2e-2,
        batch: 2,
        generations: 2,
        maxNewTokens: 3,
      });
      const g = await grpo.step();
      for (const [k, v] of Object.entries({ loss: g.loss, kl: g.kl, reward: g.reward_mean }))
        expect(Number.isFinite(v), `${k} = ${v}`).toBe(true);
      const after = await snapshot(m);
      const changed = [...after.keys()].filter((n) => after.get(n)?.some((x, i) => x !== before.get(n)?.[i]));
      const trainable = new Set(m.ps.trainable().map((t) => t.name));
      expect(changed.length, 'something trained').toBeGreaterThan(0);
      if (info.name === 'full') {
        expect(changed.every((n) => trainable.has(n))).toBe(true);
      } else {
        // Only the method's tensors moved (selective methods train some base tensors: those are trainable).
        expect(changed.filter((n) => !trainable.has(n))).toEqual([]);
        // The reference is the adapter disabled: the base model, before and after the update.
        const refAfter = await logps(m, true);
        expect(refAfter).toEqual(refBefore);
        const want = await baseLogps;
        for (let i = 0; i < want.length; i++) expect(refAfter[i]).toBeCloseTo(want[i], 12);
      }
      m.dispose();

      // DPO: one step on two preference pairs.
      const d = make();
      const pair = (prompt: number[], chosen: number[], rejected: number[]): TokenizedPair => ({
        promptIds: prompt,
        chosen: { inputIds: [...prompt, ...chosen], labels: [...prompt.map(() => -100), ...chosen] },
        rejected: { inputIds: [...prompt, ...rejected], labels: [...prompt.map(() => -100), ...rejected] },
        source: { file: 'test', row: 0 },
      });
      const dpo = new DpoRunner(d, [pair([1, 5], [3, 7], [2]), pair([4], [8, 8, 1], [9, 9])], 0, {
        ...DPO_DEFAULTS,
        steps: 1,
        lr: 2e-2,
        batch: 2,
      });
      const s = await dpo.step();
      expect(Number.isFinite(s.loss), `DPO loss ${s.loss}`).toBe(true);
      d.dispose();
    });
  }
});
