// A method applied to a model: plans the parameter specs (base tensors with their trainable flags, plus
// what the method adds), then — once the ParamSet exists — owns the method's hooks, its enabled/merged
// state, and saving and loading the PEFT files (adapter_config.json + adapter_model.safetensors).
// Base values are read only where a method needs them (planAdapterOnBase): DoRA's weight norms, prompt
// tuning's init from the vocabulary, and the base tensors a selective method trains, each read from the
// checkpoint (or the shared base) on demand instead of holding the whole model on the host.

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
import type { Backend } from '../tensor/backend';
import type { FrozenBase } from '../tensor/frozen-base';
import { ParamSet, type ParamSpec } from '../tensor/params';
import { roundTripWeight } from '../util/quant';
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
  /**
   * Base tensors the method read that had no values (null data): they stood as zeros, so the plan is good
   * for predicting memory only. planAdapterOnBase reads them and plans again; training refuses a plan with any.
   */
  unread: string[];
  /** The base model's tensor names (the rest of `specs` is what the method added). */
  baseNames: Set<string>;
}

/** Reads one base tensor's values (the checkpoint, or the shared base on the device). */
export type ReadBase = (name: string) => Promise<ArrayLike<number>>;

/**
 * The base as a method's build sees it. A spec whose values were not read (data null) is served from
 * `fetched`; with `missing` given, an unread tensor is recorded there and stands as zeros (the first of
 * planAdapterOnBase's two passes); otherwise it is refused by name.
 */
export function baseWeightsOf(
  specs: readonly ParamSpec[],
  fetched?: ReadonlyMap<string, ArrayLike<number>>,
  missing?: Set<string>,
): BaseWeights {
  const byName = new Map(specs.map((s) => [s.name, s]));
  const get = (n: string) => {
    const s = byName.get(n);
    if (!s) throw new Error(`no base tensor ${n}`);
    return s;
  };
  // A base held 16-bit or quantized shows its methods the values the GPU holds (DoRA's norms, prompt
  // tuning's vocabulary rows), so a method that starts as the identity does so on that base too.
  const held = (s: ParamSpec, v: ArrayLike<number>): ArrayLike<number> =>
    s.dtype && s.dtype !== 'f32' ? roundTripWeight(v, s.shape, s.dtype, s.layout ?? 'out_in') : v;
  const data = (n: string): ArrayLike<number> => {
    const s = get(n);
    if (s.data) return held(s, s.data);
    const f = fetched?.get(n);
    if (f) return held(s, f);
    if (!missing) throw new Error(`base tensor ${n} was not read (plan with planAdapterOnBase)`);
    missing.add(n);
    return new Float32Array(s.shape.reduce((a, b) => a * b, 1));
  };
  return { names: () => [...byName.keys()], shape: (n) => get(n).shape, data };
}

