// Row fine-tuning (the seed's "only particular rows"): per target weight W [out, in], k = max(1,
// round(p·out)) whole output rows train. Trainable values [k, in] (zero at init) and fixed int32 row
// indices [k], sorted; keys `base_model.model.<module>.weight.row_values` and `.row_indices` (I32). The
// forward adds x·valuesᵀ into the base output's columns at the indices (ops-peft.ts rowsLinear), so the
// update and its gradient are a dense [k, in] block and nothing of size out×in is formed. Mergeable: the
// rows are added into W by index (rowindex.ts), in either stored layout.
//
// Masks: `random` draws k distinct rows per weight from `mask_seed` (saved in adapter_config.json, so a
// reloaded adapter rebuilds the same rows); `grad` keeps the k rows of largest ‖∂L/∂W[o, :]‖₂ on a
// calibration batch: run `calibrateRowMask` before planning and plan with `rowsWithIndices(indices)`; the
// same function takes indices read back from a saved adapter_model.safetensors.

import type { ModelConfig } from '../../formats/model-config';
import type { LinearSite } from '../../model/transformer';
import type { Backend } from '../../tensor/backend';
import { rowsLinear } from '../../tensor/ops-peft';
import type { ParamSpec } from '../../tensor/params';
import { hashString, randu } from '../../util/rng';
import { readOptions } from '../options';
import { selectSites, type TargetModules } from '../targets';
import type { OptionSpec, PeftMethod, RawOptions } from '../types';
import { peftKey } from '../types';
import { mergeTarget } from './plain-weight';
import { calibrationGrads, randomMask } from './sparse';

export interface RowsOptions {
  density: number;
  targets: TargetModules;
  mask: 'random' | 'grad';
  maskSeed: number;
  /** zeros (identity, the default) or random values (tests). */
  initValues: 'zeros' | 'random';
}

const OPTIONS = [
  {
    key: 'density',
    kind: 'float',
    default: 0.01,
    min: 1e-9,
    max: 1,
    group: 'main',
    help: 'fraction p of the output rows of each target weight that trains',
  },
  {
    key: 'target_modules',
    kind: 'list',
    default: 'all-linear',
    group: 'main',
    help: 'module names, a regex, or all-linear',
  },
  {
    key: 'mask',
    kind: 'enum',
    default: 'random',
    choices: ['random', 'grad'],
    group: 'main',
    help: 'random rows, or the rows of largest gradient norm on a calibration batch',
  },
  {
    key: 'mask_seed',
    kind: 'int',
    default: 0,
    min: 0,
    max: 2 ** 31 - 1,
    group: 'advanced',
    help: 'seed of the random rows',
  },
  {
    key: 'init_values',
    kind: 'enum',
    default: 'zeros',
    choices: ['zeros', 'random'],
    group: 'advanced',
    help: 'initial values (zeros: identity at start)',
  },
] as const satisfies readonly OptionSpec[];

export const rowsKeys = (site: Pick<LinearSite, 'path'>) => ({
  values: peftKey(site.path, 'weight.row_values'),
  indices: peftKey(site.path, 'weight.row_indices'),
});

/** Rows that train in one target: k = max(1, round(p·out)). */
export const rowsK = (o: Pick<RowsOptions, 'density'>, site: LinearSite): number =>
  Math.max(1, Math.round(o.density * site.outFeatures));

function parse(raw: RawOptions, c: ModelConfig): RowsOptions {
  const o = readOptions('rows', OPTIONS, raw);
  selectSites(c, o.target_modules);
  return {
    density: o.density,
    targets: o.target_modules,
    mask: o.mask,
    maskSeed: o.mask_seed,
    initValues: o.init_values,
  };
}

/** The k rows of largest ‖g[o, :]‖₂ (g canonical [out, in]; ties to the lower row), sorted. */
export function topRows(g: ArrayLike<number>, out: number, k: number): Int32Array {
  const cols = g.length / out;
  const norms = Float64Array.from({ length: out }, (_, o) => {
    let s = 0;
    for (let c = 0; c < cols; c++) s += g[o * cols + c] ** 2;
    return s;
  });
  const order = Int32Array.from({ length: out }, (_, i) => i);
  order.sort((a, b) => norms[b] - norms[a] || a - b);
  return order.slice(0, k).sort();
}

