// DoRA (weight-decomposed LoRA) as PEFT implements it: LoRA's A [r, in], B [out, r] plus a magnitude vector
// m [out] per target. Forward (PEFT's DoraLinearLayer): with n = ‖W + s·BA‖ per output row, computed on the
// device each pass and detached from the graph,
//   y = Wx + b + (m/n − 1)·Wx + (m/n)·s·BAx  =  (m/n)·(Wx + s·BAx) + b.
// m starts at ‖W + s·BA‖ (so a fresh adapter with B = 0 is the identity). With dropout PEFT recomputes Wx on
// the dropped input, which we follow. Saved as LORA with use_dora: true; the magnitude key is
// `lora_magnitude_vector` (PEFT strips the ".weight" its DoraLinearLayer module adds). Merging writes
// W ← (m/n)·(W + s·BA) with n from the unmerged weights, kept until unmerge divides it back out.

import type { ModelConfig } from '../../formats/model-config';
import type { LinearSite } from '../../model/transformer';
import type { Backend } from '../../tensor/backend';
import * as op from '../../tensor/ops';
import { addBias } from '../../tensor/ops-peft';
import { divConst } from '../../tensor/ops-reparam';
import type { ParamSet } from '../../tensor/params';
import type { Tape, Tensor } from '../../tensor/tape';
import { selectSites } from '../targets';
import type { PeftMethod } from '../types';
import { peftKey } from '../types';
import { LORA_OPTIONS, type LoraOptions, loraAdapterConfig, loraScale, loraTensors, parseLora } from './lora';
import { mergeTarget } from './plain-weight';

export const doraMagnitudeKey = (site: Pick<LinearSite, 'path'>): string =>
  peftKey(site.path, 'lora_magnitude_vector');

/** ‖W + s·BA‖ per output row in float64, from host data (W in its stored layout). */
export function doraNormsHost(
  site: LinearSite,
  W: ArrayLike<number>,
  A: ArrayLike<number>,
  B: ArrayLike<number>,
  r: number,
  s: number,
): Float64Array {
  const { inFeatures: nin, outFeatures: nout } = site;
  const out = new Float64Array(nout);
  for (let o = 0; o < nout; o++) {
    let sum = 0;
    for (let i = 0; i < nin; i++) {
      let ba = 0;
      for (let k = 0; k < r; k++) ba += B[o * r + k] * A[k * nin + i];
      const w = site.layout === 'out_in' ? W[o * nin + i] : W[i * nout + o];
      const v = w + s * ba;
      sum += v * v;
    }
    out[o] = Math.sqrt(sum);
  }
  return out;
}

/** Adds sign·s·BA into a weight in its stored layout (LoRA's merge step). */
function addDelta<S>(be: Backend<S, unknown>, site: LinearSite, W: S, A: S, B: S, r: number, alpha: number) {
  if (site.layout === 'out_in') {
    be.matmul({ out: W, a: B, b: A, M: site.outFeatures, N: site.inFeatures, K: r, alpha, accumulate: true });
  } else {
    be.matmul({
      out: W,
      a: A,
      b: B,
      M: site.inFeatures,
      N: site.outFeatures,
      K: r,
      transA: true,
      transB: true,
      alpha,
      accumulate: true,
    });
  }
}

/** Output rows of W are its rows in [out, in] (nn.Linear) and its columns in [in, out] (GPT-2 Conv1D). */
const lineArgs = (site: LinearSite) =>
  site.layout === 'out_in'
    ? { rows: site.outFeatures, cols: site.inFeatures, perRow: true }
    : { rows: site.inFeatures, cols: site.outFeatures, perRow: false };

/** n = ‖W + s·BA‖ per output row, on the device, as a tensor without gradient. */
function weightNorm<S, I>(
  tp: Tape<S, I>,
  site: LinearSite,
  W: Tensor<S>,
  A: Tensor<S>,
  B: Tensor<S>,
  r: number,
  s: number,
): Tensor<S> {
  const be = tp.be;
  const norm = tp.tensor([site.outFeatures], false, `${site.path}.dora_norm`);
  const tmp = be.alloc(W.size, 'workspace', `${site.path}.dora_weight`);
  // A 16-bit or quantized base is widened to the values it stores (the same W the forward's matmul reads).
  if (W.format) be.dequant({ out: tmp, values: W.store, format: W.format, shape: W.shape });
  else be.scale({ out: tmp, x: W.store, n: W.size, alpha: 1 });
  addDelta(be, site, tmp, A.store, B.store, r, s);
  be.lineNorms({ out: norm.store, x: tmp, ...lineArgs(site) });
  be.free(tmp);
  return norm;
}

// The norms of the unmerged weights, per merged ParamSet: unmerging needs them (PEFT caches them too).
const mergedNorms = new WeakMap<object, Map<string, unknown>>();

