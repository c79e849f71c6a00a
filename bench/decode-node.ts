// Decoding speed on the built-in model (public/models/tiny-llama-brown) in Node (Dawn): milliseconds per
// decoded token, B = 1, a fixed prompt, greedy and seeded sampling, the reference path (every matmul through
// the general kernels, all V logits read back and sampled on the CPU) against the fast path (GEMV for the
// decode step's single-row matmuls, the token chosen on the GPU where the options allow), alternated in ONE
// process so machine load hits both alike. Both paths must give the same tokens; the last line is JSON with
// the ratios. Usage:
//   node --import tsx bench/decode-node.ts [NEW_TOKENS] [ROUNDS]   (default 64 new tokens, 3 rounds)
// A decode step's time is the generation's decodeMs / (tokens − 1): prefill and its pipeline compiles are
// outside it, and a warm-up generation per path compiles every kernel first.

import { loadavg } from 'node:os';
import { loadWithAdapterOnBase } from '../src/cli/adapter-dir';
import { openModelDir } from '../src/cli/model-dir';
import { gpuDecodeAccel } from '../src/gpu/decode-accel';
import { acquireNodeGpu } from '../src/gpu/node';
import { type DecodePath, generate } from '../src/model/generate';
import { checkpointBaseSource } from '../src/model/load';
import type { SamplingParams } from '../src/model/sampling';
import { FrozenBase } from '../src/tensor/frozen-base';
import { gpuBackend } from '../src/tensor/gpu-backend';

const [newTokens = 64, rounds = 3] = process.argv
  .slice(2)
  .map(Number)
  .filter((n) => n > 0);
const md = await openModelDir('public/models/tiny-llama-brown');
const ctx = await acquireNodeGpu({ quiet: true, tune: true });
console.log(
  `adapter: ${ctx.adapter.description} (${ctx.adapter.runtime}${ctx.adapter.software ? ', software' : ''}); matmul variant ${ctx.variants.get('matmul/smallM') ?? 'regblock'} (smallM; decode steps take GEMV)`,
);
const be = gpuBackend(ctx);
const base = new FrozenBase(be, checkpointBaseSource(md.config, md.reader, 'f32'), 'f32');
const model = await loadWithAdapterOnBase(be, md.config, base, undefined);
// q/k/v and gate/up in one dispatch each (gemv-multi.ts), beside matmul()'s GEMV route.
const accel = gpuDecodeAccel(ctx);
const prompt = md.tokenizer.encode('The jury said it did find that the city');
prompt.unshift(md.config.bosTokenId ?? 4095);

const modes: Record<string, SamplingParams & { seed?: number }> = {
  greedy: {},
  sampled: { temperature: 0.8, topK: 40, topP: 0.95, repetitionPenalty: 1.1, seed: 7 },
};
const paths: DecodePath[] = ['reference', 'fast'];

async function run(path: DecodePath, mode: string) {
  // The reference path also keeps matmul() off its GEMV route, as it was before the fast path existed.
  if (path === 'reference') ctx.variants.set('gemv', 'off');
  else ctx.variants.delete('gemv');
  const d0 = ctx.dispatches;
  const res = await generate(be, md.config, model.ps, [prompt], {
    ...modes[mode],
    maxNewTokens: newTokens,
    decodePath: path,
    accel,
  });
  const steps = res.forwards - 1;
  return {
    msPerToken: res.decodeMs / steps,
    tokens: res.rows[0].tokens,
    dispatchesPerForward: (ctx.dispatches - d0) / res.forwards,
  };
}

// The machine's load beside the figures: on a shared SwiftShader machine only same-run ratios compare.
const summary: Record<string, number | boolean> = { load_before: Number(loadavg()[0].toFixed(1)) };
for (const mode of Object.keys(modes)) {
  const best = new Map<DecodePath, number>();
  const tokens = new Map<DecodePath, number[]>();
  for (const path of paths) tokens.set(path, (await run(path, mode)).tokens); // warm-up: compiles
  for (let r = 0; r < rounds; r++)
    for (const path of paths) {
      const { msPerToken, tokens: t } = await run(path, mode);
      best.set(path, Math.min(best.get(path) ?? Number.POSITIVE_INFINITY, msPerToken));
      if (t.join() !== tokens.get(path)?.join())
        throw new Error(`${mode} ${path}: tokens differ between runs`);
    }
  const same = tokens.get('reference')?.join() === tokens.get('fast')?.join();
  summary[`${mode}_dispatches_per_forward`] = Number(
    (await run('fast', mode)).dispatchesPerForward.toFixed(1),
  );
  summary[`${mode}_reference_dispatches_per_forward`] = Number(
    (await run('reference', mode)).dispatchesPerForward.toFixed(1),
  );
  const ref = best.get('reference') ?? 0;
  const fast = best.get('fast') ?? 0;
  console.log(
    `${mode}: reference ${ref.toFixed(1)} ms/token, fast ${fast.toFixed(1)} ms/token (×${(ref / fast).toFixed(2)}), same tokens: ${same}`,
  );
  summary[`${mode}_reference_ms`] = Number(ref.toFixed(2));
  summary[`${mode}_fast_ms`] = Number(fast.toFixed(2));
  summary[`${mode}_speedup`] = Number((ref / fast).toFixed(2));
  summary[`${mode}_same_tokens`] = same;
}
summary.load_after = Number(loadavg()[0].toFixed(1));
console.log(
  JSON.stringify({ bench: 'decode', new_tokens: newTokens, prompt_tokens: prompt.length, ...summary }),
);
model.dispose();
ctx.destroy();
