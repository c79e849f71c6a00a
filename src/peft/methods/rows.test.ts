// Row fine-tuning: the shared matrix on both families; the rows op against a dense reference in both
// stored layouts (y = x·(W + ΔW)ᵀ + b with ΔW zero except the chosen rows; dValues = those rows of the dense
// dW, dx the dense dx) and its merge into W; the count and allocation (k·in values per target, indices
// int32 and untrained); mask=grad's calibration picking the rows of largest ‖∂L/∂W[o,:]‖ (checked against
// the gradients of a fully trainable twin); and the option errors.
import { describe, expect, it } from 'vitest';
import { expectClose, randn } from '../../../test/helpers/numeric';
import { randomModelParams } from '../../model/init';
import { shiftLabels } from '../../model/loss';
import { TINY_GPT2, TINY_LLAMA } from '../../model/testing';
import { forward } from '../../model/transformer';
import { cpuBackend } from '../../tensor/cpu-backend';
import * as op from '../../tensor/ops';
import { rowsLinear } from '../../tensor/ops-peft';
import { ParamSet } from '../../tensor/params';
import { Tape } from '../../tensor/tape';
import { planAdapter } from '../adapter';
import { methodMatrix } from '../matrix';
import { selectSites } from '../targets';
import { calibrateRowMask, rows, rowsK, rowsKeys, rowsWithIndices, topRows } from './rows';

methodMatrix('rows');

