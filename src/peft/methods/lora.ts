// LoRA (and rsLoRA): per target linear W, trainable A [r, in] and B [out, r]; y = Wx + b + s·B(A·drop(x))
// with s = α/r (α/√r with use_rslora). A is kaiming-uniform(a=√5) and B zero, so a fresh adapter is the
// identity. Keys and adapter_config.json as PEFT's LORA (GPT-2: fan_in_fan_out). Merging adds s·BA into
// W in its stored layout.

import type { ModelConfig } from '../../formats/model-config';
import * as op from '../../tensor/ops';
import { loraAddInto } from '../../tensor/ops-peft';
import { hashString, randn, randu } from '../../util/rng';
import { readOptions } from '../options';
import { selectSites, type TargetModules } from '../targets';
import type { OptionSpec, PeftMethod, RawOptions } from '../types';
import { peftKey } from '../types';
import { mergeTarget } from './plain-weight';

export interface LoraOptions {
  r: number;
  loraAlpha: number;
  loraDropout: number;
  targets: TargetModules;
  useRslora: boolean;
  /** true: A kaiming-uniform, B zero; 'gaussian': A normal(0, 1/r), B zero; false: B random too (not identity). */
  init: true | false | 'gaussian';
}

/** PEFT's default targets when none are given (its per-architecture mapping). */
export function defaultLoraTargets(c: ModelConfig): string[] {
  return c.family === 'gpt2' ? ['c_attn'] : ['q_proj', 'v_proj'];
}

export const LORA_OPTIONS = [
  { key: 'r', kind: 'int', default: 8, min: 1, max: 4096, group: 'main', help: 'rank of the update' },
  {
    key: 'lora_alpha',
    kind: 'float',
    default: 8,
    min: 0,
    group: 'main',
    help: 'scale numerator: s = lora_alpha / r',
  },
  {
    key: 'lora_dropout',
    kind: 'float',
    default: 0,
    min: 0,
    max: 0.99,
    group: 'main',
    help: 'dropout on the adapter input',
  },
  {
    key: 'target_modules',
    kind: 'list',
    default: null,
    group: 'main',
    help: 'module names, a regex, or all-linear (default: c_attn / q_proj,v_proj)',
  },
  {
    key: 'use_rslora',
    kind: 'bool',
    default: false,
    group: 'advanced',
    help: 'rank-stabilised scale lora_alpha / sqrt(r)',
  },
  {
    key: 'init_lora_weights',
    kind: 'enum',
    default: 'true',
    choices: ['true', 'false', 'gaussian'],
    saved: { true: true, false: false },
    group: 'advanced',
    help: 'initialisation: true: A kaiming-uniform, B zero; gaussian: A normal(0, 1/r); false: B random too',
  },
] as const satisfies readonly OptionSpec[];

export function parseLora(method: string, raw: RawOptions, c: ModelConfig): LoraOptions {
  const o = readOptions(method, LORA_OPTIONS, raw);
  const targets = o.target_modules ?? defaultLoraTargets(c);
  selectSites(c, targets);
  return {
    r: o.r,
    loraAlpha: o.lora_alpha,
    loraDropout: o.lora_dropout,
    targets,
    useRslora: o.use_rslora,
    init: o.init_lora_weights === 'gaussian' ? 'gaussian' : o.init_lora_weights === 'true',
  };
}

export const loraScale = (o: LoraOptions): number =>
  o.useRslora ? o.loraAlpha / Math.sqrt(o.r) : o.loraAlpha / o.r;

export function loraTensors(o: LoraOptions, c: ModelConfig, seed: number) {
  return selectSites(c, o.targets).flatMap((site) => {
    const a = peftKey(site.path, 'lora_A.weight');
    const b = peftKey(site.path, 'lora_B.weight');
    const nA = o.r * site.inFeatures;
    const nB = site.outFeatures * o.r;
    // kaiming_uniform_(a=√5) on [r, in]: bound = √(6 / ((1 + 5)·fan_in)) = 1/√in.
    const bound = 1 / Math.sqrt(site.inFeatures);
    const dataA =
      o.init === 'gaussian'
        ? Float32Array.from(randn(nA, (seed ^ hashString(a)) >>> 0, 1 / o.r))
        : Float32Array.from(randu(nA, (seed ^ hashString(a)) >>> 0, -bound, bound));
    const boundB = 1 / Math.sqrt(o.r);
    const dataB =
      o.init === false
        ? Float32Array.from(randu(nB, (seed ^ hashString(b)) >>> 0, -boundB, boundB))
        : new Float32Array(nB);
    return [
      { site, name: a, shape: [o.r, site.inFeatures], data: dataA },
      { site, name: b, shape: [site.outFeatures, o.r], data: dataB },
    ];
  });
}

