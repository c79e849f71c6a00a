// Reading method options: one generic reader driven by the method's OptionSpecs (types.ts), for every
// source — `--set key=value` strings from the CLI, the page's form values, adapter_config.json values. The
// spec is the only place an option's default, range, choices and saved form are written: the reader
// applies them, converts the value to its kind and names the method and the option when a value is
// wrong, so a bad option never reaches a kernel. What a method derives from the model (a null default,
// a bound such as the model's context length) stays in the method, passed to `get` as a narrower bound.

import { parseTargets, type TargetModules } from './targets';
import type { OptionSpec, OptionValue, RawOptions } from './types';

type OrNull<S, T> = S extends { default: null } ? T | null : T;

/** The type a spec's value reads as (null where the default is null: the method derives it). */
export type SpecValue<S extends OptionSpec> = S extends { kind: 'int' | 'float' }
  ? OrNull<S, number>
  : S extends { kind: 'bool' }
    ? boolean
    : S extends { kind: 'enum'; choices: readonly (infer C extends string)[] }
      ? OrNull<S, C>
      : S extends { kind: 'string' }
        ? OrNull<S, string>
        : S extends { kind: 'list' }
          ? OrNull<S, TargetModules>
          : never;

/** A range a method derives from the model (e.g. at most its positions), narrowing the spec's own. */
export interface Bounds {
  min?: number;
  max?: number;
}

const TRUE = new Set<OptionValue>([true, 'true', 'True', 1, '1']);
const FALSE = new Set<OptionValue>([false, 'false', 'False', 0, '0']);

/** Equal values; lists as sets (a saved site list in either order). */
const sameValue = (a: OptionValue, b: unknown): boolean => {
  const norm = (x: unknown) => JSON.stringify(Array.isArray(x) ? [...x].sort() : x);
  return norm(a) === norm(b);
};

/** "a, b or c", for messages. */
const alternatives = (xs: readonly string[]): string =>
  xs.length > 1 ? `${xs.slice(0, -1).join(', ')} or ${xs.at(-1)}` : (xs[0] ?? 'nothing');

/** A spec's range narrowed by the method's model-derived bounds. */
function effectiveRange(spec: Pick<OptionSpec, 'min' | 'max'>, b: Bounds): { min?: number; max?: number } {
  const pick = (x: number | undefined, y: number | undefined, f: (a: number, b: number) => number) =>
    x === undefined ? y : y === undefined ? x : f(x, y);
  return { min: pick(spec.min, b.min, Math.max), max: pick(spec.max, b.max, Math.min) };
}

/** The range as text, for messages. */
function rangeText(min: number | undefined, max: number | undefined): string {
  if (min !== undefined && max !== undefined) return `in [${min}, ${max}]`;
  if (min !== undefined) return `≥ ${min}`;
  if (max !== undefined) return `≤ ${max}`;
  return 'finite';
}

export class OptionReader<T extends readonly OptionSpec[]> {
  private readonly byKey: Map<string, OptionSpec>;

  /** Refuses keys no spec declares, listing the ones that exist. */
  constructor(
    private readonly method: string,
    specs: T,
    private readonly raw: RawOptions,
  ) {
    this.byKey = new Map(specs.map((s) => [s.key, s]));
    for (const k of Object.keys(raw)) {
      if (!this.byKey.has(k)) {
        throw new Error(`${method}: unknown option "${k}" (options: ${[...this.byKey.keys()].join(', ')})`);
      }
    }
  }

  private fail(key: string, v: OptionValue, want: string): never {
    throw new Error(`${this.method}: option ${key} = ${JSON.stringify(v)} must be ${want}`);
  }

  /**
   * The option's value, converted to its kind and checked against its spec (and `bounds`, a range the
   * method derives from the model). Absent or null: the spec's default.
   */
  get<K extends T[number]['key']>(key: K, bounds: Bounds = {}): SpecValue<Extract<T[number], { key: K }>> {
    const spec = this.byKey.get(key);
    if (!spec) throw new Error(`${this.method}: option ${key} has no spec`);
    const given = this.raw[key];
    const v = given === undefined || given === null ? spec.default : given;
    return (v === null ? null : this.convert(spec, v, bounds)) as SpecValue<Extract<T[number], { key: K }>>;
  }

  private convert(spec: OptionSpec, v: Exclude<OptionValue, null>, b: Bounds): OptionValue {
    const { key } = spec;
    switch (spec.kind) {
      case 'int':
      case 'float': {
        const n = typeof v === 'string' && v.trim() !== '' ? Number(v) : v;
        const { min, max } = effectiveRange(spec, b);
        const whole = spec.kind === 'int';
        if (
          typeof n !== 'number' ||
          !Number.isFinite(n) ||
          (whole && !Number.isInteger(n)) ||
          n < (min ?? Number.NEGATIVE_INFINITY) ||
          n > (max ?? Number.POSITIVE_INFINITY)
        )
          this.fail(key, v, `${whole ? 'an integer' : 'a number'} ${rangeText(min, max)}`);
        return n;
      }
      case 'bool':
        if (TRUE.has(v)) return true;
        if (FALSE.has(v)) return false;
        return this.fail(key, v, 'true or false');
      case 'enum': {
        const choices = spec.choices ?? [];
        if (typeof v === 'string' && choices.includes(v)) return v;
        // The saved form of a choice (adapter_config.json's `true` for init_lora_weights "true").
        const saved = Object.entries(spec.saved ?? {}).find(([, s]) => sameValue(s, v));
        if (saved) return saved[0];
        return this.fail(key, v, alternatives(choices));
      }
      case 'string':
        if (typeof v !== 'string') this.fail(key, v, 'text');
        return v;
      case 'list':
        try {
          return parseTargets(v, key) as OptionValue;
        } catch (e) {
          throw new Error(`${this.method}: option ${e instanceof Error ? e.message : e}`);
        }
    }
  }
}

/** Every option at once, each read as `get` reads it. */
export function readOptions<T extends readonly OptionSpec[]>(
  method: string,
  specs: T,
  raw: RawOptions,
): { [S in T[number] as S['key']]: SpecValue<S> } {
  const rd = new OptionReader(method, specs, raw);
  return Object.fromEntries(specs.map((s) => [s.key, rd.get(s.key)])) as unknown as {
    [S in T[number] as S['key']]: SpecValue<S>;
  };
}

/**
 * The options an adapter_config.json states, picked by the method's specs (its other keys — peft_type,
 * fan_in_fan_out, the base model — are the file's, not options). A key the file leaves out takes the
 * spec's default when parsed.
 */
export function savedOptions(specs: readonly OptionSpec[], json: Record<string, unknown>): RawOptions {
  const raw: RawOptions = {};
  for (const s of specs) {
    const v = json[s.key];
    if (v !== undefined) raw[s.key] = v as OptionValue;
  }
  return raw;
}

/** The defaults as raw options (what an untouched form sends; parsing them equals parsing {}). */
export function defaultOptions(specs: readonly OptionSpec[]): RawOptions {
  return Object.fromEntries(specs.map((s) => [s.key, s.default]));
}
