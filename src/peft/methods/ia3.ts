// (IA)³ as PEFT's IA3: one learned vector l per target linear, initialised to ones. On ordinary (attention)
// targets it scales the output, bias included: y ← l ⊙ (Wx + b), l saved [out, 1]; on feed-forward targets
// it scales the input: y ← W(l ⊙ x) + b, l saved [1, in]. Defaults are PEFT's per-model mappings (GPT-2:
// c_attn and mlp.c_proj with mlp.c_proj feed-forward; Llama: k_proj, v_proj, down_proj; Qwen2: q_proj,
// v_proj, down_proj; feed-forward down_proj). A list of feedforward_modules matches a module whose path ends
// with an entry (PEFT's endswith, no dot), a string is a full-match regex. Merging multiplies W's output rows
// (and the bias) or input columns by l; unmerging divides by l + 1e-8 as PEFT does.

import type { ModelConfig } from '../../formats/model-config';
import type { LinearSite } from '../../model/transformer';
import * as op from '../../tensor/ops';
import type { ParamSet } from '../../tensor/params';
import { hashString, randn } from '../../util/rng';
import { readOptions } from '../options';
import { selectSites, type TargetModules } from '../targets';
import type { OptionSpec, PeftMethod, RawOptions } from '../types';
import { peftKey } from '../types';
import { mergeTarget } from './plain-weight';

export interface Ia3Options {
  targets: TargetModules;
  feedforward: TargetModules;
  /** true: ones (identity); false: normal(0, 1) as PEFT's torch.randn. */
  init: boolean;
}

/** PEFT's TRANSFORMERS_MODELS_TO_IA3_TARGET_MODULES_MAPPING for our model types. */
export function defaultIa3Targets(c: ModelConfig): string[] {
  if (c.family === 'gpt2') return ['c_attn', 'mlp.c_proj'];
  return c.modelType === 'qwen2' ? ['q_proj', 'v_proj', 'down_proj'] : ['k_proj', 'v_proj', 'down_proj'];
}

/** PEFT's TRANSFORMERS_MODELS_TO_IA3_FEEDFORWARD_MODULES_MAPPING. */
export function defaultIa3Feedforward(c: ModelConfig): string[] {
  return c.family === 'gpt2' ? ['mlp.c_proj'] : ['down_proj'];
}

/** PEFT's _check_target_module_feedforward: regex full match, or the path ends with an entry. */
export function isFeedforward(site: Pick<LinearSite, 'path'>, ff: TargetModules): boolean {
  if (typeof ff === 'string') return new RegExp(`^(?:${ff})$`).test(site.path);
  return ff.some((k) => site.path.endsWith(k));
}

const IA3_OPTIONS = [
  {
    key: 'target_modules',
    kind: 'list',
    default: null,
    group: 'main',
    help: 'module names, a regex, or all-linear (default: PEFT’s per-model IA3 targets)',
  },
  {
    key: 'feedforward_modules',
    kind: 'list',
    default: null,
    group: 'main',
    help: 'targets whose input is scaled instead of their output (default: mlp.c_proj / down_proj)',
  },
  {
    key: 'init_ia3_weights',
    kind: 'bool',
    default: true,
    group: 'advanced',
    help: 'vectors start at ones (identity)',
  },
] as const satisfies readonly OptionSpec[];

function parseIa3(raw: RawOptions, c: ModelConfig): Ia3Options {
  const o = readOptions('ia3', IA3_OPTIONS, raw);
  const targets = o.target_modules ?? defaultIa3Targets(c);
  selectSites(c, targets);
  const feedforward = o.feedforward_modules ?? defaultIa3Feedforward(c);
  // PEFT's IA3Config: with both given as lists, feed-forward modules must be among the targets.
  if (Array.isArray(targets) && Array.isArray(feedforward)) {
    const missing = feedforward.filter((f) => !targets.includes(f));
    if (missing.length > 0)
      throw new Error(
        `ia3: feedforward_modules ${JSON.stringify(missing)} are not in target_modules ${JSON.stringify(targets)}`,
      );
  }
  return { targets, feedforward, init: o.init_ia3_weights };
}

