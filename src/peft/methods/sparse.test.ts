// Sparse fine-tuning: the shared matrix on both families; W + scatter(values) against the PyTorch
// reference in both stored layouts (output, dValues, dx, and the merged weight); the arena holding
// gradients and AdamW state for the k values only; and mask=grad's calibration pass picking the top-|∂L/∂W|
// entries (checked against the gradients of a fully trainable CPU twin).
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { testGpu } from '../../../test/helpers/gpu';
import { expectClose } from '../../../test/helpers/numeric';
import { randomModelParams } from '../../model/init';
import { shiftLabels } from '../../model/loss';
import { TINY_GPT2, TINY_LLAMA } from '../../model/testing';
import { forward } from '../../model/transformer';
import { cpuBackend } from '../../tensor/cpu-backend';
import { gpuBackend } from '../../tensor/gpu-backend';
import * as op from '../../tensor/ops';
import { sparseWeight } from '../../tensor/ops-peft';
import { ParamSet } from '../../tensor/params';
import { Tape } from '../../tensor/tape';
import { planAdapter } from '../adapter';
import { methodMatrix } from '../matrix';
import { selectSites } from '../targets';
import { calibrateGradMask, sparse, sparseK, sparseKeys, sparseWithIndices, topKMask } from './sparse';

methodMatrix('sparse');

interface Listed {
  shape: number[];
  data: number[];
}
interface Case {
  layout: 'out_in' | 'in_out';
  out: number;
  in: number;
  k: number;
  weight: Listed;
  bias: Listed;
  indices: number[];
  values: Listed;
  x: Listed;
  g: Listed;
  y: Listed;
  grads: { values: Listed; x: Listed };
  merged_weight: Listed;
}

describe('sparse specifics', () => {
  const { cases } = JSON.parse(
    readFileSync(new URL('../../../test/fixtures/peft/sparse.json', import.meta.url), 'utf8'),
  ) as { cases: Case[] };
  for (const k of cases) {
    it(`W + scatter(values) matches PyTorch (${k.layout})`, async () => {
      const be = gpuBackend(await testGpu());
      const tp = new Tape(be, true);
      const w = tp.tensor(k.weight.shape, false, 'w');
      be.write(w.store, k.weight.data);
      const b = tp.tensor([k.out], false, 'b');
      be.write(b.store, k.bias.data);
      const v = tp.tensor([k.k], true, 'values');
      be.write(v.store, k.values.data);
      const x = tp.tensor(k.x.shape, true, 'x');
      be.write(x.store, k.x.data);
      const idx = tp.ints(Int32Array.from(k.indices), 'idx');
      const dims = { k: k.k, rows: k.out, cols: k.in, transposed: k.layout === 'in_out' };
      const weff = sparseWeight(tp, w, v, idx, dims, 'weff');
      const y = op.linear(tp, x, weff, b, k.layout, 'y');
      expectClose(await be.read(y.store, y.size), k.y.data, 1e-5, 1e-6, 'y');
      const g = be.upload(k.g.data, 'workspace', 'g');
      tp.seedGrad(y, g);
      tp.backward();
      expectClose(await be.read(tp.gradOf(v)!, k.k), k.grads.values.data, 1e-4, 1e-5, 'dValues');
      expectClose(await be.read(tp.gradOf(x)!, x.size), k.grads.x.data, 1e-4, 1e-5, 'dx');
      be.scatterAdd({ ...dims, w: w.store, values: v.store, idx });
      expectClose(await be.read(w.store, w.size), k.merged_weight.data, 1e-6, 1e-6, 'merged');
      tp.dispose();
      be.free(g);
    });
  }

  it('allocates gradients and AdamW state for the k values only', async () => {
    const ctx = await testGpu();
    const be = gpuBackend(ctx);
    const c = TINY_GPT2;
    const plan = planAdapter(sparse, { density: 0.05 }, c, randomModelParams(c, 1), 0);
    const ks = selectSites(c, 'all-linear').map((s) => sparseK(plan.options, s));
    expect(plan.count).toBe(ks.reduce((a, b) => a + b, 0));
    const before = ctx.arena.stats().current;
    const ps = new ParamSet(be, plan.specs);
    const after = ctx.arena.stats().current;
    const padded = ks.reduce((a, k) => a + Math.ceil(k / 64) * 64, 0);
    expect(ps.flat?.n).toBe(padded);
    expect(after.gradients - before.gradients).toBe(padded * 4);
    expect(after.optimizer - before.optimizer).toBe(2 * padded * 4);
    for (const t of ps.tensors.values()) expect(t.requiresGrad).toBe(t.name.endsWith('.sparse_values'));
    ps.dispose();
  });

  it('mask=grad: calibration keeps the top-|∂L/∂W| entries; without it planning refuses clearly', async () => {
    const c = TINY_LLAMA;
    const base = randomModelParams(c, 4, () => false, 0.2, true);
    const B = 2;
    const T = 6;
    const ids = Int32Array.from({ length: B * T }, (_, i) => (i * 5 + 1) % c.vocabSize);
    const raw = { density: 0.1, mask: 'grad', target_modules: ['q_proj', 'down_proj'] };
    const be = cpuBackend();
    const indices = await calibrateGradMask(be, c, base, raw, { ids, labels: ids, B, T });
    // The same gradients from a twin where the weights themselves train.
    const ps = new ParamSet(
      be,
      base.map((s) => ({ ...s, trainable: true })),
    );
    const tp = new Tape(be, true);
    ps.zeroGrads();
    const { logits } = forward(tp, c, ps, { ids, B, T });
    op.crossEntropy(tp, tp.reshape(logits, [B * T, c.vocabSize]), shiftLabels(ids, B, T), 'loss');
    tp.backward();
    const sites = selectSites(c, ['q_proj', 'down_proj']);
    expect(indices.size).toBe(sites.length);
    for (const s of sites) {
      const g = await ps.readGrad(`${s.path}.weight`);
      const want = topKMask(g, Math.round(0.1 * s.inFeatures * s.outFeatures));
      expect(Array.from(indices.get(sparseKeys(s).indices)!), s.path).toEqual(Array.from(want));
    }
    tp.dispose();
    expect(() => planAdapter(sparse, raw, c, base, 0)).toThrow(/mask=grad needs a calibration pass/);
    const plan = planAdapter(sparseWithIndices(indices), raw, c, base, 0);
    expect(plan.ints.map((x) => x.name)).toEqual(sites.map((s) => sparseKeys(s).indices));
  });
});
