// Tests for tokenizer.ts on the hand-made byte-level BPE in test/fixtures/formats/tiny-bpe (made by
// scripts/make-tokenizer-fixture.ts): ids 0..255 are bytes, 256..263 the merges
// Ġt, he, Ġthe, ll, hell, hello, Ġw, or (in rank order), 264..266 <|endoftext|>, <|im_start|>,
// <|im_end|>. Expected ids below are worked out by hand from those merges; the expected chat
// renders were checked against Python's Jinja2 with transformers' settings (trim_blocks,
// lstrip_blocks, a raise_exception global).
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { FormatError } from './errors';
import { loadTokenizer } from './tokenizer';

const dir = new URL('../../test/fixtures/formats/tiny-bpe/', import.meta.url);
const TOKENIZER_JSON = readFileSync(new URL('tokenizer.json', dir), 'utf8');
const CONFIG_JSON = readFileSync(new URL('tokenizer_config.json', dir), 'utf8');

const tiny = () => loadTokenizer({ tokenizerJson: TOKENIZER_JSON, tokenizerConfig: CONFIG_JSON });

function formatError(fn: () => unknown, ...parts: string[]): void {
  let err: unknown;
  try {
    fn();
  } catch (e) {
    err = e;
  }
  expect(err).toBeInstanceOf(FormatError);
  for (const p of parts) expect((err as Error).message).toContain(p);
}

