// Bottleneck adapters as the adapters library builds them (Houlsby = double_seq_bn, Pfeiffer = seq_bn,
// Compacter = seq_bn with PHM layers): at a sublayer's output, before the residual add,
// h ← h + U·f(D·h + b_D) + b_U with m = d / reduction_factor hidden units. Shared by houlsby.ts,
// pfeiffer.ts and compacter.ts: options, tensors (PEFT-style keys under base_model.model.<sublayer path>.
// adapter.{down,up}.*), closed-form counts, the sublayer hook and adapter_config.json.
//
// adapter_config.json (PEFT has no such method; this is our format, modelled on the adapters library's
// config dict): {"peft_type": "BOTTLENECK_ADAPTER", "method": "houlsby"|"pfeiffer"|"compacter",
// "library": "adapters", "architecture": "double_seq_bn"|"seq_bn"|"compacter", "task_type": "CAUSAL_LM",
// "reduction_factor", "non_linearity", "sites": ["attn","mlp"], "mh_adapter", "output_adapter",
// "init_weights", and for compacter "phm_layer", "phm_dim", "phm_rank", "phm_bias", "shared_phm_rule",
// "factorized_phm_W", "phm_init_range", "hypercomplex_nonlinearity"}.
//
// Initialisation (docs/METHODS.md): D ~ normal(0, 0.02), U = 0, biases 0, so a fresh adapter is the identity.
// The adapters library's own default init ("bert") draws U from normal(0, 0.02) too; `init_weights=bert`
// gives that. Compacter: rule ~ normal(0, phm_init_range), left/right glorot-uniform, the up projection's
// right factor 0 (identity); `init_weights=glorot` draws it too. (The library's init_W tests
// `if config["hypercomplex_nonlinearity"]` first, so in practice it draws glorot-*normal*; we follow the
// documented glorot-uniform.)

import type { ModelConfig } from '../../formats/model-config';
import type { ActivationKind } from '../../gpu/kernels/activation.wgsl';
import { sublayerSites } from '../../model/sites';
import type { ModelHooks, SublayerSite } from '../../model/transformer';
import * as op from '../../tensor/ops';
import { activation, phmWeight } from '../../tensor/ops-peft';
import type { ParamSet, ParamSpec } from '../../tensor/params';
import type { Tape, Tensor } from '../../tensor/tape';
import { hashString, randn, randu } from '../../util/rng';
import { OptionReader } from '../options';
import type { MethodName, OptionSpec, PeftMethod, RawOptions } from '../types';
import { peftKey } from '../types';

export type Site = 'attn' | 'mlp';
export const NON_LINEARITIES = ['relu', 'swish', 'silu', 'gelu', 'gelu_new'] as const;
export type NonLinearity = (typeof NON_LINEARITIES)[number];

export interface BottleneckOptions {
  reductionFactor: number;
  nonLinearity: NonLinearity;
  sites: Site[];
  init: 'identity' | 'bert' | 'glorot';
  /** Compacter only (null for plain bottleneck adapters). */
  phm: { dim: number; rank: number; initRange: number } | null;
}

interface Flavour {
  name: MethodName;
  label: string;
  architecture: 'double_seq_bn' | 'seq_bn' | 'compacter';
  reductionFactor: number;
  nonLinearity: NonLinearity;
  sites: Site[];
  phm: boolean;
}

/** The sites option's choices and how adapter_config.json writes each (its `sites` list). */
const SITES: Record<'attn' | 'mlp' | 'both', Site[]> = {
  attn: ['attn'],
  mlp: ['mlp'],
  both: ['attn', 'mlp'],
};
const sitesText = (s: readonly Site[]) => (s.length === 2 ? 'both' : s[0]);

const PLAIN_INITS = ['identity', 'bert'] as const;
const PHM_INITS = ['identity', 'glorot'] as const;

const PHM_OPTIONS = [
  {
    key: 'phm_dim',
    kind: 'int',
    default: 4,
    min: 1,
    max: 4096,
    group: 'main',
    help: 'number n of Kronecker summands (divides d and m)',
  },
  {
    key: 'phm_rank',
    kind: 'int',
    default: 1,
    min: 1,
    max: 4096,
    group: 'advanced',
    help: 'rank of each left·right factor',
  },
  {
    key: 'phm_init_range',
    kind: 'float',
    default: 1e-4,
    min: 0,
    group: 'advanced',
    help: 'std of the shared rule at init',
  },
] as const satisfies readonly OptionSpec[];