interface Ia3Site {
  site: LinearSite;
  ff: boolean;
  name: string;
  shape: [number, number];
}

function ia3Sites(o: Ia3Options, c: ModelConfig): Ia3Site[] {
  return selectSites(c, o.targets).map((site) => {
    const ff = isFeedforward(site, o.feedforward);
    return {
      site,
      ff,
      name: peftKey(site.path, 'ia3_l'),
      shape: ff ? [1, site.inFeatures] : [site.outFeatures, 1],
    };
  });
}

export const ia3: PeftMethod<Ia3Options> = {
  info: {
    name: 'ia3',
    label: '(IA)³',
    family: 'ia3',
    peftType: 'IA3',
    mergeable: true,
    identityAtInit: true,
    defaultLr: 1e-2,
    options: IA3_OPTIONS,
  },
  parse: parseIa3,
  build(o, c, _base, seed) {
    return {
      baseTrainable: () => false,
      added: ia3Sites(o, c).map(({ name, shape }) => {
        const n = shape[0] * shape[1];
        const data = o.init
          ? new Float32Array(n).fill(1)
          : Float32Array.from(randn(n, (seed ^ hashString(name)) >>> 0));
        return { name, shape, data, trainable: true };
      }),
    };
  },
  count: (o, c) => ia3Sites(o, c).reduce((n, s) => n + (s.ff ? s.site.inFeatures : s.site.outFeatures), 0),
  hooks(o, c, ps) {
    const bySite = new Map(ia3Sites(o, c).map((s) => [s.site.path, s]));
    return {
      linear(tp, site, x, base) {
        const s = bySite.get(site.path);
        if (!s) return base(x);
        const l = ps.get(s.name);
        if (s.ff) return base(op.mulVec(tp, x, l, `${site.path}.ia3_in`));
        return op.mulVec(tp, base(x), l, `${site.path}.ia3_out`);
      },
    };
  },
  merge<S, I>(o: Ia3Options, c: ModelConfig, ps: ParamSet<S, I>, sign: 1 | -1) {
    const be = ps.be;
    for (const s of ia3Sites(o, c)) {
      const l = ps.get(s.name).store;
      const W = mergeTarget(ps.get(`${s.site.path}.weight`));
      const { inFeatures: nin, outFeatures: nout, layout } = s.site;
      const [rows, cols] = layout === 'out_in' ? [nout, nin] : [nin, nout];
      // Output features are W's rows in [out, in] and its columns in [in, out]; input features the other.
      const perRow = s.ff ? layout === 'in_out' : layout === 'out_in';
      const by = sign === 1 ? { num: l, den: null } : { num: null, den: l, eps: 1e-8 };
      be.scaleLines({ out: W, x: W, rows, cols, perRow, ...by });
      const bias = ps.tensors.get(`${s.site.path}.bias`);
      if (!s.ff && bias)
        be.scaleLines({ out: bias.store, x: bias.store, rows: 1, cols: nout, perRow: false, ...by });
    }
  },
  adapterConfig: (o, c) => ({
    peft_type: 'IA3',
    task_type: 'CAUSAL_LM',
    target_modules: o.targets,
    exclude_modules: null,
    feedforward_modules: o.feedforward,
    fan_in_fan_out: c.family === 'gpt2',
    modules_to_save: null,
    init_ia3_weights: o.init,
    inference_mode: true,
  }),
  testOptions: (c, nonIdentity) => ({
    target_modules: 'all-linear',
    feedforward_modules: c.family === 'gpt2' ? ['c_fc', 'mlp.c_proj'] : ['down_proj', 'o_proj'],
    init_ia3_weights: !nonIdentity,
  }),
};
