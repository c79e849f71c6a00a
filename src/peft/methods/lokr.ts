// LoKr (PEFT's LOKR): per target linear, ΔW = s·(w1 ⊗ w2) in the [out, in] layout, s = alpha/r. The factor
// sizes come from PEFT's `factorization`: out = a·b and in = c·d with (a, b) = factorization(out, f),
// (c, d) = factorization(in, f); w1 is [a, c], w2 is [b, d]. w2 is a full matrix when r ≥ max(b, d)/2,
// else w2_a [b, r]·w2_b [r, d]; with decompose_both, w1 likewise becomes w1_a [a, r]·w1_b [r, c] when
// r < max(a, c)/2. Init as PEFT: w1 (or w1_a) zero, the rest kaiming-uniform(a=√5), so a fresh adapter is
// the identity. PEFT has no Conv1D LoKr, so on GPT-2 ΔW is still built [out, in] and applied as such
// (docs/METHODS.md); merging adds it into W in W's stored layout.

import type { ModelConfig } from '../../formats/model-config';
import type { LinearSite } from '../../model/transformer';
import type { Backend } from '../../tensor/backend';
import * as op from '../../tensor/ops';
import { kron } from '../../tensor/ops-reparam';
import type { ParamSet } from '../../tensor/params';
import type { Tape, Tensor } from '../../tensor/tape';
import { hashString, randu } from '../../util/rng';
import { readOptions } from '../options';
import { selectSites, type TargetModules } from '../targets';
import type { OptionSpec, PeftMethod, RawOptions } from '../types';
import { peftKey } from '../types';
import { defaultLoraTargets } from './lora';
import { mergeTarget } from './plain-weight';

export interface LokrOptions {
  r: number;
  alpha: number;
  targets: TargetModules;
  decomposeFactor: number;
  decomposeBoth: boolean;
  /** true: PEFT's default (w1 zero); false: all random; 'lycoris': w1 random, w2 (or w2_b) zero. */
  init: true | false | 'lycoris';
}

/**
 * PEFT's `factorization(dimension, factor)` (from LyCORIS): with factor > 0 dividing the dimension,
 * (factor, dimension/factor); otherwise the divisor pair m ≤ n with m nearest √dimension (not above
 * `factor` when given), found by walking divisors upward while m + n shrinks.
 */
export function factorization(dimension: number, factor = -1): [number, number] {
  if (factor > 0 && dimension % factor === 0) return [factor, dimension / factor];
  const limit = factor === -1 ? dimension : factor;
  let m = 1;
  let n = dimension;
  const length = m + n;
  while (m < n) {
    let newM = m + 1;
    while (dimension % newM !== 0) newM++;
    const newN = dimension / newM;
    if (newM + newN > length || newM > limit) break;
    m = newM;
    n = newN;
  }
  return m > n ? [n, m] : [m, n];
}

/** The shapes of one site's LoKr tensors, as PEFT's update_layer decides them. */
export interface LokrShape {
  a: number;
  b: number;
  c: number;
  d: number;
  useW1: boolean;
  useW2: boolean;
}

export function lokrShape(site: Pick<LinearSite, 'inFeatures' | 'outFeatures'>, o: LokrOptions): LokrShape {
  const [c, d] = factorization(site.inFeatures, o.decomposeFactor);
  const [a, b] = factorization(site.outFeatures, o.decomposeFactor);
  return {
    a,
    b,
    c,
    d,
    useW1: !(o.decomposeBoth && o.r < Math.max(a, c) / 2),
    useW2: !(o.r < Math.max(b, d) / 2),
  };
}

const LOKR_OPTIONS = [
  {
    key: 'r',
    kind: 'int',
    default: 8,
    min: 1,
    max: 4096,
    group: 'main',
    help: 'rank of the decomposed factors',
  },
  { key: 'alpha', kind: 'float', default: 8, min: 0, group: 'main', help: 'scale numerator: s = alpha / r' },
  {
    key: 'target_modules',
    kind: 'list',
    default: null,
    group: 'main',
    help: 'module names, a regex, or all-linear (default: c_attn / q_proj,v_proj)',
  },
  {
    key: 'decompose_factor',
    kind: 'int',
    default: -1,
    min: -1,
    max: 1 << 20,
    group: 'advanced',
    help: 'Kronecker factor size (-1: factors near the square root; 0 is refused)',
  },
  {
    key: 'decompose_both',
    kind: 'bool',
    default: false,
    group: 'advanced',
    help: 'low-rank decomposition of w1 too',
  },
  {
    key: 'init_weights',
    kind: 'enum',
    default: 'true',
    choices: ['true', 'false', 'lycoris'],
    saved: { true: true, false: false },
    group: 'advanced',
    help: 'initialisation (true: w1 zero, identity at start; false: all random; lycoris: w2 zero)',
  },
] as const satisfies readonly OptionSpec[];