describe('TextTokenizer on a hand-made byte-level BPE', () => {
  it('reads the special tokens and the vocabulary size', () => {
    const t = tiny();
    expect(t.vocabSize).toBe(267);
    expect([t.bosId, t.eosId, t.padId]).toEqual([264, 266, 264]);
    expect([t.bosToken, t.eosToken, t.padToken]).toEqual(['<|endoftext|>', '<|im_end|>', '<|endoftext|>']);
    expect(t.tokenToId('Ġthe')).toBe(258);
    expect(t.idToToken(32)).toBe('Ġ');
    expect(t.tokenToId('nope')).toBeNull();
    expect(t.hasChatTemplate).toBe(true);
  });

  it('applies the merges in rank order (hand-computed ids)', () => {
    const t = tiny();
    // "hello" → h e l l o → he l l o → he ll o → hell o → hello; " the" → Ġt h e → Ġt he → Ġthe;
    // " world" → Ġw o r l d → Ġw or l d.
    expect(t.encode('hello the world')).toEqual([261, 258, 262, 263, 108, 100]);
    // "é" is bytes C3 A9; "ll" still merges, "llo" does not exist.
    expect(t.encode('héllo')).toEqual([104, 195, 169, 259, 111]);
    expect(t.encode('\n')).toEqual([10]);
    expect(t.encode('😀')).toEqual([240, 159, 152, 128]);
    expect(t.decode([261, 258, 262, 263, 108, 100])).toBe('hello the world');
    expect(t.decode([195, 169])).toBe('é');
  });

  it('decode(encode(s)) = s for unicode text, whitespace and punctuation', () => {
    const t = tiny();
    for (const s of [
      'Hello, world!',
      'naïve café — 東京 😀 Ωμέγα',
      '  two leading spaces, trailing  ',
      'tabs\tand\nnew\r\nlines',
      'a . b , c ? d !',
      "it's 1234 o'clock",
      'e\u0301 (combining accent) and \u00e9 (precomposed)',
    ]) {
      expect(t.decode(t.encode(s)), s).toBe(s);
    }
    expect(t.encode('')).toEqual([]);
    expect(t.decode([])).toBe('');
  });

  it('recognises special tokens inside text and can skip them on decode', () => {
    const t = tiny();
    const ids = t.encode('<|im_start|>user\nhi<|im_end|>');
    expect(ids).toEqual([265, 117, 115, 101, 114, 10, 104, 105, 266]);
    expect(t.decode(ids)).toBe('<|im_start|>user\nhi<|im_end|>');
    expect(t.decode(ids, { skipSpecialTokens: true })).toBe('user\nhi');
    expect(() => t.decode([267])).toThrow(RangeError);
    expect(() => t.decode([1.5])).toThrow(/1\.5/);
  });

  it('renders the ChatML template and encodes it without extra specials', () => {
    const t = tiny();
    const msgs = [
      { role: 'system', content: 'You are terse.' },
      { role: 'user', content: 'hi' },
      { role: 'assistant', content: 'hello' },
    ];
    expect(t.applyChatTemplate(msgs)).toBe(
      '<|im_start|>system\nYou are terse.<|im_end|>\n<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\nhello<|im_end|>\n',
    );
    const user = [{ role: 'user', content: 'hi' }];
    expect(t.applyChatTemplate(user, { addGenerationPrompt: true })).toBe(
      '<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n',
    );
    expect(t.encodeChat(user, { addGenerationPrompt: true })).toEqual([
      265, 117, 115, 101, 114, 10, 104, 105, 266, 10, 265, 97, 115, 115, 105, 115, 116, 97, 110, 116, 10,
    ]);
  });

  it('passes bos_token/eos_token to a Llama-2-style template and surfaces raise_exception', () => {
    const llamaStyle =
      "{{ bos_token }}{% for message in messages %}{% if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}" +
      "{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}{% endif %}" +
      "{% if message['role'] == 'user' %}{{ '[INST] ' + message['content'] | trim + ' [/INST]' }}" +
      "{% else %}{{ ' ' + message['content'] | trim + ' ' + eos_token }}{% endif %}{% endfor %}";
    const t = loadTokenizer({
      tokenizerJson: TOKENIZER_JSON,
      tokenizerConfig: CONFIG_JSON,
      chatTemplate: llamaStyle,
    });
    const msgs = [
      { role: 'user', content: '  Hello? ' },
      { role: 'assistant', content: 'Hi there.\n' },
      { role: 'user', content: 'ok' },
    ];
    expect(t.applyChatTemplate(msgs)).toBe(
      '<|endoftext|>[INST] Hello? [/INST] Hi there. <|im_end|>[INST] ok [/INST]',
    );
    expect(() => t.applyChatTemplate([{ role: 'assistant', content: 'x' }])).toThrow(
      /tokenizer_config\.json: chat_template failed: .*roles must alternate/,
    );
  });

  it('adds a template post-processor BOS by default, and not in encodeChat', () => {
    const json = JSON.parse(TOKENIZER_JSON);
    json.post_processor = {
      type: 'TemplateProcessing',
      single: [{ SpecialToken: { id: '<|endoftext|>', type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }],
      pair: [{ SpecialToken: { id: '<|endoftext|>', type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }],
      special_tokens: { '<|endoftext|>': { id: '<|endoftext|>', ids: [264], tokens: ['<|endoftext|>'] } },
    };
    const t = loadTokenizer({ tokenizerJson: json, tokenizerConfig: CONFIG_JSON });
    expect(t.encode('hello')).toEqual([264, 261]);
    expect(t.encode('hello', { addSpecialTokens: false })).toEqual([261]);
    expect(t.encodeChat([{ role: 'user', content: 'hi' }])[0]).toBe(265);
  });

  it('falls back to config.json ids without a tokenizer_config.json', () => {
    const t = loadTokenizer({ tokenizerJson: TOKENIZER_JSON }, { bosTokenId: 264, eosTokenIds: [264, 266] });
    expect([t.bosId, t.eosId, t.padId]).toEqual([264, 264, null]);
    expect(t.hasChatTemplate).toBe(false);
    formatError(
      () => t.applyChatTemplate([{ role: 'user', content: 'x' }]),
      'tokenizer_config.json',
      'no chat_template',
    );
  });

  it('refuses malformed files with the file named', () => {
    const broken = TOKENIZER_JSON.replace('"model": {', '"model": {,');
    formatError(() => loadTokenizer({ tokenizerJson: broken }), 'tokenizer.json', 'invalid JSON at line');
    formatError(
      () => loadTokenizer({ tokenizerJson: '{"version": "1.0"}', tokenizerFile: 'm/tokenizer.json' }),
      'm/tokenizer.json',
      '"model"',
    );
    const noMerges = JSON.parse(TOKENIZER_JSON);
    noMerges.model.merges = 'h e';
    formatError(() => loadTokenizer({ tokenizerJson: noMerges }), 'tokenizer.json', 'merges');
    const badType = JSON.parse(TOKENIZER_JSON);
    badType.model.type = 'Nonsense';
    badType.model.vocab = undefined;
    formatError(
      () => loadTokenizer({ tokenizerJson: badType }),
      'tokenizer.json',
      'cannot be loaded',
      'Nonsense',
    );
    formatError(
      () => loadTokenizer({ tokenizerJson: TOKENIZER_JSON, tokenizerConfig: { eos_token: '</s>' } }),
      'tokenizer_config.json',
      'eos_token "</s>"',
    );
    formatError(
      () => loadTokenizer({ tokenizerJson: TOKENIZER_JSON, tokenizerConfig: '{"chat_template": 3' }),
      'tokenizer_config.json',
      'invalid JSON',
    );
    const badTemplate = loadTokenizer({
      tokenizerJson: TOKENIZER_JSON,
      chatTemplate: '{% for m in messages %}',
    });
    formatError(
      () => badTemplate.applyChatTemplate([]),
      'tokenizer_config.json',
      'chat_template does not parse',
    );
  });

  it('accepts AddedToken-object specials and named chat templates', () => {
    const t = loadTokenizer({
      tokenizerJson: TOKENIZER_JSON,
      tokenizerConfig: {
        eos_token: { __type: 'AddedToken', content: '<|im_end|>', special: true },
        chat_template: [
          { name: 'tool_use', template: 'tools' },
          { name: 'default', template: '{{ messages[0].content }}{{ eos_token }}' },
        ],
      },
    });
    expect(t.eosId).toBe(266);
    expect(t.applyChatTemplate([{ role: 'user', content: 'x' }])).toBe('x<|im_end|>');
  });
});
