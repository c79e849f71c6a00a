// Sparse fine-tuning (SHiRA-like): per target weight W [out, in], a fixed set of k = max(1, round(p·out·in))
// entries trains. Trainable values [k] (zero at init) and fixed int32 indices [k], flat row-major in the
// canonical [out, in] layout, sorted; the forward uses W + scatter(values) (ops-peft.ts sparseWeight), so
// gradients and AdamW state exist for the k values only. Keys `base_model.model.<module>.weight.sparse_values`
// and `.sparse_indices` (I32). Mergeable: scatter-add into W.
//
// Masks: `random` draws k distinct entries per weight from `mask_seed` (an option, saved in
// adapter_config.json, so a reloaded adapter rebuilds the same indices). `grad` keeps the k largest |∂L/∂W|
// on a calibration batch: run `calibrateGradMask` (one forward/backward of the frozen model, no optimizer
// state) before planning, and plan with `sparseWithIndices(indices)`; the same function takes indices read
// back from a saved adapter_model.safetensors. `nm` (with `nm=N:M`) keeps N random entries in every group of
// M consecutive inputs of each row (density N/M): the same keys and file, but the forward uses the
// structure — the compact values are applied beside the base linear by the N:M kernels (ops-peft.ts
// nmLinear), with no W copy, no scatter over the whole weight and no dense dW.

import { expectedTensorShapes, type ModelConfig } from '../../formats/model-config';
import type { SparseDims } from '../../gpu/kernels/sparse';
import { causalLmLoss } from '../../model/loss';
import type { LinearSite } from '../../model/transformer';
import type { Backend } from '../../tensor/backend';
import * as op from '../../tensor/ops';
import { nmLinear, sparseWeight } from '../../tensor/ops-peft';
import { ParamSet, type ParamSpec } from '../../tensor/params';
import { Tape, type Tensor } from '../../tensor/tape';
import { hashString, randu, rng } from '../../util/rng';
import { readOptions } from '../options';
import { selectSites, type TargetModules } from '../targets';
import type { OptionSpec, PeftMethod, RawOptions } from '../types';
import { peftKey } from '../types';
import { mergeTarget, plainWeight } from './plain-weight';

