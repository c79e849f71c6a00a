// `npm run cli -- generate`: text from a model folder through the engine's KV-cache generation
// (src/model/generate.ts) on Dawn. One prompt streams its continuation to stdout as it is produced; several
// (--prompt repeated, one batch) or --json print one JSON line per prompt. Timing goes to stderr as one JSON
// line, so stdout holds only the text. Loading, sampling and stopping are the engine's; this file maps flags.
// With --adapter DIR the model generates with that saved adapter (adapter-dir.ts).

import { gpuDecodeAccel } from '../gpu/decode-accel';
import { formatBytes } from '../gpu/errors';
import { acquireNodeGpu } from '../gpu/node';
import { generate } from '../model/generate';
import { checkModelFits, checkpointBaseSource } from '../model/load';
import { FrozenBase } from '../tensor/frozen-base';
import { gpuBackend } from '../tensor/gpu-backend';
import { dataTokenizer, specialIds } from '../train/tokenizer-adapter';
import { loadWithAdapterOnBase } from './adapter-dir';
import { type Args, baseDtypeFlag, type FlagSpecs } from './args';
import { nodeBudget, openModelDir } from './model-dir';

export const GENERATE_USAGE = `  generate --model DIR --prompt TEXT [--prompt TEXT ...] [--adapter DIR] [--max-new-tokens N] [--temperature X]
        [--top-k K] [--top-p P] [--repetition-penalty X] [--seed S] [--stop STR ...] [--chat] [--json]
        [--base-dtype f32|f16|bf16|int8|nf4]
        greedy unless --temperature > 0; one prompt streams to stdout, several print one JSON line each`;

export const GENERATE_FLAGS: FlagSpecs = {
  model: 'string',
  prompt: 'list',
  adapter: 'string',
  'max-new-tokens': 'string',
  temperature: 'string',
  'top-k': 'string',
  'top-p': 'string',
  'repetition-penalty': 'string',
  seed: 'string',
  stop: 'list',
  chat: 'switch',
  json: 'switch',
  'base-dtype': 'string',
};

export async function generateCommand(a: Args): Promise<void> {
  a.declare(GENERATE_FLAGS, 'generate');
  const md = await openModelDir(a.str('model'));
  const texts = a.all('prompt');
  if (texts.length === 0) throw new Error('--prompt is required (repeat it to generate for several at once)');
  const tok = md.tokenizer;
  const chat = a.bool('chat') === true;
  if (chat && !tok.hasChatTemplate) throw new Error(`--chat: ${md.dir} has no chat template`);
  // Prompts start the way training examples do: the data layer puts BOS first for Llama (as TRL does) even
  // where the tokenizer itself adds none, so generation sees what fine-tuning taught.
  const bos = dataTokenizer(tok, md.config).bosId;
  const prompts = texts.map((t, i) => {
    const ids = chat
      ? tok.encodeChat([{ role: 'user', content: t }], { addGenerationPrompt: true })
      : tok.encode(t);
    if (!chat && bos !== null && ids[0] !== bos) ids.unshift(bos);
    if (ids.length === 0) throw new Error(`--prompt #${i + 1} encodes to no tokens`);
    return ids;
  });
  const topK = a.opt('top-k') !== undefined ? a.int('top-k') : undefined;
  const topP = a.opt('top-p') !== undefined ? a.num('top-p') : undefined;
  const { eosIds, padId } = specialIds(tok, md.config);
  const json = a.bool('json') === true || prompts.length > 1;

  const dtype = baseDtypeFlag(a) ?? 'f32';
  const ctx = await acquireNodeGpu({ tune: true });
  try {
    checkModelFits(md.config, nodeBudget(ctx), md.dir, dtype);
    const be = gpuBackend(ctx);
    const base = new FrozenBase(be, checkpointBaseSource(md.config, md.reader, dtype), dtype);
    const model = await loadWithAdapterOnBase(be, md.config, base, a.opt('adapter'));
    if (!json) process.stdout.write(chat ? '' : texts[0]);
    const res = await generate(be, md.config, model.ps, prompts, {
      hooks: model.hooks,
      accel: gpuDecodeAccel(ctx),
      maxNewTokens: a.int('max-new-tokens', 64),
      temperature: a.num('temperature', 0),
      topK,
      topP,
      repetitionPenalty: a.num('repetition-penalty', 1),
      seed: a.int('seed', 0),
      stop: a.all('stop'),
      eosIds,
      padId,
      decode: (ids) => tok.decode(ids, { skipSpecialTokens: true }),
      onToken: json ? undefined : (e) => e.text && process.stdout.write(e.text),
    });
    if (json) {
      for (const [i, r] of res.rows.entries())
        process.stdout.write(
          `${JSON.stringify({ prompt: texts[i], text: r.text, finish: r.finish, tokens: r.tokens.length })}\n`,
        );
    } else {
      process.stdout.write('\n');
    }
    const newTokens = res.rows.reduce((n, r) => n + r.tokens.length, 0);
    process.stderr.write(
      `${JSON.stringify({
        prompts: prompts.length,
        prompt_tokens: prompts.map((p) => p.length),
        new_tokens: newTokens,
        finish: res.rows.map((r) => r.finish),
        prefill_ms: Math.round(res.prefillMs),
        decode_ms: Math.round(res.decodeMs),
        decode_tokens_per_s:
          res.forwards > 1 ? Math.round(((res.forwards - 1) * prompts.length * 1000) / res.decodeMs) : null,
        kvcache: formatBytes(res.cacheBytes),
        adapter: ctx.adapter.description || ctx.adapter.vendor,
        peft_adapter: model.method,
      })}\n`,
    );
    model.dispose();
  } finally {
    ctx.destroy();
  }
}