function parseLokr(raw: RawOptions, c: ModelConfig): LokrOptions {
  const o = readOptions('lokr', LOKR_OPTIONS, raw);
  // PEFT's factorization takes -1 or a positive factor: the one hole in the spec's range.
  if (o.decompose_factor === 0)
    throw new Error('lokr: option decompose_factor = 0 must be -1 or a positive integer');
  const targets = o.target_modules ?? defaultLoraTargets(c);
  selectSites(c, targets);
  return {
    r: o.r,
    alpha: o.alpha,
    targets,
    decomposeFactor: o.decompose_factor,
    decomposeBoth: o.decompose_both,
    init: o.init_weights === 'lycoris' ? 'lycoris' : o.init_weights === 'true',
  };
}

const lokrScale = (o: LokrOptions): number => o.alpha / o.r;

interface LokrTensor {
  name: string;
  shape: [number, number];
  /** zero at init under this option set */
  zero: boolean;
}

/** The tensors of one site, in PEFT's parameter order. */
function siteTensors(site: LinearSite, o: LokrOptions): LokrTensor[] {
  const { a, b, c, d, useW1, useW2 } = lokrShape(site, o);
  const k = (s: string) => peftKey(site.path, s);
  const ly = o.init === 'lycoris';
  const def = o.init === true;
  const out: LokrTensor[] = useW1
    ? [{ name: k('lokr_w1'), shape: [a, c], zero: def }]
    : [
        { name: k('lokr_w1_a'), shape: [a, o.r], zero: def },
        { name: k('lokr_w1_b'), shape: [o.r, c], zero: false },
      ];
  if (useW2) out.push({ name: k('lokr_w2'), shape: [b, d], zero: ly });
  else
    out.push(
      { name: k('lokr_w2_a'), shape: [b, o.r], zero: false },
      { name: k('lokr_w2_b'), shape: [o.r, d], zero: ly },
    );
  return out;
}

/** w1 and w2 of a site on the tape (products of the decomposed factors where decomposed). */
function factors<S, I>(tp: Tape<S, I>, ps: ParamSet<S, I>, site: LinearSite, o: LokrOptions) {
  const sh = lokrShape(site, o);
  const k = (s: string) => peftKey(site.path, s);
  // [rows, r]·[r, cols] as a linear layer: the [r, cols] factor is a weight stored [in, out].
  const prod = (x: string, y: string, name: string): Tensor<S> =>
    op.linear(tp, ps.get(k(x)), ps.get(k(y)), null, 'in_out', `${site.path}.${name}`);
  const w1 = sh.useW1 ? ps.get(k('lokr_w1')) : prod('lokr_w1_a', 'lokr_w1_b', 'lokr_w1');
  const w2 = sh.useW2 ? ps.get(k('lokr_w2')) : prod('lokr_w2_a', 'lokr_w2_b', 'lokr_w2');
  return { w1, w2, sh };
}

/** A decomposed factor x [rows, r]·y [r, cols] into fresh storage (merging). */
function product<S>(
  be: Backend<S, unknown>,
  x: S,
  y: S,
  rows: number,
  r: number,
  cols: number,
  label: string,
) {
  const out = be.alloc(rows * cols, 'workspace', label);
  be.matmul({ out, a: x, b: y, M: rows, N: cols, K: r });
  return out;
}

