// The training loss as it runs now — activations freed in backward, blocks recomputed (checkpointing), the
// LM head and cross-entropy chunked over tokens, LoRA's path added into the base output with matmul's alpha —
// checked against central differences of the loss on the float64 CPU twin, for full fine-tuning (every
// weight, the tied or untied head included) and LoRA, on both families. The chunk of 3 rows divides neither
// B·T nor the vocabulary, so partial chunks are covered.
import { describe, expect, it } from 'vitest';
import { randomModelParams } from '../model/init';
import { causalLmLoss } from '../model/loss';
import { TINY_GPT2, TINY_LLAMA } from '../model/testing';
import { cpuBackend } from '../tensor/cpu-backend';
import { ParamSet } from '../tensor/params';
import { Tape } from '../tensor/tape';
import { rng } from '../util/rng';
import { Adapter, planAdapter } from './adapter';
import { getMethod } from './registry';

for (const c of [TINY_GPT2, TINY_LLAMA]) {
  describe(`${c.family}: chunked head, checkpointing and freeing`, () => {
    for (const [name, extra] of [
      ['full', {}],
      ['lora', { lora_dropout: 0 }],
    ] as const) {
      it(`${name}: gradients match central differences of the loss`, () => {
        const be = cpuBackend();
        const m = getMethod(name);
        const base = randomModelParams(c, 7, () => false, 0.2, true);
        const plan = planAdapter(m, { ...m.testOptions(c, true), ...extra }, c, base, 2);
        const ps = new ParamSet(be, plan.specs);
        const adapter = new Adapter(m, plan, c, ps);
        const r = rng(5);
        const B = 2;
        const T = 5;
        const ids = Int32Array.from({ length: B * T }, () => Math.floor(r() * c.vocabSize));
        const labels = Int32Array.from(ids);
        labels[1] = -100;
        const opts = { checkpointing: true, headChunkRows: 3 };
        const tp = new Tape(be, true);
        ps.zeroGrads();
        causalLmLoss(tp, c, ps, { ids, labels, B, T }, adapter.hooks, opts);
        tp.backward();
        tp.dispose();
        const lossAt = () => {
          const t = new Tape(be, false);
          const v = causalLmLoss(t, c, ps, { ids, labels, B, T }, adapter.hooks, opts).loss.store[0];
          t.dispose();
          return v;
        };
        const trained = ps.trainable();
        expect(trained.length).toBeGreaterThan(0);
        for (const t of trained) {
          // Two entries per tensor keep this fast while touching every trained tensor's gradient path.
          for (let k = 0; k < 2; k++) {
            const i = Math.floor(r() * t.size);
            const orig = t.store[i];
            const eps = 1e-5;
            t.store[i] = orig + eps;
            const fp = lossAt();
            t.store[i] = orig - eps;
            const fm = lossAt();
            t.store[i] = orig;
            const num = (fp - fm) / (2 * eps);
            const ana = t.grad![i];
            expect(Math.abs(ana - num), `${t.name}[${i}]: analytic ${ana}, numeric ${num}`).toBeLessThan(
              1e-6 + 1e-4 * Math.abs(num),
            );
          }
        }
        adapter.dispose();
        ps.dispose();
      });
    }
  });
}
