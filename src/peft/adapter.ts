// A method applied to a model: plans the parameter specs (base tensors with their trainable flags, plus
// what the method adds), then — once the ParamSet exists — owns the method's hooks, its enabled/merged
// state, and saving and loading the PEFT files (adapter_config.json + adapter_model.safetensors).

import type { ModelConfig } from '../formats/model-config';
import {
  parseSafetensors,
  type SafetensorsHeader,
  type TensorToWrite,
  toFloat32,
  toInt32,
  writeSafetensors,
} from '../formats/safetensors';
import type { ModelHooks } from '../model/transformer';
import type { ParamSet, ParamSpec } from '../tensor/params';
import type { BaseWeights, HookState, MethodContext, PeftMethod, RawOptions } from './types';

export interface AdapterPlan<O> {
  options: O;
  /** Base specs with trainable flags set, then the method's added tensors. */
  specs: ParamSpec[];
  ints: Array<{ name: string; data: Int32Array }>;
  /** Closed-form trainable count (checked against the ParamSet in tests). */
  count: number;
  /** Names of the tensors a save writes (trainable ones, by their PEFT or model keys). */
  saved: string[];
  /** The base model's tensor names (the rest of `specs` is what the method added). */
  baseNames: Set<string>;
}

export function baseWeightsOf(specs: readonly ParamSpec[]): BaseWeights {
  const byName = new Map(specs.map((s) => [s.name, s]));
  const get = (n: string) => {
    const s = byName.get(n);
    if (!s) throw new Error(`no base tensor ${n}`);
    return s;
  };
  return { names: () => [...byName.keys()], shape: (n) => get(n).shape, data: (n) => get(n).data };
}

export function planAdapter<O>(
  method: PeftMethod<O>,
  raw: RawOptions,
  config: ModelConfig,
  baseSpecs: readonly ParamSpec[],
  seed: number,
  ctx?: MethodContext,
): AdapterPlan<O> {
  return planWithOptions(method, method.parse(raw, config, ctx), config, baseSpecs, seed);
}

/** The plan for options already parsed (e.g. read back from a saved adapter_config.json). */
export function planWithOptions<O>(
  method: PeftMethod<O>,
  options: O,
  config: ModelConfig,
  baseSpecs: readonly ParamSpec[],
  seed: number,
): AdapterPlan<O> {
  const build = method.build(options, config, baseWeightsOf(baseSpecs), seed);
  const base = baseSpecs.map((s) => ({ ...s, trainable: build.baseTrainable(s.name) }));
  const specs = [...base, ...build.added];
  const saved = specs.filter((s) => s.trainable).map((s) => s.name);
  return {
    options,
    specs,
    ints: build.ints ?? [],
    count: method.count(options, config),
    saved,
    baseNames: new Set(baseSpecs.map((s) => s.name)),
  };
}

export class Adapter<S, I, O> {
  readonly state: HookState = { enabled: true, merged: false };
  readonly hooks: ModelHooks<S, I>;
  private readonly ints = new Map<string, { store: I; cpu: Int32Array }>();
  /** Base tensors trained in place: the values the other state (enabled/disabled) has. */
  private readonly originals = new Map<string, Float32Array>();

  constructor(
    readonly method: PeftMethod<O>,
    readonly plan: AdapterPlan<O>,
    readonly config: ModelConfig,
    readonly ps: ParamSet<S, I>,
  ) {
    for (const { name, data } of plan.ints)
      this.ints.set(name, { store: ps.be.uploadInt(data, name), cpu: data });
    for (const spec of plan.specs) {
      if (spec.trainable && plan.baseNames.has(spec.name))
        this.originals.set(spec.name, Float32Array.from(spec.data));
    }
    const inner = method.hooks(plan.options, config, ps, this.state, this.ints);
    // Disabled or merged: the base model runs untouched (PEFT's disable_adapter / merged inference).
    const on = () => this.state.enabled && (!this.state.merged || method.info.hooksWhenMerged === true);
    this.hooks = {
      linear: inner.linear && ((tp, site, x, base) => (on() ? inner.linear!(tp, site, x, base) : base(x))),
      sublayer: inner.sublayer && ((tp, site, h) => (on() ? inner.sublayer!(tp, site, h) : h)),
      prefix: inner.prefix && ((tp, layer) => (on() ? inner.prefix!(tp, layer) : null)),
      virtualTokens: inner.virtualTokens && ((tp) => (on() ? inner.virtualTokens!(tp) : null)),
      positionOffset: inner.positionOffset && (() => (on() ? inner.positionOffset!() : 0)),
    };
  }