function optionSpecs(f: Flavour) {
  const specs = [
    {
      key: 'reduction_factor',
      kind: 'float',
      default: f.reductionFactor,
      min: 1e-6,
      group: 'main',
      help: 'hidden size / adapter bottleneck size',
    },
    {
      key: 'non_linearity',
      kind: 'enum',
      default: f.nonLinearity,
      choices: NON_LINEARITIES,
      group: 'main',
      help: 'activation between down and up projections (gelu = exact erf form)',
    },
    {
      key: 'sites',
      kind: 'enum',
      default: sitesText(f.sites),
      choices: Object.keys(SITES) as (keyof typeof SITES)[],
      saved: SITES,
      group: 'main',
      help: 'where adapters sit: after attention, after the MLP, or both',
    },
    {
      key: 'init_weights',
      kind: 'enum',
      default: 'identity',
      choices: f.phm ? PHM_INITS : PLAIN_INITS,
      group: 'advanced',
      help: f.phm
        ? 'identity: up projection right factor 0; glorot: drawn like the others'
        : 'identity: U = 0; bert: U ~ normal(0, 0.02) as the adapters library default',
    },
  ] as const satisfies readonly OptionSpec[];
  return [...specs, ...(f.phm ? PHM_OPTIONS : [])];
}

/** Bottleneck size m for a model width d (the adapters library: d // reduction_factor, at least 1). */
export const bottleneckSize = (o: BottleneckOptions, c: ModelConfig): number =>
  Math.max(1, Math.floor(c.hiddenSize / o.reductionFactor));

function parse(f: Flavour, raw: RawOptions, c: ModelConfig): BottleneckOptions {
  const rd = new OptionReader(f.name, optionSpecs(f), raw);
  const o: BottleneckOptions = {
    reductionFactor: rd.get('reduction_factor'),
    nonLinearity: rd.get('non_linearity'),
    sites: [...SITES[rd.get('sites')]],
    init: rd.get('init_weights'),
    phm: f.phm
      ? { dim: rd.get('phm_dim'), rank: rd.get('phm_rank'), initRange: rd.get('phm_init_range') }
      : null,
  };
  if (o.phm) {
    const m = bottleneckSize(o, c);
    const n = o.phm.dim;
    if (c.hiddenSize % n !== 0 || m % n !== 0)
      throw new Error(
        `${f.name}: phm_dim ${n} must divide the hidden size ${c.hiddenSize} and the bottleneck size ${m} (= ${c.hiddenSize} / reduction_factor ${o.reductionFactor})`,
      );
  }
  return o;
}

/** The sublayer module paths an adapter sits at, in forward order. */
export function sublayerPaths(o: BottleneckOptions, c: ModelConfig): Array<{ path: string; kind: Site }> {
  // sublayerSites lists each block's attention then MLP: keep that order, only the chosen kinds.
  return sublayerSites(c)
    .filter((s) => o.sites.includes(s.kind))
    .map((s) => ({ path: s.path, kind: s.kind }));
}

const key = (path: string, proj: 'down' | 'up', what: string) => peftKey(path, `adapter.${proj}.${what}`);
export const PHM_RULE_KEY = 'base_model.model.phm_rule';

function tensors(o: BottleneckOptions, c: ModelConfig, seed: number): ParamSpec[] {
  const d = c.hiddenSize;
  const m = bottleneckSize(o, c);
  const s = (name: string) => (seed ^ hashString(name)) >>> 0;
  const spec = (name: string, shape: number[], data: Float32Array): ParamSpec => ({
    name,
    shape,
    data,
    trainable: true,
  });
  const out: ParamSpec[] = [];
  if (o.phm) {
    const { dim: n, rank: r } = o.phm;
    const rule = PHM_RULE_KEY;
    out.push(spec(rule, [n, n, n], Float32Array.from(randn(n * n * n, s(rule), o.phm.initRange))));
    // glorot-uniform per slice [a, b] (torch: fan_in = b, fan_out = a): bound √(6 / (a + b)).
    const glorot = (name: string, a: number, b: number) =>
      Float32Array.from(randu(n * a * b, s(name), -Math.sqrt(6 / (a + b)), Math.sqrt(6 / (a + b))));
    for (const { path } of sublayerPaths(o, c)) {
      for (const [proj, inF, outF] of [
        ['down', d, m],
        ['up', m, d],
      ] as const) {
        const P = inF / n;
        const Q = outF / n;
        const lk = key(path, proj, 'phm_left');
        const rk = key(path, proj, 'phm_right');
        out.push(spec(lk, [n, P, r], glorot(lk, P, r)));
        const zeroRight = proj === 'up' && o.init === 'identity';
        out.push(spec(rk, [n, r, Q], zeroRight ? new Float32Array(n * r * Q) : glorot(rk, r, Q)));
        out.push(spec(key(path, proj, 'bias'), [outF], new Float32Array(outF)));
      }
    }
    return out;
  }
  for (const { path } of sublayerPaths(o, c)) {
    const dw = key(path, 'down', 'weight');
    const uw = key(path, 'up', 'weight');
    out.push(spec(dw, [m, d], Float32Array.from(randn(m * d, s(dw), 0.02))));
    out.push(spec(key(path, 'down', 'bias'), [m], new Float32Array(m)));
    out.push(
      spec(
        uw,
        [d, m],
        o.init === 'bert' ? Float32Array.from(randn(d * m, s(uw), 0.02)) : new Float32Array(d * m),
      ),
    );
    out.push(spec(key(path, 'up', 'bias'), [d], new Float32Array(d)));
  }
  return out;
}

