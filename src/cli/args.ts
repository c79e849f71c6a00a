// Command-line flags: `--name value` pairs (repeatable ones collected), with typed getters whose errors
// name the flag. The common flags are docs/METHODS.md's. A command declares its flags (`declare`), and from then
// on the argument list is parsed strictly by Node's util.parseArgs: an unknown or misspelt flag is an error
// naming it and the nearest known one, a flag missing its value is an error, a stray word is an error, and
// an empty value stays empty (it never becomes "true"). Numbers are checked where read: finite, and within
// the range the common flags allow (a negative learning rate is refused naming --lr).

import { parseArgs } from 'node:util';
import { BASE_DTYPES, type BaseDtype, isBaseDtype } from '../tensor/weight-format';

/** How a flag takes its value: one string, a repeatable string, or a switch (`--x`, `--x true|false`). */
export type FlagKind = 'string' | 'list' | 'switch';
export type FlagSpecs = Readonly<Record<string, FlagKind>>;

/** Ranges of the common numeric flags, checked whenever they are read (inclusive unless `above`). */
interface Range {
  min?: number;
  /** Strict lower bound. */
  above?: number;
  max?: number;
  /** Strict upper bound. */
  below?: number;
}
const RANGES: Readonly<Record<string, Range>> = {
  lr: { above: 0 },
  'weight-decay': { min: 0 },
  'max-grad-norm': { min: 0 },
  'eval-fraction': { min: 0, below: 1 },
  temperature: { min: 0 },
  'top-p': { above: 0, max: 1 },
  'repetition-penalty': { above: 0 },
};

function rangeProblem(v: number, r: Range): string | null {
  if (r.above !== undefined && !(v > r.above)) return `must be greater than ${r.above}`;
  if (r.min !== undefined && !(v >= r.min)) return `must be at least ${r.min}`;
  if (r.below !== undefined && !(v < r.below)) return `must be less than ${r.below}`;
  if (r.max !== undefined && !(v <= r.max)) return `must be at most ${r.max}`;
  return null;
}

/** Edit distance, for "did you mean". */
function distance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++)
      cur[j] = Math.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    prev = cur;
  }
  return prev[b.length];
}

/** The known flag nearest to `name`, when near enough to be a slip. */
export function nearestFlag(name: string, known: readonly string[]): string | null {
  let best: string | null = null;
  let bestD = Number.POSITIVE_INFINITY;
  for (const k of known) {
    const d = distance(name, k);
    if (d < bestD) [best, bestD] = [k, d];
  }
  return best !== null && bestD <= Math.max(2, Math.floor(name.length / 3)) ? best : null;
}

const NEGATIVE_NUMBER = /^-(\d|\.\d)/;

/** The lenient reading before a command declares its flags (main's dispatch reads --algo this way). */
function lenient(argv: readonly string[]): { values: Map<string, string[]>; positional: string[] } {
  const values = new Map<string, string[]>();
  const positional: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (!a.startsWith('--')) {
      positional.push(a);
      continue;
    }
    const eq = a.indexOf('=');
    const name = eq > 0 ? a.slice(2, eq) : a.slice(2);
    const next = argv[i + 1];
    const value =
      eq > 0 ? a.slice(eq + 1) : next !== undefined && !next.startsWith('--') ? argv[++i] : 'true';
    values.set(name, [...(values.get(name) ?? []), value]);
  }
  return { values, positional };
}

export class Args {
  private values: Map<string, string[]>;
  readonly positional: string[];
  private declared: FlagSpecs | null = null;

  constructor(
    private readonly argv: readonly string[],
    flags?: FlagSpecs,
    command?: string,
  ) {
    const l = lenient(argv);
    this.values = l.values;
    this.positional = l.positional;
    if (flags) this.declare(flags, command);
  }