  get options(): O {
    return this.plan.options;
  }

  /**
   * Turns the method off (base model) or back on. Hooks switch by flag; base tensors a selective method
   * trains in place (full, top_layers, bitfit) are swapped with host copies of their original values, kept
   * from planning time, so disabling any method restores the base exactly.
   */
  async setEnabled(enabled: boolean): Promise<void> {
    if (enabled === this.state.enabled) return;
    if (this.state.merged) throw new Error('unmerge the adapter before disabling it');
    for (const [name, original] of this.originals) {
      const current = Float32Array.from(await this.ps.read(name));
      this.ps.write(name, original);
      this.originals.set(name, current);
    }
    this.state.enabled = enabled;
  }

  merge(): void {
    if (!this.method.merge)
      throw new Error(`${this.method.info.label} cannot be merged into the base weights`);
    if (this.state.merged) return;
    this.method.merge(this.plan.options, this.config, this.ps, 1, this.ints);
    this.state.merged = true;
  }

  unmerge(): void {
    if (!this.state.merged || !this.method.merge) return;
    this.method.merge(this.plan.options, this.config, this.ps, -1, this.ints);
    this.state.merged = false;
  }

  /** adapter_config.json and the tensors as PEFT saves them. */
  async save(
    baseModel = '',
  ): Promise<{ config: Record<string, unknown>; files: { config: string; weights: Uint8Array } }> {
    const config = {
      ...this.method.adapterConfig(this.plan.options, this.config),
      base_model_name_or_path: baseModel,
    };
    const tensors = new Map<string, TensorToWrite>();
    // A method may save a computed form instead (prefix tuning's MLP: the table it computes, as PEFT does).
    const exported = await this.method.exportTensors?.(this.plan.options, this.config, this.ps);
    if (exported) for (const [name, t] of exported) tensors.set(name, { dtype: 'F32', ...t });
    for (const name of exported ? [] : this.plan.saved) {
      const t = this.ps.get(name);
      tensors.set(name, { dtype: 'F32', shape: t.shape, data: Float32Array.from(await this.ps.read(name)) });
    }
    for (const [name, v] of this.ints)
      tensors.set(name, { dtype: 'I32', shape: [v.cpu.length], data: v.cpu });
    return {
      config,
      files: { config: `${JSON.stringify(config, null, 2)}\n`, weights: writeSafetensors(tensors) },
    };
  }

  /** Loads trained values from adapter_model.safetensors into this adapter (same options). */
  load(weights: Uint8Array, file = 'adapter_model.safetensors'): void {
    const why = this.method.loadError?.(this.plan.options);
    if (why) throw new Error(`${file}: ${why}`);
    const h: SafetensorsHeader = parseSafetensors(weights, file);
    for (const name of this.plan.saved) {
      const info = h.tensors.get(name);
      if (!info) throw new Error(`${file}: missing tensor "${name}"`);
      const shape = this.ps.get(name).shape;
      if (info.shape.length !== shape.length || info.shape.some((d, i) => d !== shape[i])) {
        throw new Error(
          `${file}: tensor "${name}" has shape [${info.shape}], this adapter expects [${shape}]`,
        );
      }
      const bytes = weights.subarray(h.dataStart + info.begin, h.dataStart + info.end);
      this.ps.write(name, toFloat32(bytes, info.dtype, file, name));
    }
    for (const [name, v] of this.ints) {
      const info = h.tensors.get(name);
      if (!info) throw new Error(`${file}: missing tensor "${name}"`);
      const got = toInt32(
        weights.subarray(h.dataStart + info.begin, h.dataStart + info.end),
        info.dtype,
        file,
        name,
      );
      if (got.length !== v.cpu.length || got.some((x, i) => x !== v.cpu[i])) {
        throw new Error(
          `${file}: "${name}" differs from this adapter's fixed indices (rebuild it from the file's options)`,
        );
      }
    }
  }

  dispose(): void {
    for (const v of this.ints.values()) this.ps.be.freeInt(v.store);
    this.ints.clear();
  }
}
