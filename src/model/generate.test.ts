// Tests for generation with the KV cache (generate.ts, kvcache.ts, transformer.ts's cache path) on tiny GPT-2
// and Llama/Qwen2 models, on the GPU and on the CPU twin: cached greedy generation gives the tokens and (within
// 1e-4) the per-step logits of recomputing the whole sequence without a cache; a batch of left-padded prompts
// of different lengths gives what each prompt gives alone; the cache's arena bytes are exactly
// 2·layers·B·capacity·Hkv·D·4 while generating and 0 after; method hooks (a linear hook, a prefix, virtual
// tokens) apply in generation as in the plain forward; EOS, stop strings and seeded sampling per row; the fast
// decode path (GEMV matmuls, multi-projection GEMVs, the lean step, top-candidate sampling) gives the
// reference path's tokens, greedy and seeded.
import { describe, expect, it, vi } from 'vitest';
import { testGpu } from '../../test/helpers/gpu';
import { expectClose } from '../../test/helpers/numeric';
import type { ModelConfig } from '../formats/model-config';
import { gemvMulti } from '../gpu/kernels/gemv-multi';
import type { Backend } from '../tensor/backend';
import { cpuBackend } from '../tensor/cpu-backend';
import { gpuBackend } from '../tensor/gpu-backend';
import * as op from '../tensor/ops';
import { ParamSet } from '../tensor/params';
import { Tape, Tensor } from '../tensor/tape';
import { randn } from '../util/rng';
import { type DecodeAccel, type GenerateOptions, generate } from './generate';
import { randomModelParams } from './init';
import { argmax } from './sampling';
import { TINY_GPT2, TINY_LLAMA } from './testing';
import { forward, type ModelHooks } from './transformer';

const PROMPTS = [[3, 14, 15, 9, 2], [6], [5, 3, 5]];
const NEW = 5;

