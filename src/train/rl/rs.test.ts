// Rejection sampling's data path on the CPU float64 twin (a tiny Qwen2 with LoRA, B ≠ 0): the tokens a
// rollout samples (left-padded prompts of different lengths, KV cache) are the tokens the SFT step trains on,
// with the same log-probs — generation's sampling distribution equals the right-padded scoring pass row for
// row (no off-by-one between prompt and completion, no padding leak), and the SFT loss is the mean negative
// log-prob of exactly the completion tokens. And a round keeps only what passes the threshold: with a reward
// that ties every sample at 0, threshold 0.1 keeps nothing and leaves the weights alone, while no threshold
// keeps one sample per prompt (the tie-break) and trains on it — the noise that drifts the policy on the
// built-in model (docs/rl-demo.md). A few seconds.
import { describe, expect, it } from 'vitest';
import { randomModelParams } from '../../model/init';
import { TINY_LLAMA } from '../../model/testing';
import { cpuBackend } from '../../tensor/cpu-backend';
import { Tape } from '../../tensor/tape';
import { regexReward } from '../rewards/builtin';
import type { RlEnv } from './common';
import { batchSeqs, RlModel } from './policy';
import { RS_DEFAULTS, RsRunner } from './rs';

const C = TINY_LLAMA;
const base = randomModelParams(C, 11, () => false, 0.3);
const LORA = {
  r: 2,
  lora_alpha: 4,
  target_modules: ['q_proj', 'v_proj', 'down_proj'],
  init_lora_weights: false,
};
// Prompt lengths 1, 3 and 5: generation left-pads them to 5, scoring right-pads the sequences.
const PROMPTS = [[7], [3, 9, 14], [20, 1, 5, 8, 2]];
const V = C.vocabSize;

function env(reward = regexReward(/(?!)/)): RlEnv<Float64Array, Int32Array> {
  const model = RlModel.create(cpuBackend(), C, base, {
    method: 'lora',
    options: LORA,
    seed: 2,
    lr: 1e-2,
    head: null,
  });
  return { model, decode: (ids) => ids.map((i) => ` w${i}`).join(''), eosIds: [], padId: 40, reward };
}

const logSoftmaxAt = (row: Float64Array, t: number, temp: number) => {
  let mx = Number.NEGATIVE_INFINITY;
  for (const x of row) mx = Math.max(mx, x / temp);
  let z = 0;
  for (const x of row) z += Math.exp(x / temp - mx);
  return row[t] / temp - mx - Math.log(z);
};

describe('rejection sampling: sampled tokens = trained tokens', () => {
  it('generation log-probs = scoring log-probs; SFT loss = −mean completion log-prob', async () => {
    const e = env();
    const m = e.model;
    for (const temp of [1, 0.7]) {
      const logits: Float64Array[] = [];
      const gen = await m.generate(PROMPTS, {
        maxNewTokens: 6,
        temperature: temp,
        seed: 4,
        padId: e.padId,
        onLogits: (_s, l) => logits.push(l.slice()),
      });
      const seqs = gen.rows.map((r, b) => ({ prompt: PROMPTS[b], completion: r.tokens }));
      const ev = await m.evaluate(batchSeqs(seqs, e.padId), { temperature: temp });
      // Scoring divides the logits by temperature + 1e-7 (as TRL does), sampling by the temperature.
      const st = temp === 1 ? 1 : temp + 1e-7;
      for (const [b, r] of gen.rows.entries()) {
        expect(r.tokens).toHaveLength(6);
        const want = r.tokens.map((t, s) => logSoftmaxAt(logits[s].subarray(b * V, (b + 1) * V), t, st));
        expect(Array.from(ev.logp[b])).toHaveLength(6);
        for (const [s, w] of want.entries()) expect(ev.logp[b][s]).toBeCloseTo(w, 10);
      }
      if (temp !== 1) continue;
      const runner = new RsRunner(
        e,
        { ids: PROMPTS, texts: ['a', 'b', 'c'] },
        { ...RS_DEFAULTS, steps: 1, lr: 0 },
      );
      const tp = new Tape(m.be, false);
      const loss = (await m.be.read(runner.sftLoss(tp, seqs).store, 1))[0];
      tp.dispose();
      const all = ev.logp.flatMap((x) => Array.from(x));
      expect(loss).toBeCloseTo(-all.reduce((a, x) => a + x, 0) / all.length, 10);
    }
    m.dispose();
  });

  it('a round with every sample tied at 0: threshold 0.1 keeps none and trains nothing; no threshold trains on the tie-break', async () => {
    const set = { ids: PROMPTS, texts: ['a', 'b', 'c'] };
    const cfg = { ...RS_DEFAULTS, steps: 1, lr: 1e-2, batch: 3, n: 2, keep: 1, maxNewTokens: 4 };
    const name = 'base_model.model.model.layers.0.self_attn.q_proj.lora_B.weight';
    for (const threshold of [0.1, null]) {
      const e = env();
      const before = await e.model.ps.read(name);
      const r = new RsRunner(e, set, { ...cfg, threshold });
      const s = await r.step();
      const after = await e.model.ps.read(name);
      const moved = Math.max(...after.map((x, i) => Math.abs(x - before[i])));
      expect(s.reward_mean).toBe(0);
      if (threshold === null) {
        expect(s.kept).toBe(3);
        expect(moved).toBeGreaterThan(1e-3);
      } else {
        expect(s.kept).toBe(0);
        expect(s.loss).toBe(0);
        expect(moved).toBe(0);
      }
      r.dispose();
    }
  });
});
