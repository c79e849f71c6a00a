// Every registered method's option specs are the single source of its options: each spec is complete and
// its default satisfies its own range; parsing the defaults equals parsing nothing; every spec is read by
// the parser (a value other than the default changes the parsed options); a number outside the range is
// refused naming the method and the option; and every option survives adapter_config.json (written,
// then read back through the specs). Also the generic reader's conversions, and that the picker has a
// group for every method.
import { describe, expect, it } from 'vitest';
import { type ModelConfig, parseModelConfig } from '../formats/model-config';
import { linearSites } from '../model/sites';
import { readAdapterConfig } from './files';
import { defaultOptions, OptionReader, savedOptions } from './options';
import { type AnyMethod, listMethods } from './registry';
import { METHOD_FAMILIES, type MethodContext, type OptionSpec, type OptionValue } from './types';

// Both families, 128 wide so that every method's defaults fit (Compacter's phm_dim 4 divides the
// bottleneck 128 / 32); options are only parsed here, no tensor is made.
const GPT2 = parseModelConfig({
  model_type: 'gpt2',
  vocab_size: 37,
  n_embd: 128,
  n_layer: 2,
  n_head: 2,
  n_positions: 64,
  n_inner: 256,
  layer_norm_epsilon: 1e-5,
  activation_function: 'gelu_new',
});
const QWEN2 = parseModelConfig({
  model_type: 'qwen2',
  vocab_size: 41,
  hidden_size: 128,
  intermediate_size: 192,
  num_hidden_layers: 2,
  num_attention_heads: 4,
  num_key_value_heads: 2,
  max_position_embeddings: 64,
  rms_norm_eps: 1e-6,
  rope_theta: 10000,
  hidden_act: 'silu',
  tie_word_embeddings: false,
});

const CTX: MethodContext = { tokenizer: { encode: () => [1, 2, 3] }, tokenizerName: 'tiny' };
const parsed = (m: AnyMethod, raw: Record<string, OptionValue>, c: ModelConfig) =>
  JSON.stringify(m.parse(raw, c, CTX));

/** Values to try in place of a spec's default, in order (some a method refuses for this model). */
function candidates(s: OptionSpec, c: ModelConfig): OptionValue[] {
  const d = s.default;
  const out: OptionValue[] = [];
  if (s.kind === 'int' || s.kind === 'float') {
    const n = typeof d === 'number' ? d : 1;
    out.push(s.min ?? null, s.max ?? null, n + 1, 2 * n, s.kind === 'float' ? n / 2 : 2, 1, 2);
  } else if (s.kind === 'bool') out.push(!d);
  else if (s.kind === 'enum') out.push(...(s.choices ?? []));
  else if (s.kind === 'string') out.push('x');
  else if (s.kind === 'list') out.push('all-linear', [linearSites(c)[0].module], linearSites(c)[0].module);
  return out.filter((v) => v !== null && JSON.stringify(v) !== JSON.stringify(d));
}

/** The first candidate the method accepts that changes its parsed options, or null. */
function variant(m: AnyMethod, s: OptionSpec, c: ModelConfig): OptionValue | null {
  const base = parsed(m, {}, c);
  for (const v of candidates(s, c)) {
    try {
      if (parsed(m, { [s.key]: v }, c) !== base) return v;
    } catch {
      // refused for this model (e.g. a count above its layers): try the next
    }
  }
  return null;
}

