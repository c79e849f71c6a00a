// Reading method options from adapter_config.json, `--set key=value` strings or the UI: each getter
// converts and checks one option and names it when the value is wrong, so a bad option never reaches a
// kernel.

import type { OptionSpec, OptionValue, RawOptions } from './types';

export class OptionReader {
  private readonly known: Set<string>;

  constructor(
    private readonly method: string,
    private readonly raw: RawOptions,
    specs: readonly OptionSpec[],
  ) {
    this.known = new Set(specs.map((s) => s.key));
    for (const k of Object.keys(raw)) {
      if (!this.known.has(k)) {
        throw new Error(`${method}: unknown option "${k}" (options: ${[...this.known].join(', ')})`);
      }
    }
  }

  private value(key: string, fallback: OptionValue): OptionValue {
    const v = this.raw[key];
    return v === undefined ? fallback : v;
  }

  private fail(key: string, v: OptionValue, want: string): never {
    throw new Error(`${this.method}: option ${key} = ${JSON.stringify(v)} must be ${want}`);
  }

  int(key: string, fallback: number, min = 0, max = Number.MAX_SAFE_INTEGER): number {
    const v = this.value(key, fallback);
    const n = typeof v === 'string' && v.trim() !== '' ? Number(v) : v;
    if (typeof n !== 'number' || !Number.isInteger(n) || n < min || n > max)
      this.fail(key, v, `an integer in [${min}, ${max}]`);
    return n;
  }

  float(
    key: string,
    fallback: number,
    min = Number.NEGATIVE_INFINITY,
    max = Number.POSITIVE_INFINITY,
  ): number {
    const v = this.value(key, fallback);
    const n = typeof v === 'string' && v.trim() !== '' ? Number(v) : v;
    if (typeof n !== 'number' || !Number.isFinite(n) || n < min || n > max)
      this.fail(key, v, `a number in [${min}, ${max}]`);
    return n;
  }

  bool(key: string, fallback: boolean): boolean {
    const v = this.value(key, fallback);
    if (v === true || v === 'true' || v === 'True' || v === 1 || v === '1') return true;
    if (v === false || v === 'false' || v === 'False' || v === 0 || v === '0') return false;
    return this.fail(key, v, 'true or false');
  }

  choice<T extends string>(key: string, fallback: T, choices: readonly T[]): T {
    const v = this.value(key, fallback);
    if (typeof v !== 'string' || !(choices as readonly string[]).includes(v))
      this.fail(key, v, `one of ${choices.join(', ')}`);
    return v as T;
  }

  string(key: string, fallback: string): string {
    const v = this.value(key, fallback);
    if (typeof v !== 'string') this.fail(key, v, 'text');
    return v;
  }

  /** The raw value (for options with their own parser, like target_modules). */
  raw_(key: string, fallback: OptionValue): OptionValue {
    return this.value(key, fallback);
  }
}