/** Last-position logits of `ids` by a full forward without a cache (B = 1). */
async function recompute<S, I>(
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

/**
 * Greedy-generates PROMPTS in one batch, then for every row and step recomputes the logits without a cache
 * and checks them (tol) and the greedy choice; returns the batched rows.
 */
async function checkAgainstRecompute<S, I>(
  be: Backend<S, I>,
  c: ModelConfig,
  ps: ParamSet<S, I>,
  tol: number,
  hooks: ModelHooks<S, I> = {},
  onStep?: () => void,
) {
  const V = c.vocabSize;
  const stepLogits: Float64Array[] = [];
  const res = await generate(be, c, ps, PROMPTS, {
    maxNewTokens: NEW,
    hooks,
    onLogits: (_, l) => {
      stepLogits.push(l.slice());
      onStep?.();
    },
  });
  expect(res.rows.map((r) => r.tokens.length)).toEqual(PROMPTS.map(() => NEW));
  for (const [b, p] of PROMPTS.entries()) {
    const toks = res.rows[b].tokens;
    for (let s = 0; s < NEW; s++) {
      const want = await recompute(be, c, ps, [...p, ...toks.slice(0, s)], hooks);
      const got = stepLogits[s].subarray(b * V, (b + 1) * V);
      expectClose(got, want, tol, tol, `${c.family} row ${b} step ${s} logits`);
      expect(toks[s], `row ${b} step ${s} greedy token`).toBe(argmax(want));
    }
  }
  return res;
}

/** Generates each prompt alone (B = 1) and checks it against the batched rows. */
async function checkAlone<S, I>(
  be: Backend<S, I>,
  c: ModelConfig,
  ps: ParamSet<S, I>,
  batched: { rows: Array<{ tokens: number[] }> },
  hooks: ModelHooks<S, I> = {},
) {
  for (const [b, p] of PROMPTS.entries()) {
    const alone = await generate(be, c, ps, [p], { maxNewTokens: NEW, hooks });
    expect(alone.rows[0].tokens, `${c.family} prompt ${b} alone`).toEqual(batched.rows[b].tokens);
  }
}

// Larger weights than the default 0.02 so logits are far from uniform and greedy choices are not near-ties.
const params = (c: ModelConfig, seed: number) => randomModelParams(c, seed, () => false, 0.3, true);

for (const c of [TINY_GPT2, TINY_LLAMA]) {
  describe(`${c.family}: generation with a KV cache`, () => {
    it('GPU: cached greedy tokens and logits equal a full recompute; batched equals alone; cache bytes', async () => {
      const ctx = await testGpu();
      const be = gpuBackend(ctx);
      const ps = new ParamSet(be, params(c, 1));
      const capacity = Math.max(...PROMPTS.map((p) => p.length)) + NEW - 1;
      const expected = 2 * c.numLayers * PROMPTS.length * capacity * c.numKvHeads * c.headDim * 4;
      const seen: number[] = [];
      const res = await checkAgainstRecompute(be, c, ps, 1e-4, {}, () =>
        seen.push(ctx.arena.stats().current.kvcache),
      );
      expect(res.cacheCapacity).toBe(capacity);
      expect(res.cacheBytes).toBe(expected);
      expect(seen.every((x) => x === expected)).toBe(true);
      expect(ctx.arena.stats().current.kvcache).toBe(0);
      // The first step ran the prefill, then one forward per new token except the last.
      expect(res.forwards).toBe(NEW);
      await checkAlone(be, c, ps, res);
      ps.dispose();
      expect(ctx.arena.stats().liveBuffers).toBe(0);
    });

    it('CPU twin: cached greedy tokens and logits equal a full recompute; batched equals alone', async () => {
      const be = cpuBackend();
      const ps = new ParamSet(be, params(c, 1));
      const res = await checkAgainstRecompute(be, c, ps, 1e-10);
      await checkAlone(be, c, ps, res);
    });
  });
}

/**
 * Method-like hooks on the CPU twin: a linear hook that adds a fixed low-rank term to every q/v projection
 * (LoRA-shaped), a per-layer prefix of 2 keys/values, and 3 virtual tokens. Fixed tensors, not trained.
 */
function methodHooks<S, I>(be: Backend<S, I>, c: ModelConfig, kinds: Set<string>): ModelHooks<S, I> {
  const HkvD = c.numKvHeads * c.headDim;
  const d = c.hiddenSize;
  const fixed = (name: string, shape: number[], seed: number, std = 0.5) =>
    new Tensor<S>(shape, be.upload(randn(shape[0] * shape[1], seed, std), 'frozen', name), false, name);
  const lora = new Map<string, { a: Tensor<S>; b: Tensor<S> }>();
  const prefixes = Array.from({ length: c.numLayers }, (_, i) => ({
    k: fixed(`pk${i}`, [2, HkvD], 100 + i),
    v: fixed(`pv${i}`, [2, HkvD], 200 + i),
  }));
  const virt = fixed('virtual', [3, d], 300);
  const hooks: ModelHooks<S, I> = {};
  if (kinds.has('linear'))
    hooks.linear = (tp, site, x, base) => {
      if (!/(c_attn|q_proj|v_proj)$/.test(site.module)) return base(x);
      let w = lora.get(site.path);
      if (!w) {
        const seed = site.layer * 10 + site.path.length;
        w = {
          a: fixed(`${site.path}.A`, [2, site.inFeatures], seed),
          b: fixed(`${site.path}.B`, [site.outFeatures, 2], seed + 1),
        };
        lora.set(site.path, w);
      }
      const ax = op.linear(tp, x, w.a, null, 'out_in', `${site.path}.lora_A`);
      return op.add(
        tp,
        base(x),
        op.linear(tp, ax, w.b, null, 'out_in', `${site.path}.lora_B`),
        `${site.path}.lora`,
      );
    };
  if (kinds.has('prefix')) hooks.prefix = (_tp, layer) => prefixes[layer];
  if (kinds.has('virtual')) hooks.virtualTokens = () => virt;
  return hooks;
}

describe('method hooks apply during generation', () => {
  for (const c of [TINY_GPT2, TINY_LLAMA])
    for (const kinds of [['linear'], ['prefix'], ['virtual'], ['linear', 'prefix', 'virtual']]) {
      it(`${c.family} CPU twin with ${kinds.join(' + ')}`, async () => {
        const be = cpuBackend();
        const ps = new ParamSet(be, params(c, 2));
        const hooks = methodHooks(be, c, new Set(kinds));
        const res = await checkAgainstRecompute(be, c, ps, 1e-10, hooks);
        // The hooks change what is generated (else this test would prove nothing).
        const plain = await generate(be, c, ps, PROMPTS, { maxNewTokens: NEW });
        expect(res.rows.map((r) => r.tokens)).not.toEqual(plain.rows.map((r) => r.tokens));
      });
    }

  for (const variant of ['rows', 'tiled', 'flash'])
    it(`llama GPU (${variant} attention) with a prefix and virtual tokens over left-padded prompts`, async () => {
      const ctx = await testGpu();
      ctx.variants.set('attention', variant);
      const be = gpuBackend(ctx);
      const c = TINY_LLAMA;
      const ps = new ParamSet(be, params(c, 2));
      try {
        await checkAgainstRecompute(be, c, ps, 1e-4, methodHooks(be, c, new Set(['prefix', 'virtual'])));
      } finally {
        ps.dispose();
        ctx.variants.delete('attention');
      }
    });
});

describe("the fast decode path gives the reference path's tokens", () => {
  const modes: Array<[string, GenerateOptions<unknown, unknown>]> = [
    ['greedy', { maxNewTokens: NEW }],
    ['greedy, penalty', { maxNewTokens: NEW, repetitionPenalty: 1.3 }],
    ['seeded top-k/top-p', { maxNewTokens: NEW, temperature: 1.5, topK: 5, topP: 0.9, seed: 7 }],
    ['seeded, penalty', { maxNewTokens: NEW, temperature: 0.8, topK: 8, repetitionPenalty: 1.2, seed: 3 }],
  ];
  for (const c of [TINY_GPT2, TINY_LLAMA])
    it(`${c.family} GPU: GEMV steps (3 padded rows) and top-candidate sampling, logits within 1e-4`, async () => {
      const ctx = await testGpu();
      const be = gpuBackend(ctx);
      const ps = new ParamSet(be, params(c, 4));
      // GEMV is matmul()'s own route for few rows: count the dispatches of its kernels.
      const dispatch = vi.spyOn(ctx, 'dispatch');
      const gemvDispatches = () => dispatch.mock.calls.filter(([a]) => /^gemv\d/.test(a.kernel.label)).length;
      let multi = 0;
      let qkvBiased = 0;
      const accel: DecodeAccel<unknown> = {
        linears: (p) => {
          const took = gemvMulti(ctx, p as Parameters<typeof gemvMulti>[1]);
          if (took) multi++;
          if (took && p.parts.length === 3 && p.parts.every((q) => q.bias)) qkvBiased++;
          return took;
        },
      };
      try {
        for (const [name, o] of modes) {
          const logits: Float64Array[][] = [[], []];
          // The reference path as it was: matmul() kept off its GEMV route too.
          ctx.variants.set('gemv', 'off');
          dispatch.mockClear();
          const ref = await generate(be, c, ps, PROMPTS, {
            ...o,
            decodePath: 'reference',
            onLogits: (_, l) => logits[0].push(l),
          });
          expect(gemvDispatches(), 'the reference path keeps the general matmul').toBe(0);
          ctx.variants.delete('gemv');
          const fast = await generate(be, c, ps, PROMPTS, {
            ...o,
            accel,
            onLogits: (_, l) => logits[1].push(l),
          });
          expect(gemvDispatches(), `${name}: GEMV taken`).toBeGreaterThan(0);
          expect(
            fast.rows.map((r) => r.tokens),
            name,
          ).toEqual(ref.rows.map((r) => r.tokens));
          for (const [i, l] of logits[1].entries())
            expectClose(l, logits[0][i], 1e-4, 1e-4, `${name} step ${i}`);
        }
        // The multi-projection runs for q/k/v, with their biases (TINY_LLAMA is Qwen2), and for gate/up;
        // GPT-2 (one fused c_attn, no gate) has none.
        expect(multi > 0).toBe(c === TINY_LLAMA);
        expect(qkvBiased > 0).toBe(c === TINY_LLAMA);
      } finally {
        dispatch.mockRestore();
        ctx.variants.delete('gemv');
        ps.dispose();
      }
    });

  it('CPU twin: top-candidate sampling draws exactly the reference tokens', async () => {
    const be = cpuBackend();
    const ps = new ParamSet(be, params(TINY_LLAMA, 5));
    for (const [name, o] of modes) {
      for (const seed of [1, 2, 3]) {
        const ref = await generate(be, TINY_LLAMA, ps, PROMPTS, { ...o, seed, decodePath: 'reference' });
        const fast = await generate(be, TINY_LLAMA, ps, PROMPTS, { ...o, seed });
        expect(
          fast.rows.map((r) => r.tokens),
          `${name} seed ${seed}`,
        ).toEqual(ref.rows.map((r) => r.tokens));
      }
    }
  });
});

describe('stopping and sampling', () => {
  const c = TINY_LLAMA;
  // Letters for ids so text and stop strings are easy to reason about; id 0 decodes to nothing (a special).
  const decode = (ids: readonly number[]) =>
    ids.map((i) => (i === 0 ? '' : String.fromCharCode(96 + (i % 26) + 1))).join('');
  const setup = () => {
    const be = cpuBackend();
    return { be, ps: new ParamSet(be, params(c, 3)) };
  };
  const opts = (o: Partial<GenerateOptions<Float64Array, Int32Array>>) => ({ maxNewTokens: 8, decode, ...o });

  it('EOS ends its row (kept as the last token, not in the text) while the others go on', async () => {
    const { be, ps } = setup();
    const base = await generate(be, c, ps, PROMPTS, opts({}));
    const eosId = base.rows[0].tokens[2];
    const res = await generate(be, c, ps, PROMPTS, opts({ eosIds: [eosId] }));
    const cut = base.rows[0].tokens.indexOf(eosId) + 1;
    expect(res.rows[0].tokens).toEqual(base.rows[0].tokens.slice(0, cut));
    expect(res.rows[0].finish).toBe('eos');
    expect(res.rows[0].text).toBe(decode(base.rows[0].tokens.slice(0, cut - 1)));
    for (const [b, r] of res.rows.entries()) {
      const i = base.rows[b].tokens.indexOf(eosId);
      expect(r.tokens, `row ${b}`).toEqual(i < 0 ? base.rows[b].tokens : base.rows[b].tokens.slice(0, i + 1));
      expect(r.finish).toBe(i < 0 ? 'length' : 'eos');
    }
  });

  it('a stop string ends its row, cuts its text, and streamed deltas add up to the text', async () => {
    const { be, ps } = setup();
    const base = await generate(be, c, ps, PROMPTS, opts({}));
    const full = base.rows[1].text;
    const stop = full.slice(3, 5); // two letters spanning the 4th and 5th new tokens
    const streamed = PROMPTS.map(() => '');
    const res = await generate(
      be,
      c,
      ps,
      PROMPTS,
      opts({ stop: [stop], onToken: (e) => (streamed[e.row] += e.text) }),
    );
    const r = res.rows[1];
    expect(r.finish).toBe('stop');
    expect(r.text).toBe(full.slice(0, full.indexOf(stop)));
    expect(r.tokens).toEqual(base.rows[1].tokens.slice(0, full.indexOf(stop) + 2));
    for (const [b, row] of res.rows.entries()) expect(streamed[b], `row ${b} stream`).toBe(row.text);
    expect(streamed[1]).not.toContain(stop);
  });

  it('seeded sampling repeats, differs across seeds, and each row has its own stream', async () => {
    const { be, ps } = setup();
    const sample = (seed: number, prompts = PROMPTS) =>
      generate(be, c, ps, prompts, { maxNewTokens: 8, temperature: 1.5, topK: 20, topP: 0.95, seed }).then(
        (r) => r.rows.map((x) => x.tokens),
      );
    const a = await sample(7);
    expect(await sample(7)).toEqual(a);
    expect(await sample(8)).not.toEqual(a);
    // Row 0's draws do not depend on the rows after it.
    expect((await sample(7, [PROMPTS[0]]))[0]).toEqual(a[0]);
  });

  it('refuses bad requests with a sentence', async () => {
    const { be, ps } = setup();
    await expect(generate(be, c, ps, [[1, 2]], { maxNewTokens: 40 })).rejects.toThrow(/positions/);
    await expect(generate(be, c, ps, [[]], { maxNewTokens: 2 })).rejects.toThrow(/prompt 0 is empty/);
    await expect(generate(be, c, ps, [[1, 99]], { maxNewTokens: 2 })).rejects.toThrow(
      /prompt 0, token 1: id 99/,
    );
    await expect(generate(be, c, ps, [[1]], { maxNewTokens: 2, stop: ['x'] })).rejects.toThrow(/decode/);
    await expect(generate(be, c, ps, [[1]], { maxNewTokens: 2, temperature: -1 })).rejects.toThrow(
      /temperature/,
    );
  });
});
