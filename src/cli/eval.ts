// `npm run cli -- eval`: the loss of a model folder on a dataset file, through the same data pipeline as `train`
// (parse, validate, tokenize for SFT with the model's tokenizer, fixed-shape batches) and the same eval pass
// as the SFT runner's (train/sft-eval.ts: the causal-LM loss, no gradients). Prints one JSON line: the mean loss over every target token of the file
// (batches weighted by their target counts, so the figure does not depend on --batch) and its perplexity.
// With --adapter DIR the model runs with that saved adapter (adapter-dir.ts).

import { Batcher } from '../data/batch';
import { tokenizeForSft } from '../data/tokenize';
import { acquireNodeGpu } from '../gpu/node';
import { checkModelFits, checkpointBaseSource } from '../model/load';
import { FrozenBase } from '../tensor/frozen-base';
import { gpuBackend } from '../tensor/gpu-backend';
import { batchLosses, exactMatch, meanOfTokens } from '../train/sft-eval';
import { dataTokenizer, specialIds } from '../train/tokenizer-adapter';
import { loadWithAdapterOnBase } from './adapter-dir';
import { type Args, baseDtypeFlag, type FlagSpecs } from './args';
import { prepareDataFile } from './data-file';
import { nodeBudget, openModelDir } from './model-dir';

export const EVAL_USAGE = `  eval --model DIR --data FILE [--adapter DIR] [--batch B] [--seq T] [--max-batches N] [--base-dtype D]
        one JSON line: eval_loss (mean over target tokens), perplexity and exact_match (greedy completions
        of up to 16 prompt/completion rows; null for plain text)`;

export const EVAL_FLAGS: FlagSpecs = {
  model: 'string',
  data: 'string',
  adapter: 'string',
  batch: 'string',
  seq: 'string',
  'max-batches': 'string',
  'base-dtype': 'string',
};

export async function evalCommand(a: Args): Promise<void> {
  a.declare(EVAL_FLAGS, 'eval');
  const md = await openModelDir(a.str('model'));
  const dataPath = a.str('data');
  const B = a.int('batch', 8);
  const T = a.int('seq', 64);
  const maxBatches = a.opt('max-batches') !== undefined ? a.int('max-batches') : Number.POSITIVE_INFINITY;
  if (B < 1 || T < 2) throw new Error(`--batch ${B} and --seq ${T}: need at least 1 and 2`);
  if (T > md.config.maxPositions)
    throw new Error(`--seq ${T} exceeds the model's ${md.config.maxPositions} positions`);
  const prepared = await prepareDataFile(dataPath);
  for (const issue of prepared.issues.slice(0, 5)) process.stderr.write(`skipped: ${issue.message}\n`);
  const tokenized = tokenizeForSft(dataTokenizer(md.tokenizer, md.config), prepared.examples, {
    maxLength: T,
  });
  if (tokenized.examples.length === 0) {
    const first = tokenized.issues.slice(0, 3).map((i) => i.message);
    throw new Error(
      `${dataPath}: no usable examples to evaluate${first.length ? `; the first reasons: ${first.join('; ')}` : ''}`,
    );
  }
  const { padId } = specialIds(md.tokenizer, md.config);
  const batcher = new Batcher(tokenized.examples, {
    batchSize: B,
    seqLen: T,
    padId,
    seed: 0,
    shuffle: false,
  });

  const dtype = baseDtypeFlag(a) ?? 'f32';
  const ctx = await acquireNodeGpu({ tune: true });
  try {
    checkModelFits(md.config, nodeBudget(ctx), md.dir, dtype);
    const be = gpuBackend(ctx);
    const base = new FrozenBase(be, checkpointBaseSource(md.config, md.reader, dtype), dtype);
    const model = await loadWithAdapterOnBase(be, md.config, base, a.opt('adapter'));
    const t0 = performance.now();
    const batches = [...batcher.epoch(0)].slice(0, maxBatches);
    const losses = await batchLosses(be, md.config, model.ps, model.hooks, batches);
    for (const [i, l] of losses.entries())
      if (l.targets > 0 && !Number.isFinite(l.loss)) throw new Error(`batch ${i + 1}: the loss is ${l.loss}`);
    const { loss: evalLoss, targets } = meanOfTokens(losses);
    const tokens = losses.reduce((n, l) => n + l.tokens, 0);
    if (targets === 0) throw new Error(`${dataPath}: no target tokens to evaluate`);
    // The task metric the page's table shows beside eval loss (null for plain text: no completions).
    const em = await exactMatch(
      be,
      md.config,
      model.ps,
      model.hooks,
      tokenized.examples.map((r) => ({ inputIds: r.inputIds.slice(0, T), labels: r.labels.slice(0, T) })),
      specialIds(md.tokenizer, md.config).eosIds,
    );
    process.stdout.write(
      `${JSON.stringify({
        eval_loss: evalLoss,
        adapter: model.method,
        perplexity: Math.exp(evalLoss),
        exact_match: em,
        target_tokens: targets,
        tokens,
        examples: tokenized.examples.length,
        skipped: prepared.skipped + tokenized.skipped,
        batches: batches.length,
        tokens_per_s: Math.round(tokens / ((performance.now() - t0) / 1000)),
      })}\n`,
    );
    model.dispose();
  } finally {
    ctx.destroy();
  }
}