/** Refuses to train a plan whose method read base tensors that had no values (see AdapterPlan.unread). */
export function checkValuesRead<O>(plan: AdapterPlan<O>): void {
  if (plan.unread.length)
    throw new Error(
      `the plan read base tensors without values (${plan.unread.slice(0, 3).join(', ')}): plan with planAdapterOnBase to train`,
    );
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

/**
 * The plan for options already parsed (e.g. read back from a saved adapter_config.json). Base tensors the
 * method reads that have no values stand as zeros and are listed in `unread` (memory prediction only).
 */
export function planWithOptions<O>(
  method: PeftMethod<O>,
  options: O,
  config: ModelConfig,
  baseSpecs: readonly ParamSpec[],
  seed: number,
  weights?: BaseWeights,
): AdapterPlan<O> {
  const unread = new Set<string>();
  const build = method.build(options, config, weights ?? baseWeightsOf(baseSpecs, undefined, unread), seed);
  const base = baseSpecs.map((s) => ({ ...s, trainable: build.baseTrainable(s.name) }));
  const specs = [...base, ...build.added];
  const saved = specs.filter((s) => s.trainable).map((s) => s.name);
  return {
    options,
    specs,
    ints: build.ints ?? [],
    count: method.count(options, config),
    saved,
    unread: [...unread],
    baseNames: new Set(baseSpecs.map((s) => s.name)),
  };
}

/**
 * planWithOptions on base specs whose values were not read (data null): the method is built once with
 * unread tensors standing as zeros to learn which ones it reads (DoRA's target weights, prompt tuning's
 * embedding), those alone are read, and it is built again with them. Builds are deterministic in the
 * seed, so the second is the plan. Nothing else of the base comes to the host.
 */
export async function planAdapterOnBase<O>(
  method: PeftMethod<O>,
  options: O,
  config: ModelConfig,
  baseSpecs: readonly ParamSpec[],
  read: ReadBase,
  seed: number,
): Promise<AdapterPlan<O>> {
  const first = planWithOptions(method, options, config, baseSpecs, seed);
  if (first.unread.length === 0) return first;
  const fetched = new Map<string, ArrayLike<number>>();
  for (const name of first.unread) fetched.set(name, await read(name));
  return planWithOptions(method, options, config, baseSpecs, seed, baseWeightsOf(baseSpecs, fetched));
}

/**
 * The ParamSet of a plan on a shared frozen base: the plan's frozen base tensors borrowed from `base` (a
 * lease, given back when the set is disposed), the trainable base tensors written with the base's values,
 * `extra` specs (an RL head) added. `wrap` runs the allocations (an arena owner's scope).
 */
export async function paramSetOnBase<S, I, O>(
  be: Backend<S, I>,
  plan: AdapterPlan<O>,
  base: FrozenBase<S, I>,
  extra: readonly ParamSpec[] = [],
  wrap: <T>(f: () => T) => T = (f) => f(),
): Promise<ParamSet<S, I>> {
  checkValuesRead(plan);
  const frozen = plan.specs.filter((s) => !s.trainable && plan.baseNames.has(s.name)).map((s) => s.name);
  const lease = await base.lease(frozen);
  let ps: ParamSet<S, I>;
  try {
    ps = wrap(() => new ParamSet(be, [...plan.specs, ...extra], { base: lease }));
  } catch (e) {
    lease.release();
    throw e;
  }
  try {
    await writeTrainableBase(plan, ps, (n) => base.values(n));
  } catch (e) {
    ps.dispose();
    throw e;
  }
  return ps;
}

/**
 * Writes the base values of the base tensors a plan trains whose values were not read (full, top layers,
 * BitFit), one tensor at a time into the ParamSet's flat buffer.
 */
export async function writeTrainableBase<S, I, O>(
  plan: AdapterPlan<O>,
  ps: ParamSet<S, I>,
  read: ReadBase,
): Promise<void> {
  for (const spec of plan.specs) {
    if (!spec.trainable || spec.data || !plan.baseNames.has(spec.name)) continue;
    ps.write(spec.name, await read(spec.name));
  }
}

/**
 * Refuses, before anything is allocated, a plan that trains a base tensor the base holds 16-bit or
 * quantized: a trained tensor is the run's own f32 copy, and a formatted base cannot give one.
 */
export function checkTrainableDtypes<O>(plan: AdapterPlan<O>, label: string): void {
  const bad = plan.specs.find(
    (s) => s.trainable && plan.baseNames.has(s.name) && (s.dtype ?? 'f32') !== 'f32',
  );
  if (bad)
    throw new Error(
      `${label} trains ${bad.name}, which a ${bad.dtype} base holds as ${bad.dtype}: a trained tensor must be f32. ` +
        'Choose an f32 base (--base-dtype f32) for this method, or a method that leaves the base weights frozen (LoRA, IA3, prompt tuning...).',
    );
}

export class Adapter<S, I, O> {
  readonly state: HookState = { enabled: true, merged: false };
  readonly hooks: ModelHooks<S, I>;
  private readonly ints = new Map<string, { store: I; cpu: Int32Array }>();
  /**
   * Base tensors trained in place: the values the other state (enabled/disabled) has; null until first
   * needed where the plan did not read them (then `readBase` reads them from the checkpoint or base).
   */
  private readonly originals = new Map<string, Float32Array | null>();

  constructor(
    readonly method: PeftMethod<O>,
    readonly plan: AdapterPlan<O>,
    readonly config: ModelConfig,
    readonly ps: ParamSet<S, I>,
    private readonly readBase: ReadBase | null = null,
  ) {
    for (const { name, data } of plan.ints)
      this.ints.set(name, { store: ps.be.uploadInt(data, name), cpu: data });
    for (const spec of plan.specs) {
      if (spec.trainable && plan.baseNames.has(spec.name))
        this.originals.set(spec.name, spec.data ? Float32Array.from(spec.data) : null);
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
      // LoRA's: its linear hook adds to the base product, so o_proj/down_proj fold the residual in (x + a·W,
      // one job of the matmul queue): 8 fewer dispatches per step on the built-in model.
      additiveLinear: inner.additiveLinear,
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
    for (const [name, held] of this.originals) {
      let original = held;
      if (!original) {
        if (!this.readBase) throw new Error(`base values of ${name} were not kept: cannot disable`);
        original = Float32Array.from(await this.readBase(name));
      }
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
    const merge = this.method.merge.bind(this.method);
    // Weights of a shared base are copied for this run before the delta goes in (ParamSet.writing).
    this.ps.writing(() => merge(this.plan.options, this.config, this.ps, 1, this.ints));
    this.state.merged = true;
  }

  unmerge(): void {
    if (!this.state.merged || !this.method.merge) return;
    const merge = this.method.merge.bind(this.method);
    this.ps.writing(() => merge(this.plan.options, this.config, this.ps, -1, this.ints));
    // The private copies go: the shared tensors were never changed, so the base is back exactly.
    this.ps.unprivatize();
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