export function loraAdapterConfig(o: LoraOptions, c: ModelConfig, useDora: boolean): Record<string, unknown> {
  return {
    peft_type: 'LORA',
    task_type: 'CAUSAL_LM',
    r: o.r,
    lora_alpha: o.loraAlpha,
    lora_dropout: o.loraDropout,
    target_modules: o.targets,
    fan_in_fan_out: c.family === 'gpt2',
    bias: 'none',
    use_rslora: o.useRslora,
    use_dora: useDora,
    init_lora_weights: o.init,
    modules_to_save: null,
    layers_to_transform: null,
    layers_pattern: null,
    rank_pattern: {},
    alpha_pattern: {},
    inference_mode: true,
  };
}

export const lora: PeftMethod<LoraOptions> = {
  info: {
    name: 'lora',
    label: 'LoRA',
    family: 'reparametrised',
    peftType: 'LORA',
    mergeable: true,
    identityAtInit: true,
    defaultLr: 2e-4,
    options: LORA_OPTIONS,
  },
  parse: (raw, c) => parseLora('lora', raw, c),
  build(o, c, _base, seed) {
    return {
      baseTrainable: () => false,
      added: loraTensors(o, c, seed).map(({ name, shape, data }) => ({ name, shape, data, trainable: true })),
    };
  },
  count: (o, c) => selectSites(c, o.targets).reduce((n, s) => n + o.r * (s.inFeatures + s.outFeatures), 0),
  hooks(o, c, ps) {
    const targeted = new Set(selectSites(c, o.targets).map((s) => s.path));
    const s = loraScale(o);
    let dropoutStream = 0;
    return {
      // LoRA adds s·B(A·x) to whatever base returns: the model may fold its residual into base.
      additiveLinear: true,
      linear(tp, site, x, base) {
        const y = base(x);
        if (!targeted.has(site.path)) return y;
        const A = ps.get(peftKey(site.path, 'lora_A.weight'));
        const B = ps.get(peftKey(site.path, 'lora_B.weight'));
        const xd =
          tp.grad && o.loraDropout > 0
            ? op.dropout(tp, x, o.loraDropout, 0x10a4, dropoutStream++, `${site.path}.lora_dropout`)
            : x;
        return loraAddInto(tp, y, xd, A, B, s, `${site.path}.lora_out`);
      },
    };
  },
  merge(o, c, ps, sign) {
    const s = loraScale(o);
    for (const site of selectSites(c, o.targets)) {
      const W = ps.get(`${site.path}.weight`);
      const A = ps.get(peftKey(site.path, 'lora_A.weight'));
      const B = ps.get(peftKey(site.path, 'lora_B.weight'));
      if (site.layout === 'out_in') {
        ps.be.matmul({
          out: mergeTarget(W),
          a: B.store,
          b: A.store,
          M: site.outFeatures,
          N: site.inFeatures,
          K: o.r,
          alpha: sign * s,
          accumulate: true,
        });
      } else {
        // W stored [in, out]: W += s·(BA)ᵀ = s·Aᵀ·Bᵀ.
        ps.be.matmul({
          out: mergeTarget(W),
          a: A.store,
          b: B.store,
          M: site.inFeatures,
          N: site.outFeatures,
          K: o.r,
          transA: true,
          transB: true,
          alpha: sign * s,
          accumulate: true,
        });
      }
    }
  },
  adapterConfig: (o, c) => loraAdapterConfig(o, c, false),
  testOptions: (_c, nonIdentity) => ({
    r: 4,
    lora_alpha: 8,
    target_modules: 'all-linear',
    init_lora_weights: nonIdentity ? 'false' : 'true',
  }),
};
