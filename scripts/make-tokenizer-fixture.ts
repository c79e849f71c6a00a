// Writes test/fixtures/formats/tiny-bpe/{tokenizer.json,tokenizer_config.json}: a hand-made
// byte-level BPE tokenizer (GPT-2 layout) small enough that its ids can be worked out by hand in
// src/formats/tokenizer.test.ts. Ids 0..255 are the 256 bytes (so any UTF-8 text round-trips),
// 256..263 are eight merges, 264..266 are ChatML special tokens. Run:
//   node --import tsx scripts/make-tokenizer-fixture.ts
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * GPT-2's reversible byte → printable character map: printable Latin-1 bytes map to themselves,
 * the other 68 bytes to U+0100 onwards in byte order (so the space 0x20 becomes "Ġ", "\n" "Ċ").
 */
export function byteToUnicode(): string[] {
  const map: string[] = new Array(256);
  const printable = (b: number) =>
    (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff);
  let next = 256;
  for (let b = 0; b < 256; b++) map[b] = String.fromCodePoint(printable(b) ? b : next++);
  return map;
}

// In rank order; each merged token gets the next id after the 256 bytes.
const MERGES: [string, string][] = [
  ['Ġ', 't'], // 256 "Ġt"
  ['h', 'e'], // 257 "he"
  ['Ġt', 'he'], // 258 "Ġthe"
  ['l', 'l'], // 259 "ll"
  ['he', 'll'], // 260 "hell"
  ['hell', 'o'], // 261 "hello"
  ['Ġ', 'w'], // 262 "Ġw"
  ['o', 'r'], // 263 "or"
];

const SPECIAL = ['<|endoftext|>', '<|im_start|>', '<|im_end|>']; // 264, 265, 266

const CHATML =
  "{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n' }}{% endfor %}" +
  "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}";

function main(): void {
  const b2u = byteToUnicode();
  const vocab: Record<string, number> = {};
  b2u.forEach((ch, b) => {
    vocab[ch] = b;
  });
  MERGES.forEach(([a, b], i) => {
    vocab[a + b] = 256 + i;
  });
  const firstSpecial = 256 + MERGES.length;
  const tokenizer = {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: SPECIAL.map((content, i) => ({
      id: firstSpecial + i,
      content,
      single_word: false,
      lstrip: false,
      rstrip: false,
      normalized: false,
      special: true,
    })),
    normalizer: null,
    pre_tokenizer: { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true },
    post_processor: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: false, use_regex: true },
    decoder: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true },
    model: {
      type: 'BPE',
      dropout: null,
      unk_token: null,
      continuing_subword_prefix: '',
      end_of_word_suffix: '',
      fuse_unk: false,
      byte_fallback: false,
      ignore_merges: false,
      vocab,
      merges: MERGES,
    },
  };
  const config = {
    add_prefix_space: false,
    bos_token: '<|endoftext|>',
    eos_token: '<|im_end|>',
    pad_token: '<|endoftext|>',
    unk_token: null,
    clean_up_tokenization_spaces: false,
    model_max_length: 1024,
    tokenizer_class: 'GPT2Tokenizer',
    chat_template: CHATML,
  };
  const root = join(dirname(fileURLToPath(import.meta.url)), '..');
  const dir = join(root, 'test', 'fixtures', 'formats', 'tiny-bpe');
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'tokenizer.json'), `${JSON.stringify(tokenizer, null, 2)}\n`);
  writeFileSync(join(dir, 'tokenizer_config.json'), `${JSON.stringify(config, null, 2)}\n`);
  console.log(`wrote ${dir}`);
}

main();
