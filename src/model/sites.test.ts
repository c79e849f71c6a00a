// The site lists methods plan with (sites.ts) must be exactly the sites forward() passes to hooks.
import { describe, expect, it } from 'vitest';
import { cpuBackend } from '../tensor/cpu-backend';
import { ParamSet } from '../tensor/params';
import { Tape } from '../tensor/tape';
import { randomModelParams } from './init';
import { linearSites, sublayerSites } from './sites';
import { TINY_GPT2, TINY_LLAMA } from './testing';
import { forward, type LinearSite, type SublayerSite } from './transformer';

describe('linear sites', () => {
  for (const c of [TINY_GPT2, TINY_LLAMA]) {
    it(`${c.modelType}: linearSites() equals what forward() exposes`, () => {
      const be = cpuBackend();
      const ps = new ParamSet(be, randomModelParams(c, 1));
      const seen: LinearSite[] = [];
      const tp = new Tape(be, false);
      forward(
        tp,
        c,
        ps,
        { ids: Int32Array.from([1, 2, 3]), B: 1, T: 3 },
        {
          linear: (_tp, site, x, base) => {
            seen.push(site);
            return base(x);
          },
        },
      );
      expect(seen).toEqual(linearSites(c));
    });

    it(`${c.modelType}: sublayerSites() equals what forward() exposes`, () => {
      const be = cpuBackend();
      const ps = new ParamSet(be, randomModelParams(c, 1));
      const seen: SublayerSite[] = [];
      forward(
        new Tape(be, false),
        c,
        ps,
        { ids: Int32Array.from([1, 2, 3]), B: 1, T: 3 },
        {
          sublayer: (_tp, site, h) => {
            seen.push(site);
            return h;
          },
        },
      );
      expect(seen).toEqual(sublayerSites(c));
      expect(seen.length).toBe(2 * c.numLayers);
    });
  }
});
