// Sparse fine-tuning with mask=nm: the shared matrix on both families with N:M options (the registry's
// `sparse` is seen by the matrix with its test options set to 2:4); the N:M path against the unstructured
// path on the same indices and values (W + scatter(values) then the dense linear), outputs and gradients,
// in both stored layouts, on the GPU; the mask's structure and count; and the option errors.
import { describe, expect, it, vi } from 'vitest';
import { testGpu } from '../../../test/helpers/gpu';
import { expectClose, randn } from '../../../test/helpers/numeric';
import { randomModelParams } from '../../model/init';
import { TINY_GPT2, TINY_LLAMA } from '../../model/testing';
import { gpuBackend } from '../../tensor/gpu-backend';
import * as op from '../../tensor/ops';
import { nmLinear, sparseWeight } from '../../tensor/ops-peft';
import { Tape } from '../../tensor/tape';
import { planAdapter } from '../adapter';
import { methodMatrix } from '../matrix';
import type { AnyMethod } from '../registry';
import { selectSites } from '../targets';
import { nmMask, sparse, sparseKeys, sparseWithIndices } from './sparse';

const NM = { mask: 'nm', nm: '2:4', mask_seed: 7 };

vi.mock('../registry', async (importOriginal) => {
  const real = await importOriginal<typeof import('../registry')>();
  return {
    ...real,
    getMethod(name: string): AnyMethod {
      const m = real.getMethod(name);
      if (name !== 'sparse') return m;
      return {
        ...m,
        testOptions: (_c, nonIdentity) => ({ ...NM, ...(nonIdentity ? { init_values: 'random' } : {}) }),
      };
    },
  };
});

methodMatrix('sparse');

describe('sparse mask=nm specifics', () => {
  for (const layout of ['out_in', 'in_out'] as const) {
    it(`the N:M kernels equal W + scatter(values) on the same entries (${layout})`, async () => {
      const be = gpuBackend(await testGpu());
      const [outF, inF, R, n, m] = [6, 16, 5, 2, 4];
      const idx = nmMask(outF, inF, n, m, 3);
      const k = idx.length;
      const inputs = { w: randn(outF * inF, 1), v: randn(k, 2), x: randn(R * inF, 3), g: randn(R * outF, 4) };
      const run = async (structured: boolean) => {
        const tp = new Tape(be, true);
        const w = tp.tensor(layout === 'out_in' ? [outF, inF] : [inF, outF], false, 'w');
        be.write(w.store, inputs.w);
        const x = tp.tensor([R, inF], true, 'x');
        be.write(x.store, inputs.x);
        const v = tp.tensor([k], true, 'v');
        be.write(v.store, inputs.v);
        const gi = tp.ints(idx, 'idx');
        const y = structured
          ? nmLinear(tp, op.linear(tp, x, w, null, layout, 'base'), x, v, gi, { outF, inF, n, m }, 'nm')
          : op.linear(
              tp,
              x,
              sparseWeight(
                tp,
                w,
                v,
                gi,
                { k, rows: outF, cols: inF, transposed: layout === 'in_out' },
                'weff',
              ),
              null,
              layout,
              'y',
            );
        const g = be.upload(inputs.g, 'workspace', 'g');
        tp.seedGrad(y, g);
        tp.backward();
        const out = {
          y: await be.read(y.store, y.size),
          dx: await be.read(tp.gradOf(x)!, x.size),
          dv: await be.read(tp.gradOf(v)!, k),
        };
        tp.dispose();
        be.free(g);
        return out;
      };
      const got = await run(true);
      const want = await run(false);
      expectClose(got.y, want.y, 1e-5, 1e-6, 'y');
      expectClose(got.dx, want.dx, 1e-5, 1e-6, 'dx');
      expectClose(got.dv, want.dv, 1e-5, 1e-6, 'dValues');
    });
  }

  it('keeps N of every M inputs in every row: count out·in·N/M, density N/M, seeded', () => {
    for (const c of [TINY_GPT2, TINY_LLAMA]) {
      const plan = planAdapter(sparse, { ...NM, nm: '1:4' }, c, randomModelParams(c, 1), 0);
      const sites = selectSites(c, 'all-linear');
      expect(plan.count).toBe(sites.reduce((a, s) => a + (s.outFeatures * s.inFeatures) / 4, 0));
      expect(plan.options.density).toBe(0.25);
      plan.ints.forEach((x, i) => {
        const s = sites[i];
        const groups = new Map<number, number>();
        for (const q of x.data) {
          const key = Math.floor(q / 4);
          groups.set(key, (groups.get(key) ?? 0) + 1);
        }
        expect(groups.size).toBe((s.outFeatures * s.inFeatures) / 4);
        expect([...groups.values()].every((g) => g === 1)).toBe(true);
      });
      const again = planAdapter(sparse, { ...NM, nm: '1:4' }, c, randomModelParams(c, 1), 5);
      expect(again.ints.map((x) => Array.from(x.data))).toEqual(plan.ints.map((x) => Array.from(x.data)));
    }
  });

  it('refuses a malformed N:M, one that does not tile a target, and indices that break the structure', () => {
    const c = TINY_LLAMA;
    const base = randomModelParams(c, 1);
    expect(() => sparse.parse({ mask: 'nm', nm: '5:4' }, c)).toThrow(/^sparse: .*nm/);
    expect(() => sparse.parse({ mask: 'nm', nm: 'x' }, c)).toThrow(/^sparse: .*nm/);
    // A feed-forward width of 20 inputs is not a whole number of groups of 8 (down_proj).
    const odd = { ...c, intermediateSize: 20 };
    expect(() => sparse.parse({ mask: 'nm', nm: '1:8' }, odd)).toThrow(
      /down_proj has 20 inputs, not a multiple of 8/,
    );
    expect(sparse.parse({ mask: 'nm', nm: '1:4' }, odd).density).toBe(0.25);
    const site = selectSites(c, ['q_proj'])[0];
    const idx = nmMask(site.outFeatures, site.inFeatures, 2, 4, 1);
    idx[1] = idx[0] + 4; // moves the second entry of group 0 into group 1
    const raw = { ...NM, target_modules: ['q_proj'] };
    const one = (i: Int32Array) => new Map(selectSites(c, ['q_proj']).map((s) => [sparseKeys(s).indices, i]));
    expect(() => planAdapter(sparseWithIndices(one(idx)), raw, c, base, 0)).toThrow(
      /breaks the 2:4 structure/,
    );
  });
});