function makeMethod(given: ReadonlyMap<string, Int32Array> | null): PeftMethod<RowsOptions> {
  const indicesFor = (o: RowsOptions, c: ModelConfig) =>
    selectSites(c, o.targets).map((site) => {
      const k = rowsK(o, site);
      const name = rowsKeys(site).indices;
      const from = given?.get(name) ?? given?.get(`${site.path}.weight`);
      if (from) {
        if (from.length !== k)
          throw new Error(`rows: ${name} has ${from.length} rows, density ${o.density} needs ${k}`);
        for (let j = 0; j < from.length; j++) {
          if (from[j] < 0 || from[j] >= site.outFeatures || (j > 0 && from[j] <= from[j - 1]))
            throw new Error(
              `rows: ${name}[${j}] = ${from[j]} is not a sorted distinct row below ${site.outFeatures}`,
            );
        }
        return { site, name, data: Int32Array.from(from) };
      }
      if (o.mask === 'grad')
        throw new Error(
          'rows: mask=grad needs a calibration pass: run calibrateRowMask(...) and plan with rowsWithIndices(indices)',
        );
      const seed = (o.maskSeed ^ hashString(name)) >>> 0;
      return { site, name, data: randomMask(site.outFeatures, k, seed) };
    });
  return {
    info: {
      name: 'rows',
      label: 'Row fine-tuning',
      family: 'selective',
      peftType: null,
      mergeable: true,
      identityAtInit: true,
      defaultLr: 1e-3,
      options: OPTIONS,
    },
    parse,
    build(o, c, _base, seed) {
      const added: ParamSpec[] = selectSites(c, o.targets).map((site) => {
        const k = rowsK(o, site);
        const name = rowsKeys(site).values;
        const n = k * site.inFeatures;
        const data =
          o.initValues === 'random'
            ? Float32Array.from(randu(n, (seed ^ hashString(name)) >>> 0, -0.5, 0.5))
            : new Float32Array(n);
        return { name, shape: [k, site.inFeatures], data, trainable: true };
      });
      return {
        baseTrainable: () => false,
        added,
        ints: indicesFor(o, c).map(({ name, data }) => ({ name, data })),
      };
    },
    count: (o, c) => selectSites(c, o.targets).reduce((n, s) => n + rowsK(o, s) * s.inFeatures, 0),
    hooks(o, c, ps, _state, ints) {
      const targeted = new Map(selectSites(c, o.targets).map((s) => [s.path, s]));
      return {
        linear(tp, site, x, base) {
          const y = base(x);
          if (!targeted.has(site.path)) return y;
          const keys = rowsKeys(site);
          const idx = ints.get(keys.indices);
          if (!idx) throw new Error(`rows: no indices ${keys.indices}`);
          return rowsLinear(
            tp,
            y,
            x,
            ps.get(keys.values),
            idx.store,
            { k: rowsK(o, site), outF: site.outFeatures, inF: site.inFeatures },
            `${site.path}.rows_out`,
          );
        },
      };
    },
    merge(o, c, ps, sign, ints) {
      for (const site of selectSites(c, o.targets)) {
        const keys = rowsKeys(site);
        const idx = ints.get(keys.indices);
        if (!idx) throw new Error(`rows: no indices ${keys.indices}`);
        // Stored [out, in]: rows idx of W; stored [in, out] (GPT-2): columns idx.
        const byColumn = site.layout === 'in_out';
        ps.be.indexAdd({
          k: rowsK(o, site),
          len: site.inFeatures,
          cols: byColumn ? site.outFeatures : site.inFeatures,
          byColumn,
          out: mergeTarget(ps.get(`${site.path}.weight`)),
          x: ps.get(keys.values).store,
          idx: idx.store,
          alpha: sign,
        });
      }
    },
    adapterConfig: (o) => ({
      peft_type: 'ROWS',
      task_type: 'CAUSAL_LM',
      density: o.density,
      target_modules: o.targets,
      mask: o.mask,
      mask_seed: o.maskSeed,
      init_values: o.initValues,
      index_layout: 'output rows of [out, in], int32, sorted',
    }),
    testOptions: (_c, nonIdentity) => ({
      density: 0.2,
      mask_seed: 7,
      ...(nonIdentity ? { init_values: 'random' } : {}),
    }),
  };
}

/** Row fine-tuning with random rows (mask=grad refuses to build without indices). */
export const rows: PeftMethod<RowsOptions> = makeMethod(null);

/**
 * Row fine-tuning with given rows per target, keyed by `<...>.weight.row_indices` (or the model's
 * `<module>.weight`): from calibrateRowMask, or read back from a saved adapter file.
 */
export function rowsWithIndices(indices: ReadonlyMap<string, Int32Array>): PeftMethod<RowsOptions> {
  return makeMethod(indices);
}

/** mask=grad's pre-pass: the k rows of largest gradient norm of each target on a calibration batch. */
export async function calibrateRowMask<S, I>(
  be: Backend<S, I>,
  c: ModelConfig,
  baseSpecs: readonly ParamSpec[],
  raw: RawOptions,
  batch: { ids: Int32Array; labels: Int32Array; B: number; T: number },
): Promise<Map<string, Int32Array>> {
  const o = parse(raw, c);
  const sites = selectSites(c, o.targets);
  const grads = await calibrationGrads(be, c, baseSpecs, sites, batch);
  return new Map(
    sites.map((s) => [rowsKeys(s).indices, topRows(grads.get(s.path)!, s.outFeatures, rowsK(o, s))]),
  );
}