export interface SparseOptions {
  density: number;
  targets: TargetModules;
  mask: 'random' | 'grad' | 'nm';
  /** N of every M consecutive inputs train when mask=nm (density is then N/M); read whatever the mask. */
  nm: { n: number; m: number };
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
    help: 'fraction p of each target weight that trains',
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
    choices: ['random', 'grad', 'nm'],
    group: 'main',
    help: 'random entries, the largest |gradient| on a calibration batch, or N:M structured (see nm)',
  },
  {
    key: 'nm',
    kind: 'enum',
    default: '2:4',
    choices: ['1:2', '2:4', '1:4', '4:8', '2:8', '1:8'],
    group: 'main',
    help: 'with mask=nm: N of every M consecutive inputs train (density is then N/M)',
  },
  {
    key: 'mask_seed',
    kind: 'int',
    default: 0,
    min: 0,
    max: 2 ** 31 - 1,
    group: 'advanced',
    help: 'seed of the random mask',
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

export const sparseKeys = (site: Pick<LinearSite, 'path'>) => ({
  values: peftKey(site.path, 'weight.sparse_values'),
  indices: peftKey(site.path, 'weight.sparse_indices'),
});

export const sparseK = (o: SparseOptions, site: LinearSite): number =>
  o.mask === 'nm'
    ? (site.outFeatures * site.inFeatures * o.nm.n) / o.nm.m
    : Math.max(1, Math.round(o.density * site.inFeatures * site.outFeatures));

const dimsOf = (o: SparseOptions, site: LinearSite): SparseDims => ({
  k: sparseK(o, site),
  rows: site.outFeatures,
  cols: site.inFeatures,
  transposed: site.layout === 'in_out',
});

function parse(raw: RawOptions, c: ModelConfig): SparseOptions {
  const o = readOptions('sparse', OPTIONS, raw);
  // target_modules defaults to all-linear, never null: the spec says so.
  const targets = o.target_modules;
  const sites = selectSites(c, targets);
  const hit = /^(\d+):(\d+)$/.exec(o.nm.trim());
  const n = hit ? Number(hit[1]) : 0;
  const m = hit ? Number(hit[2]) : 0;
  if (!hit || n < 1 || n > m) throw new Error(`sparse: option nm: "${o.nm}" is not N:M with 1 ≤ N ≤ M`);
  if (o.mask === 'nm') {
    const bad = sites.find((s) => s.inFeatures % m !== 0);
    if (bad)
      throw new Error(`sparse: option nm: ${bad.path} has ${bad.inFeatures} inputs, not a multiple of ${m}`);
  }
  return {
    density: o.mask === 'nm' ? n / m : o.density,
    targets,
    mask: o.mask,
    nm: { n, m },
    maskSeed: o.mask_seed,
    initValues: o.init_values,
  };
}

/** k distinct indices of [0, n), sorted, from a partial Fisher–Yates shuffle. */
export function randomMask(n: number, k: number, seed: number): Int32Array {
  const r = rng(seed);
  const perm = new Int32Array(n);
  for (let i = 0; i < n; i++) perm[i] = i;
  for (let i = 0; i < k; i++) {
    const j = i + Math.floor(r() * (n - i));
    const t = perm[i];
    perm[i] = perm[j];
    perm[j] = t;
  }
  return perm.slice(0, k).sort();
}

/** N:M mask of [out, in]: n distinct entries of every group of m inputs in every row, flat and sorted. */
export function nmMask(out: number, inF: number, n: number, m: number, seed: number): Int32Array {
  const groups = inF / m;
  const idx = new Int32Array(out * groups * n);
  let j = 0;
  for (let o = 0; o < out; o++)
    for (let g = 0; g < groups; g++) {
      const pick = randomMask(m, n, (seed + o * groups + g) >>> 0);
      for (const t of pick) idx[j++] = o * inF + g * m + t;
    }
  return idx;
}

/** Where index j of an N:M mask must fall: its row's group, [lo, lo + m). */
function nmSlotStart(j: number, inF: number, n: number, m: number): number {
  const kr = (inF / m) * n;
  const o = Math.floor(j / kr);
  return o * inF + Math.floor((j % kr) / n) * m;
}

/** The k indices of largest |g| (g in canonical [out, in] order; ties to the lower index), sorted. */
export function topKMask(g: ArrayLike<number>, k: number): Int32Array {
  const order = Int32Array.from({ length: g.length }, (_, i) => i);
  order.sort((a, b) => Math.abs(g[b]) - Math.abs(g[a]) || a - b);
  return order.slice(0, k).sort();
}

/** Bias presence of a linear layer, as the model has it (expectedTensorShapes is what the loader checks). */
function hasBias(c: ModelConfig, site: LinearSite): boolean {
  return expectedTensorShapes(c).has(`${site.path}.bias`);
}

function makeMethod(given: ReadonlyMap<string, Int32Array> | null): PeftMethod<SparseOptions> {
  const indicesFor = (o: SparseOptions, c: ModelConfig) =>
    selectSites(c, o.targets).map((site) => {
      const { k } = dimsOf(o, site);
      const name = sparseKeys(site).indices;
      const from = given?.get(name) ?? given?.get(`${site.path}.weight`);
      if (from) {
        if (from.length !== k)
          throw new Error(`sparse: ${name} has ${from.length} indices, density ${o.density} needs ${k}`);
        const n = site.inFeatures * site.outFeatures;
        for (let j = 0; j < from.length; j++) {
          if (from[j] < 0 || from[j] >= n || (j > 0 && from[j] <= from[j - 1]))
            throw new Error(`sparse: ${name}[${j}] = ${from[j]} is not a sorted distinct index below ${n}`);
          const structured = o.mask === 'nm';
          const lo = structured ? nmSlotStart(j, site.inFeatures, o.nm.n, o.nm.m) : 0;
          if (structured && (from[j] < lo || from[j] >= lo + o.nm.m))
            throw new Error(`sparse: ${name}[${j}] = ${from[j]} breaks the ${o.nm.n}:${o.nm.m} structure`);
        }
        return { site, name, data: Int32Array.from(from) };
      }
      if (o.mask === 'grad')
        throw new Error(
          'sparse: mask=grad needs a calibration pass: run calibrateGradMask(...) and plan with sparseWithIndices(indices)',
        );
      const seed = (o.maskSeed ^ hashString(name)) >>> 0;
      if (o.mask === 'nm')
        return { site, name, data: nmMask(site.outFeatures, site.inFeatures, o.nm.n, o.nm.m, seed) };
      return { site, name, data: randomMask(site.inFeatures * site.outFeatures, k, seed) };
    });
  return {
    info: {
      name: 'sparse',
      label: 'Sparse fine-tuning',
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
        const { k } = dimsOf(o, site);
        const name = sparseKeys(site).values;
        const data =
          o.initValues === 'random'
            ? Float32Array.from(randu(k, (seed ^ hashString(name)) >>> 0, -0.5, 0.5))
            : new Float32Array(k);
        return { name, shape: [k], data, trainable: true };
      });
      return {
        baseTrainable: () => false,
        added,
        ints: indicesFor(o, c).map(({ name, data }) => ({ name, data })),
      };
    },
    count: (o, c) => selectSites(c, o.targets).reduce((n, s) => n + sparseK(o, s), 0),
    hooks(o, c, ps, _state, ints) {
      const targeted = new Map(selectSites(c, o.targets).map((s) => [s.path, s]));
      return {
        linear(tp, site, x, base) {
          if (!targeted.has(site.path)) return base(x);
          const keys = sparseKeys(site);
          const idx = ints.get(keys.indices);
          if (!idx) throw new Error(`sparse: no indices ${keys.indices}`);
          if (o.mask === 'nm') {
            const d = { outF: site.outFeatures, inF: site.inFeatures, ...o.nm };
            return nmLinear(tp, base(x), x, ps.get(keys.values), idx.store, d, `${site.path}.nm_out`);
          }
          const w = sparseWeight(
            tp,
            plainWeight(tp, ps.get(`${site.path}.weight`), `${site.path}.base_f32`),
            ps.get(keys.values),
            idx.store,
            dimsOf(o, site),
            `${site.path}.sparse_weight`,
          );
          const b = hasBias(c, site) ? ps.get(`${site.path}.bias`) : null;
          return op.linear(tp, x, w, b, site.layout, site.path);
        },
      };
    },
    merge(o, c, ps, sign, ints) {
      for (const site of selectSites(c, o.targets)) {
        const keys = sparseKeys(site);
        const idx = ints.get(keys.indices);
        if (!idx) throw new Error(`sparse: no indices ${keys.indices}`);
        ps.be.scatterAdd({
          ...dimsOf(o, site),
          w: mergeTarget(ps.get(`${site.path}.weight`)),
          values: ps.get(keys.values).store,
          idx: idx.store,
          alpha: sign,
        });
      }
    },
    adapterConfig: (o) => ({
      peft_type: 'SPARSE',
      task_type: 'CAUSAL_LM',
      density: o.density,
      target_modules: o.targets,
      mask: o.mask,
      nm: `${o.nm.n}:${o.nm.m}`,
      mask_seed: o.maskSeed,
      init_values: o.initValues,
      index_layout: 'flat row-major [out, in], int32, sorted',
    }),
    testOptions: (_c, nonIdentity) => ({
      density: 0.1,
      mask_seed: 7,
      ...(nonIdentity ? { init_values: 'random' } : {}),
    }),
  };
}

