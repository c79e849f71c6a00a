// Prompt and prefix adapters in generation: greedy decoding with the KV cache (prefix entries before every
// layer's cache, real positions from n through the cache's offset, which generate takes from the adapter's
// positionOffset hook; virtual tokens in the prefill) gives the logits of a full recompute without a cache at
// every step, on both families and left-padded batches, on the CPU twin; disabling the adapter generates as
// the base model does.
import { describe, expect, it } from 'vitest';
import { expectClose } from '../../../test/helpers/numeric';
import type { ModelConfig } from '../../formats/model-config';
import { generate } from '../../model/generate';
import { randomModelParams } from '../../model/init';
import { TINY_GPT2, TINY_LLAMA } from '../../model/testing';
import { forward, type ModelHooks } from '../../model/transformer';
import type { Backend } from '../../tensor/backend';
import { cpuBackend } from '../../tensor/cpu-backend';
import { ParamSet } from '../../tensor/params';
import { Tape } from '../../tensor/tape';
import { Adapter, planAdapter } from '../adapter';
import { getMethod } from '../registry';
import type { RawOptions } from '../types';

const PROMPTS = [
  [3, 9, 4, 1, 7],
  [5, 2],
];
const NEW = 4;

async function lastLogits<S, I>(
  be: Backend<S, I>,
  c: ModelConfig,
  ps: ParamSet<S, I>,
  ids: number[],
  hooks: ModelHooks<S, I>,
): Promise<Float64Array> {
  const tp = new Tape(be, false);
  const { logits } = forward(tp, c, ps, { ids: Int32Array.from(ids), B: 1, T: ids.length }, hooks);
  const T = logits.shape[1];
  const all = await be.read(logits.store, T * c.vocabSize);
  tp.dispose();
  return all.slice((T - 1) * c.vocabSize);
}

async function greedyMatchesRecompute<S, I>(
  be: Backend<S, I>,
  c: ModelConfig,
  ps: ParamSet<S, I>,
  hooks: ModelHooks<S, I>,
): Promise<number[][]> {
  const V = c.vocabSize;
  const steps: Float64Array[] = [];
  const res = await generate(be, c, ps, PROMPTS, {
    maxNewTokens: NEW,
    hooks,
    onLogits: (_, l) => steps.push(l.slice()),
  });
  for (const [b, p] of PROMPTS.entries()) {
    const toks = res.rows[b].tokens;
    for (let s = 0; s < NEW; s++) {
      const want = await lastLogits(be, c, ps, [...p, ...toks.slice(0, s)], hooks);
      expectClose(steps[s].subarray(b * V, (b + 1) * V), want, 1e-9, 1e-9, `row ${b} step ${s}`);
    }
  }
  return res.rows.map((r) => r.tokens);
}

const CASES: Array<[string, RawOptions]> = [
  ['prefix', { num_virtual_tokens: 3 }],
  ['prefix', { num_virtual_tokens: 2, prefix_projection: true, encoder_hidden_size: 5 }],
  ['prompt', { num_virtual_tokens: 3 }],
];

describe('prompt and prefix adapters generate with the KV cache as a full recompute', () => {
  for (const c of [TINY_GPT2, TINY_LLAMA]) {
    for (const [name, raw] of CASES) {
      it(`${name} ${JSON.stringify(raw)} on ${c.modelType} (CPU twin)`, async () => {
        const be = cpuBackend();
        const base = randomModelParams(c, 11, () => false, 0.2, true);
        const method = getMethod(name);
        const plan = planAdapter(method, raw, c, base, 4);
        const ps = new ParamSet(be, plan.specs);
        const a = new Adapter(method, plan, c, ps);
        const withAdapter = await greedyMatchesRecompute(be, c, ps, a.hooks);
        await a.setEnabled(false);
        const off = await greedyMatchesRecompute(be, c, ps, a.hooks);
        const baseOnly = new ParamSet(be, base);
        expect(off).toEqual(await greedyMatchesRecompute(be, c, baseOnly, {}));
        // The adapter changes what is generated (else the comparison above would prove little).
        expect(withAdapter).not.toEqual(off);
      });
    }
  }
});