  /**
   * Declares the command's flags and parses the arguments strictly against them (util.parseArgs, strict):
   * throws a sentence naming the first unknown flag (and the nearest known one), missing value or stray word.
   */
  declare(flags: FlagSpecs, command = 'this command'): this {
    const known = Object.keys(flags);
    const args: string[] = [];
    for (let i = 0; i < this.argv.length; i++) {
      const a = this.argv[i];
      if (a === '--') throw new Error(`unexpected "--": ${command} takes no positional arguments`);
      if (!a.startsWith('-') || NEGATIVE_NUMBER.test(a)) {
        throw new Error(
          `unexpected argument "${a}"${i > 0 ? ` after ${this.argv[i - 1]}` : ''}: flags are written --name value`,
        );
      }
      const eq = a.indexOf('=');
      const name = a.startsWith('--') ? (eq > 0 ? a.slice(2, eq) : a.slice(2)) : a.slice(1);
      const kind = flags[name];
      if (kind === undefined || !a.startsWith('--')) {
        const near = nearestFlag(name, known);
        throw new Error(
          `unknown flag ${a.startsWith('--') ? `--${name}` : a} for ${command}` +
            (near ? ` (did you mean --${near}?)` : `; its flags: ${known.map((k) => `--${k}`).join(' ')}`),
        );
      }
      if (eq > 0) {
        args.push(a);
        continue;
      }
      const next = this.argv[i + 1];
      if (kind === 'switch') {
        // `--pack` alone turns it on; `--pack true|false` is still accepted.
        const explicit = next === 'true' || next === 'false';
        args.push(`--${name}=${explicit ? next : 'true'}`);
        if (explicit) i++;
        continue;
      }
      if (next === undefined || (next.startsWith('-') && !NEGATIVE_NUMBER.test(next)))
        throw new Error(
          `--${name} needs a value${next === undefined ? '' : ` (got the flag ${next} instead; a value starting with - is written --${name}=${next})`}`,
        );
      args.push(`--${name}=${next}`);
      i++;
    }
    // Every value is now attached by "=", so parseArgs in strict mode only confirms the names.
    const options = Object.fromEntries(known.map((k) => [k, { type: 'string' as const, multiple: true }]));
    const parsed = parseArgs({ args, options, strict: true, allowPositionals: false });
    this.values = new Map();
    for (const [k, v] of Object.entries(parsed.values)) {
      this.values.set(k, v as string[]);
    }
    this.declared = flags;
    return this;
  }

  /** Whether `declare` has run (commands driven by tests may construct Args without declaring). */
  get strict(): boolean {
    return this.declared !== null;
  }

  str(name: string, fallback?: string): string {
    const v = this.values.get(name)?.at(-1) ?? fallback;
    if (v === undefined) throw new Error(`--${name} is required`);
    return v;
  }

  /** A required path or name: absent or empty is an error naming the flag. */
  nonEmpty(name: string): string {
    const v = this.str(name);
    if (v.trim() === '') throw new Error(`--${name} is empty`);
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
    const v = raw.trim() === '' ? Number.NaN : Number(raw);
    if (!Number.isFinite(v)) throw new Error(`--${name} must be a finite number, got "${raw}"`);
    const range = RANGES[name];
    const problem = range ? rangeProblem(v, range) : null;
    if (problem) throw new Error(`--${name} ${problem}, got ${raw}`);
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

/** What each --base-dtype choice stores, for the refusal's message. */
const BASE_DTYPE_HELP =
  'f32 (4 bytes per weight), f16 or bf16 (2), int8 (1, per-channel scales), nf4 (0.5, QLoRA 4-bit blocks of 64)';

/**
 * `--base-dtype`: how the frozen base is held on the GPU (weight-format.ts), undefined when absent. Anything
 * else is refused with the choices listed.
 */
export function baseDtypeFlag(a: Args): BaseDtype | undefined {
  const v = a.opt('base-dtype');
  if (v === undefined) return undefined;
  if (!isBaseDtype(v))
    throw new Error(`--base-dtype must be one of ${BASE_DTYPES.join(', ')}, got "${v}": ${BASE_DTYPE_HELP}`);
  return v;
}
