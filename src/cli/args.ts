// Command-line flags: `--name value` pairs (repeatable ones collected), with typed getters whose errors
// name the flag. The common flags are METHODS.md's.

export class Args {
  private readonly values = new Map<string, string[]>();
  readonly positional: string[] = [];

  constructor(argv: readonly string[]) {
    for (let i = 0; i < argv.length; i++) {
      const a = argv[i];
      if (!a.startsWith('--')) {
        this.positional.push(a);
        continue;
      }
      const eq = a.indexOf('=');
      const name = eq > 0 ? a.slice(2, eq) : a.slice(2);
      const value =
        eq > 0 ? a.slice(eq + 1) : argv[i + 1] && !argv[i + 1].startsWith('--') ? argv[++i] : 'true';
      const list = this.values.get(name) ?? [];
      list.push(value);
      this.values.set(name, list);
    }
  }

  str(name: string, fallback?: string): string {
    const v = this.values.get(name)?.at(-1) ?? fallback;
    if (v === undefined) throw new Error(`--${name} is required`);
    return v;
  }

  opt(name: string): string | undefined {
    return this.values.get(name)?.at(-1);
  }

  all(name: string): string[] {
    return this.values.get(name) ?? [];
  }

  num(name: string, fallback?: number): number {
    const raw = this.opt(name);
    if (raw === undefined) {
      if (fallback === undefined) throw new Error(`--${name} is required`);
      return fallback;
    }
    const v = Number(raw);
    if (!Number.isFinite(v)) throw new Error(`--${name} must be a number, got "${raw}"`);
    return v;
  }

  int(name: string, fallback?: number): number {
    const v = this.num(name, fallback);
    if (!Number.isInteger(v) || v < 0) throw new Error(`--${name} must be a non-negative integer, got ${v}`);
    return v;
  }

  /** A number flag that may be absent (undefined: the caller's defaults apply). */
  optNum(name: string): number | undefined {
    return this.opt(name) === undefined ? undefined : this.num(name);
  }

  /** A non-negative integer flag that may be absent. */
  optInt(name: string): number | undefined {
    return this.opt(name) === undefined ? undefined : this.int(name);
  }

  /** A switch: `--name` alone or `--name true` turns it on, `--name false` off; absent: undefined. */
  bool(name: string): boolean | undefined {
    const v = this.opt(name);
    if (v === undefined) return undefined;
    if (v !== 'true' && v !== 'false') throw new Error(`--${name} takes true or false, got "${v}"`);
    return v === 'true';
  }

  /** One of `choices`, or undefined when absent. */
  choice<T extends string>(name: string, choices: readonly T[]): T | undefined {
    const v = this.opt(name);
    if (v === undefined) return undefined;
    if (!(choices as readonly string[]).includes(v))
      throw new Error(`--${name} must be one of ${choices.join(', ')}, got "${v}"`);
    return v as T;
  }

  /** `--set key=value` pairs. */
  sets(): Map<string, string> {
    const m = new Map<string, string>();
    for (const s of this.all('set')) {
      const eq = s.indexOf('=');
      if (eq <= 0) throw new Error(`--set ${s}: expected key=value`);
      m.set(s.slice(0, eq), s.slice(eq + 1));
    }
    return m;
  }
}