export const dora: PeftMethod<LoraOptions> = {
  info: {
    name: 'dora',
    label: 'DoRA',
    family: 'reparametrised',
    peftType: 'LORA',
    mergeable: true,
    identityAtInit: true,
    defaultLr: 2e-4,
    options: LORA_OPTIONS,
  },
  parse: (raw, c) => parseLora('dora', raw, c),
  build(o, c, base, seed) {
    const s = loraScale(o);
    const lora = loraTensors(o, c, seed);
    const added = lora.map(({ name, shape, data }) => ({ name, shape, data, trainable: true }));
    for (let k = 0; k < lora.length; k += 2) {
      const site = lora[k].site;
      const m = doraNormsHost(site, base.data(`${site.path}.weight`), lora[k].data, lora[k + 1].data, o.r, s);
      added.push({
        name: doraMagnitudeKey(site),
        shape: [site.outFeatures],
        data: Float32Array.from(m),
        trainable: true,
      });
    }
    return { baseTrainable: () => false, added };
  },
  count: (o, c) =>
    selectSites(c, o.targets).reduce((n, s) => n + o.r * (s.inFeatures + s.outFeatures) + s.outFeatures, 0),
  hooks(o, c, ps) {
    const targeted = new Set(selectSites(c, o.targets).map((s) => s.path));
    const s = loraScale(o);
    let dropoutStream = 0;
    return {
      linear(tp, site, x, base) {
        if (!targeted.has(site.path)) return base(x);
        const W = ps.get(`${site.path}.weight`);
        const bias = ps.tensors.get(`${site.path}.bias`) ?? null;
        const A = ps.get(peftKey(site.path, 'lora_A.weight'));
        const B = ps.get(peftKey(site.path, 'lora_B.weight'));
        const m = ps.get(doraMagnitudeKey(site));
        const f = divConst(tp, m, weightNorm(tp, site, W, A, B, o.r, s), `${site.path}.dora_scale`);
        const dropped = tp.grad && o.loraDropout > 0;
        const xd = dropped
          ? op.dropout(tp, x, o.loraDropout, 0xd0a4, dropoutStream++, `${site.path}.lora_dropout`)
          : x;
        const wx = op.linear(tp, xd, W, null, site.layout, `${site.path}.dora_base`);
        const ba = op.linear(
          tp,
          op.linear(tp, xd, A, null, 'out_in', `${site.path}.lora_A`),
          B,
          null,
          'out_in',
          `${site.path}.lora_B`,
        );
        const z = op.add(tp, wx, op.scale(tp, ba, s, `${site.path}.lora_scale`), `${site.path}.dora_sum`);
        const scaled = op.mulVec(tp, z, f, `${site.path}.dora_out`);
        if (!dropped) {
          // (m/n)·(Wx + s·BAx) + b: PEFT's sum with the base result, without computing Wx twice.
          return bias ? addBias(tp, scaled, bias, `${site.path}.bias`) : scaled;
        }
        // PEFT with dropout: base(x) + (m/n)·(W·xd + s·BA·xd) − W·xd.
        const y = base(x);
        return op.add(
          tp,
          y,
          op.add(tp, scaled, op.scale(tp, wx, -1, `${site.path}.dora_neg`), `${site.path}.dora_delta`),
          `${site.path}.dora_result`,
        );
      },
    };
  },
  merge<S, I>(o: LoraOptions, c: ModelConfig, ps: ParamSet<S, I>, sign: 1 | -1) {
    const s = loraScale(o);
    const be = ps.be;
    let norms = mergedNorms.get(ps) as Map<string, S> | undefined;
    if (sign === 1) {
      norms = new Map();
      mergedNorms.set(ps, norms);
    } else if (!norms) {
      throw new Error('DoRA: unmerge without a merge (the unmerged weight norms are not known)');
    }
    for (const site of selectSites(c, o.targets)) {
      const W = mergeTarget(ps.get(`${site.path}.weight`));
      const A = ps.get(peftKey(site.path, 'lora_A.weight')).store;
      const B = ps.get(peftKey(site.path, 'lora_B.weight')).store;
      const m = ps.get(doraMagnitudeKey(site)).store;
      const la = lineArgs(site);
      if (sign === 1) {
        // W ← (m/n)·(W + s·BA), n = ‖W + s·BA‖ of the unmerged weight.
        addDelta(be, site, W, A, B, o.r, s);
        const n = be.alloc(site.outFeatures, 'frozen', `${site.path}.dora_merged_norm`);
        be.lineNorms({ out: n, x: W, ...la });
        be.scaleLines({ out: W, x: W, ...la, num: m, den: n });
        norms.set(site.path, n);
      } else {
        // W ← W·(n/m) − s·BA.
        const n = norms.get(site.path)!;
        be.scaleLines({ out: W, x: W, ...la, num: n, den: m });
        addDelta(be, site, W, A, B, o.r, -s);
        be.free(n);
      }
    }
    if (sign === -1) mergedNorms.delete(ps);
  },
  adapterConfig: (o, c) => loraAdapterConfig(o, c, true),
  checkAdapterConfig(json) {
    if (json.use_dora !== true)
      throw new Error('dora: adapter_config.json is a LORA config without use_dora: true (load it as lora)');
  },
  testOptions: (_c, nonIdentity) => ({
    r: 4,
    lora_alpha: 8,
    target_modules: 'all-linear',
    init_lora_weights: nonIdentity ? 'false' : 'true',
  }),
};
