// Load the built-in model's tokenizer.json with @huggingface/tokenizers (what the app uses) and
// check that it encodes and decodes the sample strings exactly as the Python trainer (bpe.py) did.
// Usage: node scripts/pretrain/check-tokenizer.mjs [text to show]
import { readFileSync } from 'node:fs';
import { Tokenizer } from '@huggingface/tokenizers';

const dir = new URL('../../public/models/tiny-llama-brown/', import.meta.url);
const tj = JSON.parse(readFileSync(new URL('tokenizer.json', dir), 'utf8'));
const tc = JSON.parse(readFileSync(new URL('tokenizer_config.json', dir), 'utf8'));
const fixture = JSON.parse(
  readFileSync(new URL('../../test/fixtures/builtin-tokenizer-samples.json', import.meta.url), 'utf8'),
);
const tok = new Tokenizer(tj, tc);
let bad = 0;
for (const { text, ids } of fixture.samples) {
  const got = tok.encode(text, { add_special_tokens: false }).ids;
  const back = got.length ? tok.decode(got, { skip_special_tokens: false }) : '';
  const same = JSON.stringify(got) === JSON.stringify(ids);
  if (!same || back !== text) {
    bad++;
    console.log('MISMATCH', JSON.stringify(text), { python: ids, js: got, decoded: back });
  }
}
console.log(`${fixture.samples.length - bad}/${fixture.samples.length} samples identical`);
if (process.argv[2]) {
  const e = tok.encode(process.argv[2], { add_special_tokens: false });
  console.log(e.ids, e.tokens);
}
process.exit(bad ? 1 : 0);
