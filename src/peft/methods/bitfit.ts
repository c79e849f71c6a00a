// BitFit: only bias vectors train (attention, MLP and norm biases), under the model's own keys. A model
// without biases on a target (Llama's linears; Qwen2's o_proj and MLP) gets a zero-initialised trainable
// bias `<module>.bias` there, applied by the linear hook (y = base(x) + b), so a fresh adapter is the
// identity. target_modules: default every bias the model has (all linear layers' zero biases when it has
// none); a list / regex / "all-linear" picks modules by path as PEFT matches them (norms included by name).
//
// Merge: base biases train in place, so there is nothing to fold. Added biases cannot fold into a weight
// (the input has no constant feature); merging means they *become* model tensors — a merged export writes
// them under the model's own `<module>.bias` keys (with the config's bias flags set), and at run time the
// bias add stays (`hooksWhenMerged`), which is exactly what a model with those biases computes. Merged
// inference therefore costs what the biased model costs, no more.

import { expectedTensorShapes, type ModelConfig } from '../../formats/model-config';
import { linearSites } from '../../model/sites';
import { addBias } from '../../tensor/ops-peft';
import { readOptions } from '../options';
import { matchesTarget, type TargetModules } from '../targets';
import type { OptionSpec, PeftMethod, RawOptions } from '../types';

export interface BitfitOptions {
  /** null: PEFT-style default (every bias the model has, else every linear's zero bias). */
  targets: TargetModules | null;
  /** Base bias tensors that train (model keys). */
  base: string[];
  /** Linear module paths that get a new zero bias. */
  added: Array<{ path: string; size: number }>;
}

const OPTIONS = [
  {
    key: 'target_modules',
    kind: 'list',
    default: null,
    group: 'main',
    help: 'modules whose biases train: names, a regex or all-linear (default: every bias)',
  },
] as const satisfies readonly OptionSpec[];

function resolve(targets: TargetModules | null, c: ModelConfig): BitfitOptions {
  const shapes = expectedTensorShapes(c);
  const baseBiases = [...shapes.keys()].filter((n) => n.endsWith('.bias'));
  const sites = linearSites(c);
  if (targets === null) {
    if (baseBiases.length > 0) return { targets, base: baseBiases, added: [] };
    return { targets, base: [], added: sites.map((s) => ({ path: s.path, size: s.outFeatures })) };
  }
  const base = baseBiases.filter((n) => {
    const path = n.slice(0, -'.bias'.length);
    const isLinear = sites.some((s) => s.path === path);
    return targets === 'all-linear' ? isLinear : matchesTarget({ path }, targets);
  });
  const added = sites
    .filter((s) => !shapes.has(`${s.path}.bias`) && matchesTarget(s, targets))
    .map((s) => ({ path: s.path, size: s.outFeatures }));
  if (base.length + added.length === 0) {
    const modules = [
      ...new Set([...baseBiases.map((n) => n.split('.').at(-2)), ...sites.map((s) => s.module)]),
    ];
    throw new Error(
      `bitfit: target_modules ${JSON.stringify(targets)} matches no bias or linear layer of this ${c.modelType} model (its modules: ${modules.join(', ')})`,
    );
  }
  return { targets, base, added };
}

function parse(raw: RawOptions, c: ModelConfig): BitfitOptions {
  return resolve(readOptions('bitfit', OPTIONS, raw).target_modules, c);
}

export const bitfit: PeftMethod<BitfitOptions> = {
  info: {
    name: 'bitfit',
    label: 'BitFit',
    family: 'selective',
    peftType: null,
    mergeable: true,
    hooksWhenMerged: true,
    identityAtInit: true,
    defaultLr: 1e-3,
    options: OPTIONS,
  },
  parse,
  build(o) {
    const base = new Set(o.base);
    return {
      baseTrainable: (name) => base.has(name),
      added: o.added.map(({ path, size }) => ({
        name: `${path}.bias`,
        shape: [size],
        data: new Float32Array(size),
        trainable: true,
      })),
    };
  },
  count(o, c) {
    const shapes = expectedTensorShapes(c);
    const base = o.base.reduce((n, k) => n + (shapes.get(k) ?? [0])[0], 0);
    return base + o.added.reduce((n, a) => n + a.size, 0);
  },
  hooks(o, _c, ps) {
    if (o.added.length === 0) return {};
    const added = new Set(o.added.map((a) => a.path));
    return {
      linear(tp, site, x, base) {
        const y = base(x);
        return added.has(site.path)
          ? addBias(tp, y, ps.get(`${site.path}.bias`), `${site.path}.bitfit_bias`)
          : y;
      },
    };
  },
  // Nothing to fold: base biases are trained in place and added ones are model tensors (see the header).
  merge: () => undefined,
  adapterConfig: (o) => ({
    peft_type: 'BITFIT',
    task_type: 'CAUSAL_LM',
    target_modules: o.targets,
    bias: 'bitfit',
    /** Modules whose `.bias` is new (zero at init): a loader adds them to a bias-less model. */
    added_biases: o.added.map((a) => a.path),
  }),
  testOptions: (c): RawOptions => (c.family === 'llama' ? { target_modules: 'all-linear' } : {}),
};
