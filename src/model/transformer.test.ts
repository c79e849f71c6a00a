// Whole-model checks on the tape: the CPU twin's gradients against central differences, the GPU's logits
// and gradients against the twin, and a 5-step training run whose GPU losses match the twin's within 1e-4.
// The GPU checks run on two devices: the suite's portable one (subgroups withheld, vitest.config.ts) and one
// with every feature, whose defaults on SwiftShader are the quad matmul and attention kernels and the
// matmul queue's grouped quad dispatches: the path the page takes there.
import { describe, expect, it } from 'vitest';
import { testGpu } from '../../test/helpers/gpu';
import { expectClose } from '../../test/helpers/numeric';
import type { ModelConfig } from '../formats/model-config';
import { untunedVariant } from '../gpu/kernels/matmul';
import type { Backend } from '../tensor/backend';
import { cpuBackend } from '../tensor/cpu-backend';
import { gpuBackend } from '../tensor/gpu-backend';
import * as op from '../tensor/ops';
import { ParamSet } from '../tensor/params';
import { Tape } from '../tensor/tape';
import { AdamW } from '../train/optimizer';
import { rng } from '../util/rng';
import { randomModelParams } from './init';
import { shiftLabels } from './loss';
import { TINY_GPT2, TINY_LLAMA } from './testing';
import { forward } from './transformer';

function batch(c: ModelConfig, B: number, T: number, seed: number) {
  const r = rng(seed);
  const ids = Int32Array.from({ length: B * T }, () => Math.floor(r() * c.vocabSize));
  const labels = Int32Array.from(ids);
  labels[1] = -100; // an ignored label inside the sequence
  return { ids, labels, B, T };
}

/** One forward + backward; returns the loss and the tape (caller disposes). */
function lossAndGrads<S, I>(
  be: Backend<S, I>,
  c: ModelConfig,
  ps: ParamSet<S, I>,
  b: ReturnType<typeof batch>,
) {
  const tp = new Tape(be, true);
  ps.zeroGrads();
  const { logits, virtual } = forward(tp, c, ps, { ids: b.ids, B: b.B, T: b.T });
  const flat = tp.reshape(logits, [b.B * (b.T + virtual), c.vocabSize]);
  const loss = op.crossEntropy(tp, flat, shiftLabels(b.labels, b.B, b.T, virtual), 'loss');
  tp.backward();
  return { tp, loss, logits };
}

for (const c of [TINY_GPT2, TINY_LLAMA]) {
  describe(`${c.family} tiny model`, () => {
    const all = () => true;

    it('CPU twin gradients match central differences of the loss', async () => {
      const be = cpuBackend();
      const specs = randomModelParams(c, 7, all, 0.2, true);
      const ps = new ParamSet(be, specs);
      const b = batch(c, 2, 5, 3);
      const { tp } = lossAndGrads(be, c, ps, b);
      tp.dispose();
      const lossAt = () => {
        const t = new Tape(be, false);
        const { logits } = forward(t, c, ps, { ids: b.ids, B: 2, T: 5 });
        const l = op.crossEntropy(
          t,
          t.reshape(logits, [10, c.vocabSize]),
          shiftLabels(b.labels, 2, 5),
          'loss',
        );
        return l.store[0];
      };
      const r = rng(11);
      for (const t of ps.trainable()) {
        // Two entries per tensor keep this fast while touching every parameter's gradient path.
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
    });

    for (const allFeatures of [false, true]) {
      const kernels = allFeatures ? 'every feature: quad kernels' : 'portable kernels';
      it(`GPU logits and gradients match the CPU twin (${kernels})`, async () => {
        const ctx = await testGpu({ allFeatures });
        // What this case is for: on SwiftShader the two devices take different kernels.
        if (ctx.adapter.software)
          expect(untunedVariant(ctx, 'square')).toBe(allFeatures ? 'quad' : 'regblock');
        const specs = randomModelParams(c, 5, all, 0.2, true);
        const b = batch(c, 2, 7, 9);
        const cpu = cpuBackend();
        const gpu = gpuBackend(ctx);
        const pc = new ParamSet(cpu, specs);
        const pg = new ParamSet(gpu, specs);
        const rc = lossAndGrads(cpu, c, pc, b);
        const rg = lossAndGrads(gpu, c, pg, b);
        const n = rc.logits.size;
        expectClose(await gpu.read(rg.logits.store, n), rc.logits.store, 1e-4, 1e-5, 'logits');
        expectClose(await gpu.read(rg.loss.store, 1), rc.loss.store, 1e-5, 1e-6, 'loss');
        for (const t of pc.trainable()) {
          expectClose(await pg.readGrad(t.name), t.grad!, 2e-3, 2e-5, `grad ${t.name}`);
        }
        rg.tp.dispose();
        pg.dispose();
        expect(ctx.arena.stats().liveBuffers).toBe(0);
      });

      it(`trains 5 steps on the GPU with the losses of the twin (1e-4 relative, ${kernels})`, async () => {
        const ctx = await testGpu({ allFeatures });
        const specs = randomModelParams(c, 21, all, 0.1);
        const runOn = async <S, I>(be: Backend<S, I>) => {
          const ps = new ParamSet(be, specs);
          const opt = new AdamW(ps, {
            lr: 1e-2,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            weightDecay: 0.01,
            maxGradNorm: 1,
          });
          const losses: number[] = [];
          for (let step = 0; step < 5; step++) {
            const b = batch(c, 2, 8, 100 + step);
            const { tp, loss } = lossAndGrads(be, c, ps, b);
            opt.update();
            losses.push((await be.read(loss.store, 1))[0]);
            tp.dispose();
          }
          opt.dispose();
          ps.dispose();
          return losses;
        };
        const cpuLosses = await runOn(cpuBackend());
        const gpuLosses = await runOn(gpuBackend(ctx));
        expectClose(gpuLosses, cpuLosses, 1e-4, 0, 'losses');
        // The run must actually learn something for the comparison to mean anything.
        expect(cpuLosses[4]).toBeLessThan(cpuLosses[0]);
      });
    }
  });
}
