// The test matrix every method must pass, on both model families (PEFT's shared tuner tests, here):
// gradients match the CPU twin; the closed-form count equals what is allocated; a fresh identity-initialised
// method leaves the logits unchanged; merged equals unmerged and unmerging restores the base; only the
// method's tensors change in a step; disabling restores the base; save/load round-trips bit for bit;
// 30 steps on a small fixed task lower the loss. Each method's test file calls `methodMatrix(name)`.

import { describe, expect, it } from 'vitest';
import { testGpu } from '../../test/helpers/gpu';
import { expectClose } from '../../test/helpers/numeric';
import type { ModelConfig } from '../formats/model-config';
import { randomModelParams } from '../model/init';
import { causalLmLoss } from '../model/loss';
import { TINY_GPT2, TINY_LLAMA } from '../model/testing';
import { forward } from '../model/transformer';
import type { Backend } from '../tensor/backend';
import { cpuBackend } from '../tensor/cpu-backend';
import { gpuBackend } from '../tensor/gpu-backend';
import { ParamSet } from '../tensor/params';
import { Tape } from '../tensor/tape';
import { AdamW } from '../train/optimizer';
import { Adapter, planAdapter } from './adapter';
import { readAdapterConfig } from './files';
import { getMethod } from './registry';
import type { MethodName, RawOptions } from './types';

const B = 2;
const T = 6;

function fixedBatch(c: ModelConfig) {
  const ids = Int32Array.from({ length: B * T }, (_, i) => (i * 7 + 3) % c.vocabSize);
  return { ids, labels: ids };
}

function setup<S, I>(be: Backend<S, I>, name: MethodName, c: ModelConfig, raw: RawOptions, seed = 3) {
  const method = getMethod(name);
  const base = randomModelParams(c, 11, () => false, 0.2, true);
  const plan = planAdapter(method, raw, c, base, seed);
  const ps = new ParamSet(be, plan.specs);
  const adapter = new Adapter(method, plan, c, ps);
  return { method, plan, ps, adapter, base };
}

function lossTape<S, I>(
  be: Backend<S, I>,
  c: ModelConfig,
  ps: ParamSet<S, I>,
  adapter: Adapter<S, I, unknown>,
  grad: boolean,
) {
  const { ids, labels } = fixedBatch(c);
  const tp = new Tape(be, grad);
  if (grad) ps.zeroGrads();
  const { loss, logits, virtual } = causalLmLoss(tp, c, ps, { ids, labels, B, T }, adapter.hooks);
  return { tp, loss, logits, virtual };
}

/** Logits of the real tokens only (virtual-token rows dropped), for comparisons across on/off states. */
async function realLogits<S, I>(
  be: Backend<S, I>,
  c: ModelConfig,
  ps: ParamSet<S, I>,
  adapter: Adapter<S, I, unknown>,
) {
  const { tp, logits, virtual } = lossTape(be, c, ps, adapter, false);
  const all = await be.read(logits.store, logits.size);
  tp.dispose();
  const V = c.vocabSize;
  const Tt = T + virtual;
  const out = new Float64Array(B * T * V);
  for (let b = 0; b < B; b++) out.set(all.subarray((b * Tt + virtual) * V, (b * Tt + Tt) * V), b * T * V);
  return out;
}

async function baseLogits<S, I>(
  be: Backend<S, I>,
  c: ModelConfig,
  base: ReturnType<typeof randomModelParams>,
) {
  const ps = new ParamSet(be, base);
  const { ids } = fixedBatch(c);
  const tp = new Tape(be, false);
  const { logits } = forward(tp, c, ps, { ids, B, T });
  const out = await be.read(logits.store, logits.size);
  tp.dispose();
  ps.dispose();
  return out;
}