function count(o: BottleneckOptions, c: ModelConfig): number {
  const d = c.hiddenSize;
  const m = bottleneckSize(o, c);
  const sites = c.numLayers * o.sites.length;
  if (!o.phm) return sites * (2 * d * m + m + d);
  const { dim: n, rank: r } = o.phm;
  // Per site: down left n·(d/n)·r + right n·r·(m/n) + bias m, up the same with d and m swapped.
  return n * n * n + sites * (2 * r * (d + m) + d + m);
}

function act<S, I>(tp: Tape<S, I>, x: Tensor<S>, f: NonLinearity, name: string): Tensor<S> {
  if (f === 'gelu_new') return op.gelu(tp, x, name);
  const kind: ActivationKind = f === 'relu' ? 'relu' : f === 'gelu' ? 'gelu_erf' : 'silu';
  return activation(tp, x, kind, name);
}

/** The adapter at one sublayer: h + U·f(D·h + b_D) + b_U. Exported for the PyTorch-reference tests. */
export function bottleneckForward<S, I>(
  tp: Tape<S, I>,
  o: BottleneckOptions,
  ps: ParamSet<S, I>,
  path: string,
  h: Tensor<S>,
): Tensor<S> {
  const g = (proj: 'down' | 'up', what: string) => ps.get(key(path, proj, what));
  let down: Tensor<S>;
  let up: Tensor<S>;
  const f = (x: Tensor<S>) => act(tp, x, o.nonLinearity, `${path}.adapter.act`);
  if (o.phm) {
    const rule = ps.get(PHM_RULE_KEY);
    const hd = phmWeight(tp, rule, g('down', 'phm_left'), g('down', 'phm_right'), `${path}.adapter.down.W`);
    down = op.linear(tp, h, hd, g('down', 'bias'), 'in_out', `${path}.adapter.down`);
    const hu = phmWeight(tp, rule, g('up', 'phm_left'), g('up', 'phm_right'), `${path}.adapter.up.W`);
    up = op.linear(tp, f(down), hu, g('up', 'bias'), 'in_out', `${path}.adapter.up`);
  } else {
    down = op.linear(tp, h, g('down', 'weight'), g('down', 'bias'), 'out_in', `${path}.adapter.down`);
    up = op.linear(tp, f(down), g('up', 'weight'), g('up', 'bias'), 'out_in', `${path}.adapter.up`);
  }
  return op.add(tp, h, up, `${path}.adapter.out`);
}

function adapterConfig(f: Flavour, o: BottleneckOptions): Record<string, unknown> {
  const cfg: Record<string, unknown> = {
    peft_type: 'BOTTLENECK_ADAPTER',
    method: f.name,
    library: 'adapters',
    architecture: f.architecture,
    task_type: 'CAUSAL_LM',
    reduction_factor: o.reductionFactor,
    non_linearity: o.nonLinearity,
    sites: o.sites,
    mh_adapter: o.sites.includes('attn'),
    output_adapter: o.sites.includes('mlp'),
    init_weights: o.init,
  };
  if (o.phm) {
    Object.assign(cfg, {
      phm_layer: true,
      phm_dim: o.phm.dim,
      phm_rank: o.phm.rank,
      phm_bias: true,
      shared_phm_rule: true,
      factorized_phm_W: true,
      phm_init_range: o.phm.initRange,
      hypercomplex_nonlinearity: 'glorot-uniform',
    });
  }
  return cfg;
}

export function bottleneckMethod(f: Flavour): PeftMethod<BottleneckOptions> {
  return {
    info: {
      name: f.name,
      label: f.label,
      family: 'additive',
      peftType: null,
      mergeable: false,
      identityAtInit: true,
      defaultLr: 1e-3,
      options: optionSpecs(f),
    },
    parse: (raw, c) => parse(f, raw, c),
    build: (o, c, _base, seed) => ({ baseTrainable: () => false, added: tensors(o, c, seed) }),
    count,
    hooks<S, I>(o: BottleneckOptions, _c: ModelConfig, ps: ParamSet<S, I>): ModelHooks<S, I> {
      const on = new Set(o.sites);
      return {
        sublayer: (tp: Tape<S, I>, site: SublayerSite, h: Tensor<S>) =>
          on.has(site.kind) ? bottleneckForward(tp, o, ps, site.path, h) : h,
      };
    },
    adapterConfig: (o) => adapterConfig(f, o),
    checkAdapterConfig(json) {
      if (json.method !== undefined && json.method !== f.name)
        throw new Error(`adapter_config.json: method "${String(json.method)}" is not ${f.name}`);
    },
    testOptions: (_c, nonIdentity) => ({
      reduction_factor: 4,
      ...(nonIdentity ? { init_weights: f.phm ? 'glorot' : 'bert' } : {}),
      ...(f.phm && nonIdentity ? { phm_init_range: 0.5 } : {}),
    }),
  };
}
