// Every method's saved adapter folder is recognised from its adapter_config.json alone and loads back to
// the same outputs (CPU twin: exact).
import { describe, expect, it } from 'vitest';
import { randomModelParams } from '../model/init';
import { TINY_GPT2, TINY_LLAMA } from '../model/testing';
import { forward } from '../model/transformer';
import { cpuBackend } from '../tensor/cpu-backend';
import { ParamSet } from '../tensor/params';
import { Tape } from '../tensor/tape';
import { Adapter, planAdapter } from './adapter';
import { methodForAdapterConfig, planFromAdapterConfig } from './files';
import { listMethods } from './registry';

describe('adapter folders', () => {
  for (const c of [TINY_GPT2, TINY_LLAMA]) {
    for (const m of listMethods()) {
      it(`${m.info.name} on ${c.modelType}: recognised from adapter_config.json and loads back`, async () => {
        const be = cpuBackend();
        const base = randomModelParams(c, 3, () => false, 0.2, true);
        const plan = planAdapter(m, m.testOptions(c, true), c, base, 7);
        const ps = new ParamSet(be, plan.specs);
        const a = new Adapter(m, plan, c, ps);
        const saved = await a.save('tiny');
        expect(methodForAdapterConfig(saved.config).info.name).toBe(m.info.name);
        const back = planFromAdapterConfig(saved.files.config, c, base, 99);
        const ps2 = new ParamSet(be, back.plan.specs);
        const b = new Adapter(back.method, back.plan, c, ps2);
        b.load(saved.files.weights);
        const ids = Int32Array.from([1, 2, 3, 4]);
        const run = (p: typeof ps, ad: typeof a) => {
          const tp = new Tape(be, false);
          return forward(tp, c, p, { ids, B: 1, T: 4 }, ad.hooks).logits.store;
        };
        expect(Array.from(run(ps2, b))).toEqual(Array.from(run(ps, a)));
      });
    }
  }

  it('refuses an unknown peft_type, naming the file', () => {
    expect(() => methodForAdapterConfig({ peft_type: 'VERA' }, 'x/adapter_config.json')).toThrow(
      /x\/adapter_config\.json: peft_type "VERA"/,
    );
  });
});