export function methodMatrix(name: MethodName): void {
  for (const c of [TINY_GPT2, TINY_LLAMA]) {
    describe(`${name} on ${c.modelType}`, () => {
      const method = getMethod(name);

      it('GPU gradients match the CPU twin, and the count equals the allocation', async () => {
        const ctx = await testGpu();
        const raw = method.testOptions(c, true);
        const g = setup(gpuBackend(ctx), name, c, raw);
        const k = setup(cpuBackend(), name, c, raw);
        expect(g.ps.trainableCount).toBe(g.plan.count);
        const rg = lossTape(g.ps.be, c, g.ps, g.adapter, true);
        const rk = lossTape(k.ps.be, c, k.ps, k.adapter, true);
        rg.tp.backward();
        rk.tp.backward();
        expectClose(await g.ps.be.read(rg.loss.store, 1), rk.loss.store, 1e-5, 1e-6, 'loss');
        for (const t of k.ps.trainable()) {
          expectClose(await g.ps.readGrad(t.name), t.grad!, 2e-3, 2e-5, `grad ${t.name}`);
        }
        rg.tp.dispose();
        g.adapter.dispose();
        g.ps.dispose();
      });

      if (method.info.identityAtInit) {
        it('a fresh adapter leaves the logits unchanged', async () => {
          const ctx = await testGpu();
          const be = gpuBackend(ctx);
          const s = setup(be, name, c, method.testOptions(c, false));
          expectClose(
            await realLogits(be, c, s.ps, s.adapter),
            await baseLogits(be, c, s.base),
            1e-5,
            1e-6,
            'logits',
          );
          s.adapter.dispose();
          s.ps.dispose();
        });
      }

      it('disabling restores the base; only the method tensors change in a step', async () => {
        const ctx = await testGpu();
        const be = gpuBackend(ctx);
        const s = setup(be, name, c, method.testOptions(c, true));
        const frozenBefore = new Map<string, Float64Array>();
        for (const t of s.ps.tensors.values())
          if (!t.requiresGrad) frozenBefore.set(t.name, await s.ps.read(t.name));
        const trainBefore = new Map<string, Float64Array>();
        for (const t of s.ps.trainable()) trainBefore.set(t.name, await s.ps.read(t.name));
        const opt = new AdamW(s.ps, {
          lr: 1e-2,
          beta1: 0.9,
          beta2: 0.999,
          eps: 1e-8,
          weightDecay: 0,
          maxGradNorm: 0,
        });
        const r = lossTape(be, c, s.ps, s.adapter, true);
        r.tp.backward();
        opt.update();
        r.tp.dispose();
        for (const [n, v] of frozenBefore)
          expect(Array.from(await s.ps.read(n)), `frozen ${n} changed`).toEqual(Array.from(v));
        let changed = 0;
        for (const [n, v] of trainBefore) if ((await s.ps.read(n)).some((x, i) => x !== v[i])) changed++;
        expect(changed, 'trainable tensors that changed').toBeGreaterThan(0);
        await s.adapter.setEnabled(false);
        expectClose(
          await realLogits(be, c, s.ps, s.adapter),
          await baseLogits(be, c, s.base),
          1e-5,
          1e-6,
          'disabled logits',
        );
        await s.adapter.setEnabled(true);
        opt.dispose();
        s.adapter.dispose();
        s.ps.dispose();
      });

      if (method.info.mergeable) {
        it('merged equals unmerged, and unmerging restores the base weights', async () => {
          const ctx = await testGpu();
          const be = gpuBackend(ctx);
          const s = setup(be, name, c, method.testOptions(c, true));
          const before = new Map<string, Float64Array>();
          for (const t of s.ps.tensors.values())
            if (!t.requiresGrad) before.set(t.name, await s.ps.read(t.name));
          const unmerged = await realLogits(be, c, s.ps, s.adapter);
          s.adapter.merge();
          expectClose(await realLogits(be, c, s.ps, s.adapter), unmerged, 1e-4, 1e-5, 'merged logits');
          s.adapter.unmerge();
          for (const [n, v] of before) expectClose(await s.ps.read(n), v, 1e-5, 1e-6, `${n} after unmerge`);
          s.adapter.dispose();
          s.ps.dispose();
        });
      }

      it('save and load round-trip bit for bit', async () => {
        const ctx = await testGpu();
        const be = gpuBackend(ctx);
        const a = setup(be, name, c, method.testOptions(c, true), 5);
        const saved = await a.adapter.save('tiny');
        const json = JSON.parse(saved.files.config) as Record<string, unknown>;
        // A second adapter built from the saved config (different seed), then loaded.
        const options = method.adapterConfig(readAdapterConfig(method, json, c), c);
        expect({ ...options, base_model_name_or_path: 'tiny' }).toEqual(json);
        const b = setup(be, name, c, method.testOptions(c, true), 99);
        b.adapter.load(saved.files.weights);
        for (const n of a.plan.saved)
          expect(Array.from(await b.ps.read(n)), n).toEqual(Array.from(await a.ps.read(n)));
        expect((await b.adapter.save('tiny')).files.weights).toEqual(saved.files.weights);
        for (const s of [a, b]) {
          s.adapter.dispose();
          s.ps.dispose();
        }
      });

      it('30 steps on a fixed task lower the loss', async () => {
        const ctx = await testGpu();
        const be = gpuBackend(ctx);
        const s = setup(be, name, c, method.testOptions(c, false));
        const opt = new AdamW(s.ps, {
          lr: Math.max(method.info.defaultLr, 1e-2),
          beta1: 0.9,
          beta2: 0.999,
          eps: 1e-8,
          weightDecay: 0,
          maxGradNorm: 1,
        });
        const losses: number[] = [];
        for (let i = 0; i < 30; i++) {
          const r = lossTape(be, c, s.ps, s.adapter, true);
          r.tp.backward();
          opt.update();
          if (i === 0 || i === 29) losses.push((await be.read(r.loss.store, 1))[0]);
          r.tp.dispose();
        }
        expect(losses[1]).toBeLessThan(losses[0] * 0.9);
        opt.dispose();
        s.adapter.dispose();
        s.ps.dispose();
      });
    });
  }
}