/** Sparse fine-tuning with random masks (mask=grad refuses to build without indices). */
export const sparse: PeftMethod<SparseOptions> = makeMethod(null);

/**
 * Sparse fine-tuning with given indices per target, keyed by `<...>.weight.sparse_indices` (or the
 * model's `<module>.weight`): from calibrateGradMask, or read back from a saved adapter file.
 */
export function sparseWithIndices(indices: ReadonlyMap<string, Int32Array>): PeftMethod<SparseOptions> {
  return makeMethod(indices);
}

/**
 * The calibration pass mask=grad needs (sparse, rows): one forward and backward of the frozen model on a
 * calibration batch, with a zero ΔW beside each target (y = base(x) + x·ΔW has ∂L/∂ΔW = ∂L/∂W and leaves the
 * loss unchanged). Returns ∂L/∂W of each target in canonical [out, in] order, by module path. Only
 * activations and the ΔW gradients are allocated, freed with the tape; no optimizer state.
 */
export async function calibrationGrads<S, I>(
  be: Backend<S, I>,
  c: ModelConfig,
  baseSpecs: readonly ParamSpec[],
  sites: readonly LinearSite[],
  batch: { ids: Int32Array; labels: Int32Array; B: number; T: number },
): Promise<Map<string, Float64Array>> {
  const ps = new ParamSet(
    be,
    baseSpecs.map((s) => ({ ...s, trainable: false })),
  );
  const tp = new Tape(be, true);
  const deltas = new Map<string, Tensor<S>>();
  try {
    const targeted = new Set(sites.map((s) => s.path));
    causalLmLoss(
      tp,
      c,
      ps,
      batch,
      {
        linear(t, site, x, base) {
          const y = base(x);
          if (!targeted.has(site.path)) return y;
          const w = ps.get(`${site.path}.weight`);
          const dw = t.tensor(w.shape, true, `${site.path}.calib_dW`);
          be.zero(dw.store, dw.size);
          deltas.set(site.path, dw);
          return op.add(
            t,
            y,
            op.linear(t, x, dw, null, site.layout, `${site.path}.calib`),
            `${site.path}.calib_out`,
          );
        },
      },
      { name: 'calibration_loss' },
    );
    tp.backward();
    const out = new Map<string, Float64Array>();
    for (const site of sites) {
      const dw = deltas.get(site.path)!;
      const g = tp.gradOf(dw);
      const stored = g ? await be.read(g, dw.size) : new Float64Array(dw.size);
      // Canonical [out, in] order for the index file; GPT-2 stores [in, out].
      const canon =
        site.layout === 'out_in'
          ? stored
          : Float64Array.from({ length: stored.length }, (_, q) => {
              const oo = Math.floor(q / site.inFeatures);
              const ii = q % site.inFeatures;
              return stored[ii * site.outFeatures + oo];
            });
      out.set(site.path, canon);
    }
    return out;
  } finally {
    tp.dispose();
    ps.dispose();
  }
}

/** mask=grad's pre-pass: the top-k |∂L/∂W| entries of each target on a calibration batch. */
export async function calibrateGradMask<S, I>(
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
    sites.map((site) => [sparseKeys(site).indices, topKMask(grads.get(site.path)!, sparseK(o, site))]),
  );
}