describe('method option specs', () => {
  for (const m of listMethods()) {
    const { name, options } = m.info;

    it(`${name}: specs are complete, plain data, and defaults satisfy their own ranges`, () => {
      expect(JSON.parse(JSON.stringify(m.info))).toEqual(m.info);
      expect(new Set(options.map((s) => s.key)).size).toBe(options.length);
      for (const s of options) {
        const what = `${name}.${s.key}`;
        expect(['main', 'advanced'], what).toContain(s.group);
        expect(s.help.length, what).toBeGreaterThan(0);
        const d = s.default;
        switch (s.kind) {
          case 'int':
          case 'float':
            // A range to refuse outside of: every number has at least one bound.
            expect(s.min !== undefined || s.max !== undefined, `${what} has a range`).toBe(true);
            if (s.min !== undefined && s.max !== undefined) expect(s.min, what).toBeLessThanOrEqual(s.max);
            if (d !== null) {
              expect(typeof d, what).toBe('number');
              if (s.kind === 'int') expect(Number.isInteger(d), what).toBe(true);
              expect(d as number, what).toBeGreaterThanOrEqual(s.min ?? Number.NEGATIVE_INFINITY);
              expect(d as number, what).toBeLessThanOrEqual(s.max ?? Number.POSITIVE_INFINITY);
            }
            break;
          case 'bool':
            expect(typeof d, what).toBe('boolean');
            break;
          case 'enum':
            expect(s.choices?.length, what).toBeGreaterThan(1);
            expect(s.choices, what).toContain(d);
            break;
          case 'string':
            expect(d === null || typeof d === 'string', what).toBe(true);
            break;
          case 'list':
            expect(d === null || typeof d === 'string' || Array.isArray(d), what).toBe(true);
            break;
        }
        if (s.kind !== 'int' && s.kind !== 'float')
          expect(s.min === undefined && s.max === undefined, `${what}: range on a non-number`).toBe(true);
        if (s.kind !== 'enum') expect(s.choices, what).toBeUndefined();
        for (const k of Object.keys(s.saved ?? {})) expect(s.choices, `${what} saved ${k}`).toContain(k);
      }
    });

    for (const c of [GPT2, QWEN2]) {
      it(`${name} on ${c.modelType}: the defaults parse as nothing does, and every spec is read`, () => {
        expect(parsed(m, defaultOptions(options), c)).toBe(parsed(m, {}, c));
        for (const s of options)
          expect(variant(m, s, c), `${name}.${s.key}: no other value changes the parsed options`).not.toBe(
            null,
          );
        expect(() => m.parse({ no_such_option: 1 }, c)).toThrow(
          new RegExp(`^${name}: unknown option "no_such_option"`),
        );
      });

      it(`${name} on ${c.modelType}: numbers outside their range are refused, naming method and option`, () => {
        for (const s of options) {
          if (s.kind !== 'int' && s.kind !== 'float') continue;
          const named = new RegExp(`^${name}: option ${s.key} = `);
          if (s.min !== undefined) expect(() => m.parse({ [s.key]: s.min! - 1 }, c, CTX)).toThrow(named);
          if (s.max !== undefined) expect(() => m.parse({ [s.key]: s.max! + 1 }, c, CTX)).toThrow(named);
          expect(() => m.parse({ [s.key]: 'many' }, c, CTX)).toThrow(named);
          if (s.kind === 'int') expect(() => m.parse({ [s.key]: 1.5 }, c, CTX)).toThrow(named);
        }
      });

      it(`${name} on ${c.modelType}: every option survives adapter_config.json, read back through the specs`, () => {
        const raws = [{}, m.testOptions(c, true), m.testOptions(c, false)];
        for (const s of options) {
          const v = variant(m, s, c);
          if (v !== null) raws.push({ [s.key]: v });
        }
        for (const raw of raws) {
          const file = m.adapterConfig(m.parse(raw, c, CTX), c);
          const json = JSON.parse(JSON.stringify(file)) as Record<string, unknown>;
          const back = readAdapterConfig(m, json, c);
          expect(m.adapterConfig(back, c), JSON.stringify(raw)).toEqual(file);
          // The file states every option (a key left out would read back as the default).
          for (const s of options) expect(Object.keys(json), `${name}.${s.key}`).toContain(s.key);
        }
      });
    }
  }

  it('every method has a group in the picker', () => {
    const families = METHOD_FAMILIES.map((f) => f.key as string);
    for (const m of listMethods()) expect(families, m.info.name).toContain(m.info.family);
    // And every group holds a method (no empty heading on the page).
    for (const f of families)
      expect(
        listMethods().some((m) => m.info.family === f),
        f,
      ).toBe(true);
  });
});

describe('the generic option reader', () => {
  const SPECS = [
    { key: 'n', kind: 'int', default: 3, min: 1, max: 9, group: 'main', help: 'n' },
    { key: 'x', kind: 'float', default: null, min: 0, group: 'main', help: 'x' },
    { key: 'on', kind: 'bool', default: false, group: 'main', help: 'on' },
    {
      key: 'init',
      kind: 'enum',
      default: 'true',
      choices: ['true', 'false', 'gaussian'],
      saved: { true: true, false: false },
      group: 'advanced',
      help: 'init',
    },
    { key: 'mods', kind: 'list', default: null, group: 'main', help: 'mods' },
  ] as const satisfies readonly OptionSpec[];

  it('converts CLI strings, form values and saved values to the kind, with defaults for absent or null', () => {
    const rd = new OptionReader('m', SPECS, { n: '7', x: null, on: 'True', init: false, mods: 'a, b' });
    expect(rd.get('n')).toBe(7);
    expect(rd.get('x')).toBe(null);
    expect(rd.get('on')).toBe(true);
    expect(rd.get('init')).toBe('false');
    expect(rd.get('mods')).toEqual(['a', 'b']);
    const none = new OptionReader('m', SPECS, {});
    expect([none.get('n'), none.get('on'), none.get('init'), none.get('mods')]).toEqual([
      3,
      false,
      'true',
      null,
    ]);
  });

  it('narrows a range by model-derived bounds, never widens it', () => {
    expect(() => new OptionReader('m', SPECS, { n: 5 }).get('n', { max: 4 })).toThrow(
      'm: option n = 5 must be an integer in [1, 4]',
    );
    expect(() => new OptionReader('m', SPECS, { n: 10 }).get('n', { max: 20 })).toThrow(
      'm: option n = 10 must be an integer in [1, 9]',
    );
    expect(() => new OptionReader('m', SPECS, { x: -1 }).get('x')).toThrow(
      'm: option x = -1 must be a number ≥ 0',
    );
    expect(() => new OptionReader('m', SPECS, { init: 'pissa' }).get('init')).toThrow(
      'm: option init = "pissa" must be true, false or gaussian',
    );
    expect(() => new OptionReader('m', SPECS, { mods: '(' }).get('mods')).toThrow(/^m: option mods: /);
  });

  it('reads back only the keys the specs declare from a saved file', () => {
    expect(savedOptions(SPECS, { peft_type: 'LORA', n: 4, init: true, other: [1] })).toEqual({
      n: 4,
      init: true,
    });
  });
});