export const lokr: PeftMethod<LokrOptions> = {
  info: {
    name: 'lokr',
    label: 'LoKr',
    family: 'reparametrised',
    peftType: 'LOKR',
    mergeable: true,
    identityAtInit: true,
    defaultLr: 1e-3,
    options: LOKR_OPTIONS,
  },
  parse: parseLokr,
  build(o, c, _base, seed) {
    const added = selectSites(c, o.targets).flatMap((site) =>
      siteTensors(site, o).map(({ name, shape, zero }) => {
        const n = shape[0] * shape[1];
        // kaiming_uniform_(a=√5) on [rows, cols]: bound = 1/√fan_in = 1/√cols.
        const bound = 1 / Math.sqrt(shape[1]);
        const data = zero
          ? new Float32Array(n)
          : Float32Array.from(randu(n, (seed ^ hashString(name)) >>> 0, -bound, bound));
        return { name, shape, data, trainable: true };
      }),
    );
    return { baseTrainable: () => false, added };
  },
  count: (o, c) =>
    selectSites(c, o.targets).reduce((n, site) => {
      const { a, b, c: ci, d, useW1, useW2 } = lokrShape(site, o);
      return n + (useW1 ? a * ci : o.r * (a + ci)) + (useW2 ? b * d : o.r * (b + d));
    }, 0),
  hooks(o, c, ps) {
    const targeted = new Set(selectSites(c, o.targets).map((s) => s.path));
    const s = lokrScale(o);
    return {
      linear(tp, site, x, base) {
        const y = base(x);
        if (!targeted.has(site.path)) return y;
        const { w1, w2 } = factors(tp, ps, site, o);
        const dw = kron(tp, w1, w2, s, `${site.path}.lokr_delta`);
        const d = op.linear(tp, x, dw, null, 'out_in', `${site.path}.lokr_out`);
        return op.add(tp, y, d, `${site.path}.lokr_result`);
      },
    };
  },
  merge<S, I>(o: LokrOptions, c: ModelConfig, ps: ParamSet<S, I>, sign: 1 | -1) {
    const be = ps.be;
    const s = lokrScale(o);
    for (const site of selectSites(c, o.targets)) {
      const sh = lokrShape(site, o);
      const k = (n: string) => ps.get(peftKey(site.path, n)).store;
      const temps: S[] = [];
      const w1 = sh.useW1
        ? k('lokr_w1')
        : product(be, k('lokr_w1_a'), k('lokr_w1_b'), sh.a, o.r, sh.c, `${site.path}.lokr_w1`);
      const w2 = sh.useW2
        ? k('lokr_w2')
        : product(be, k('lokr_w2_a'), k('lokr_w2_b'), sh.b, o.r, sh.d, `${site.path}.lokr_w2`);
      if (!sh.useW1) temps.push(w1);
      if (!sh.useW2) temps.push(w2);
      be.kron({
        out: mergeTarget(ps.get(`${site.path}.weight`)),
        a: w1,
        b: w2,
        a0: sh.a,
        a1: sh.c,
        b0: sh.b,
        b1: sh.d,
        alpha: sign * s,
        transOut: site.layout === 'in_out',
        accumulate: true,
      });
      for (const t of temps) be.free(t);
    }
  },
  adapterConfig: (o) => ({
    peft_type: 'LOKR',
    task_type: 'CAUSAL_LM',
    r: o.r,
    alpha: o.alpha,
    rank_dropout: 0,
    module_dropout: 0,
    use_effective_conv2d: false,
    decompose_both: o.decomposeBoth,
    decompose_factor: o.decomposeFactor,
    rank_dropout_scale: false,
    target_modules: o.targets,
    exclude_modules: null,
    init_weights: o.init,
    layers_to_transform: null,
    layers_pattern: null,
    rank_pattern: {},
    alpha_pattern: {},
    modules_to_save: null,
    inference_mode: true,
  }),
  checkAdapterConfig(json) {
    for (const k of ['rank_dropout', 'module_dropout'] as const) {
      if (Number(json[k] ?? 0) !== 0)
        throw new Error(`lokr: adapter_config.json ${k} = ${json[k]} is not supported (only 0)`);
    }
    for (const k of ['rank_pattern', 'alpha_pattern'] as const) {
      const v = json[k];
      if (v && typeof v === 'object' && Object.keys(v).length > 0)
        throw new Error(`lokr: adapter_config.json ${k} (per-module ranks/alphas) is not supported`);
    }
  },
  testOptions: (_c, nonIdentity) => ({
    r: 2,
    alpha: 4,
    target_modules: 'all-linear',
    decompose_both: true,
    init_weights: nonIdentity ? 'false' : 'true',
  }),
};