describe('rows specifics', () => {
  for (const layout of ['out_in', 'in_out'] as const) {
    it(`x·(W + rows(values))ᵀ + b, its gradients and the merge match a dense reference (${layout})`, async () => {
      const be = cpuBackend();
      const [outF, inF, k, R] = [7, 5, 3, 4];
      const idx = Int32Array.from([1, 4, 6]);
      const W = randn(outF * inF, 1);
      const V = randn(k * inF, 2);
      const X = randn(R * inF, 3);
      const G = randn(R * outF, 4);
      const bias = randn(outF, 5);
      // Dense ΔW in canonical [out, in], then stored in the layout.
      const dense = new Float64Array(outF * inF);
      idx.forEach((o, i) => {
        for (let c = 0; c < inF; c++) dense[o * inF + c] = V[i * inF + c];
      });
      const stored = (a: Float64Array) =>
        layout === 'out_in'
          ? a
          : Float64Array.from({ length: a.length }, (_, q) => a[(q % outF) * inF + Math.floor(q / outF)]);
      const shape = layout === 'out_in' ? [outF, inF] : [inF, outF];
      const run = (useRows: boolean) => {
        const tp = new Tape(be, true);
        const w = tp.tensor(shape, !useRows, 'w');
        be.write(w.store, useRows ? stored(W) : stored(W.map((t, i) => t + dense[i])));
        const b = tp.tensor([outF], false, 'b');
        be.write(b.store, bias);
        const x = tp.tensor([R, inF], true, 'x');
        be.write(x.store, X);
        const v = tp.tensor([k, inF], true, 'v');
        be.write(v.store, V);
        let y = op.linear(tp, x, w, b, layout, 'y');
        if (useRows) y = rowsLinear(tp, y, x, v, tp.ints(idx, 'idx'), { k, outF, inF }, 'rows');
        tp.seedGrad(y, be.upload(G, 'workspace', 'g'));
        tp.backward();
        return { tp, y: Float64Array.from(y.store), dx: Float64Array.from(tp.gradOf(x)!), w, v };
      };
      const got = run(true);
      const want = run(false);
      expectClose(got.y, want.y, 1e-12, 1e-12, 'y');
      expectClose(got.dx, want.dx, 1e-12, 1e-12, 'dx');
      const dW = want.tp.gradOf(want.w)!;
      const canon = (q: number) => (layout === 'out_in' ? q : (q % inF) * outF + Math.floor(q / inF));
      const wantDv = Float64Array.from({ length: k * inF }, (_, e) => {
        const i = Math.floor(e / inF);
        return dW[canon(idx[i] * inF + (e % inF))];
      });
      expectClose(got.tp.gradOf(got.v)!, wantDv, 1e-12, 1e-12, 'dValues');
      // Merge: W += rows(values) in the stored layout.
      const merged = Float64Array.from(stored(W));
      const byColumn = layout === 'in_out';
      be.indexAdd({ k, len: inF, cols: byColumn ? outF : inF, byColumn, out: merged, x: V, idx, alpha: 1 });
      expectClose(merged, stored(W.map((t, i) => t + dense[i])), 1e-12, 1e-12, 'merged');
      got.tp.dispose();
      want.tp.dispose();
    });
  }

  it('counts k·in values per target, trains only them, and keeps the sorted row indices as ints', () => {
    for (const c of [TINY_GPT2, TINY_LLAMA]) {
      const plan = planAdapter(rows, { density: 0.3, mask_seed: 2 }, c, randomModelParams(c, 1), 0);
      const sites = selectSites(c, 'all-linear');
      const want = sites.reduce((n, s) => n + Math.max(1, Math.round(0.3 * s.outFeatures)) * s.inFeatures, 0);
      expect(plan.count).toBe(want);
      const trainable = plan.specs.filter((s) => s.trainable);
      expect(trainable.map((s) => s.name)).toEqual(sites.map((s) => rowsKeys(s).values));
      expect(trainable.reduce((n, s) => n + s.shape.reduce((a, b) => a * b, 1), 0)).toBe(want);
      expect(plan.ints.map((x) => x.name)).toEqual(sites.map((s) => rowsKeys(s).indices));
      plan.ints.forEach((x, i) => {
        expect(x.data.length).toBe(rowsK(plan.options, sites[i]));
        for (let j = 1; j < x.data.length; j++) expect(x.data[j]).toBeGreaterThan(x.data[j - 1]);
        expect(x.data[x.data.length - 1]).toBeLessThan(sites[i].outFeatures);
      });
    }
  });

  it('mask=grad: calibration keeps the rows of largest gradient norm; without it planning refuses', async () => {
    const c = TINY_LLAMA;
    const base = randomModelParams(c, 4, () => false, 0.2, true);
    const [B, T] = [2, 6];
    const ids = Int32Array.from({ length: B * T }, (_, i) => (i * 5 + 1) % c.vocabSize);
    const raw = { density: 0.25, mask: 'grad', target_modules: ['q_proj', 'down_proj'] };
    const be = cpuBackend();
    const indices = await calibrateRowMask(be, c, base, raw, { ids, labels: ids, B, T });
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
    for (const s of sites) {
      const g = await ps.readGrad(`${s.path}.weight`);
      const norms = Array.from({ length: s.outFeatures }, (_, o) =>
        Math.hypot(...Array.from(g.subarray(o * s.inFeatures, (o + 1) * s.inFeatures))),
      );
      const k = Math.round(0.25 * s.outFeatures);
      const want = norms
        .map((n, o) => [n, o] as const)
        .sort((a, b) => b[0] - a[0] || a[1] - b[1])
        .slice(0, k)
        .map((x) => x[1])
        .sort((a, b) => a - b);
      expect(Array.from(indices.get(rowsKeys(s).indices)!), s.path).toEqual(want);
    }
    tp.dispose();
    expect(() => planAdapter(rows, raw, c, base, 0)).toThrow(/mask=grad needs a calibration pass/);
    const plan = planAdapter(rowsWithIndices(indices), raw, c, base, 0);
    expect(plan.ints.map((x) => x.name)).toEqual(sites.map((s) => rowsKeys(s).indices));
    const bad = new Map([[rowsKeys(sites[0]).indices, Int32Array.from([3, 1, 2, 0])]]);
    expect(() => planAdapter(rowsWithIndices(bad), raw, c, base, 0)).toThrow(/not a sorted distinct row/);
  });

  it('topRows ranks by the row norm, ties to the lower row', () => {
    expect(Array.from(topRows([3, 4, 0, 0, 5, 0, 1, 1], 4, 2))).toEqual([0, 2]);
    expect(Array.from(topRows([1, 0, 0, 1, 1, 0], 3, 2))).toEqual([0, 1]);
  });

  it('refuses a density out of range, naming the method and option', () => {
    expect(() => rows.parse({ density: 2 }, TINY_LLAMA)).toThrow(/rows.*density/);
  });
});
