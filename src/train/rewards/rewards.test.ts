// Tests for the reward functions: AFINN sentiment, length, regex, keywords, exact match and the spec parser;
// user JavaScript in a worker_threads worker: scores, a syntax error and a throw reported at the user's line,
// a non-number, and an endless loop stopped by the time limit.
import { describe, expect, it } from 'vitest';
import {
  exactMatchReward,
  keywordsReward,
  lengthScore,
  parseRewardSpec,
  regexReward,
  sentimentScore,
} from './builtin';
import { jsReward } from './js';

describe('built-in rewards', () => {
  it('sentiment: AFINN valences over √words', () => {
    // good = 3, happy = 3; 4 words → 6/2.
    expect(sentimentScore('a good happy day')).toBeCloseTo(3, 12);
    expect(sentimentScore('a terrible day')).toBeLessThan(0);
    expect(sentimentScore('')).toBe(0);
  });

  it('length, regex, keywords, exact match', async () => {
    expect(lengthScore('one two three', 3)).toBe(0);
    expect(lengthScore('one', 2)).toBe(-0.5);
    expect(await regexReward(/\d+/)([{ prompt: '', completion: 'a 1 b 22' }])).toEqual([2]);
    expect(await keywordsReward(['cat', 'dog'])([{ prompt: '', completion: 'The Cat sat' }])).toEqual([0.5]);
    expect(await exactMatchReward([{ prompt: '', completion: ' 42 ', reference: '42' }])).toEqual([1]);
    await expect(exactMatchReward([{ prompt: '', completion: '42' }])).rejects.toThrow(/no reference/);
  });

  it('parses --reward specs and names a bad one', () => {
    expect(parseRewardSpec('length:12')).toEqual({ kind: 'length', target: 12 });
    expect(parseRewardSpec('js:r.js')).toEqual({ kind: 'js', file: 'r.js' });
    expect(() => parseRewardSpec('length:x')).toThrow(/--reward length:x/);
    expect(() => parseRewardSpec('regex:(')).toThrow(/--reward regex:\(/);
    expect(() => parseRewardSpec('nope')).toThrow(/unknown reward/);
  });
});

describe('JavaScript rewards in a worker', () => {
  it('scores a batch', async () => {
    const r = jsReward('function reward({ completion }) {\n  return completion.length;\n}');
    expect(
      await r([
        { prompt: 'p', completion: 'abc' },
        { prompt: 'p', completion: '' },
      ]),
    ).toEqual([3, 0]);
    r.dispose();
  });

  it('reports a throw and a syntax error at the user line', async () => {
    const r = jsReward('const x = 1;\nfunction reward(it) {\n  throw new Error("bad " + it.prompt);\n}', {
      name: 'my.js',
    });
    await expect(r([{ prompt: 'p', completion: '' }])).rejects.toThrow(/^my\.js:3:\d+: bad p \(item 0\)/);
    r.dispose();
    const s = jsReward('function reward() {\n  return 1 +;\n}', { name: 'syn.js' });
    await expect(s([{ prompt: 'p', completion: '' }])).rejects.toThrow(/^syn\.js.*Unexpected token/);
  });

  it('refuses a non-number and stops an endless loop at the time limit', async () => {
    const r = jsReward('function reward() { return "x"; }');
    await expect(r([{ prompt: 'p', completion: '' }])).rejects.toThrow(/not a finite number/);
    r.dispose();
    const loop = jsReward('function reward() { for (;;) {} }', { timeoutMs: 300 });
    await expect(loop([{ prompt: 'p', completion: '' }])).rejects.toThrow(/ran past 300 ms/);
  });
});
