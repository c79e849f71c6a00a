// adapter_config.json as the CLI reads it (--adapter, merge): every failure names the file first, also the
// method's option checks, which speak of the option alone — checked by the seeded fuzzer of data/fuzzing.ts.
import { describe, expect, it } from 'vitest';
import { dec, enc, fuzz } from '../data/fuzzing';
import { randomModelParams } from '../model/init';
import { TINY_LLAMA } from '../model/testing';
import { planAdapterFile } from './adapter-dir';

describe('adapter_config.json', () => {
  const base = randomModelParams(TINY_LLAMA, 3, () => false, 0.2, true);
  const seed = JSON.stringify({
    peft_type: 'LORA',
    r: 4,
    lora_alpha: 8,
    target_modules: ['q_proj', 'v_proj'],
    lora_dropout: 0,
    bias: 'none',
  });

  it('an option the method refuses is named with the file', () => {
    expect(planAdapterFile(seed, TINY_LLAMA, base, 'a/adapter_config.json').plan.count).toBeGreaterThan(0);
    expect(() =>
      planAdapterFile(
        seed.replace('"q_proj"', '"nope"').replace('"v_proj"', '"nada"'),
        TINY_LLAMA,
        base,
        'a/adapter_config.json',
      ),
    ).toThrow(/^a\/adapter_config\.json: target_modules: \["nope","nada"\] matches no linear layer/);
  });

  it('fuzzed: a plan or a sentence naming the file', async () => {
    const failed = await fuzz(
      'adapter_config.json',
      enc(seed),
      (b) => planAdapterFile(dec(b), TINY_LLAMA, base, 'adapter_config.json'),
      7,
    );
    expect(failed).toBeGreaterThan(0);
  });
});
