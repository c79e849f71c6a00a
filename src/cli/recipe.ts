// `npm run cli -- recipe`: a run's settings, from the same flags `train` takes (SFT's through
// runSettingsFromFlags, the RL algorithms' through rlSettingsFromArgs), written as a TRL + PEFT + Accelerate
// recipe folder (src/train/recipe): train.py, the method's config, the reward as Python, data/ (the exact
// split the run would train on), accelerate/, requirements.txt, README.md and recipe.json — the folder the
// page's "Export recipe" zips. Nothing trains here, so no GPU is needed (a sparse or rows method plans its
// mask from the checkpoint on the CPU).

import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { prepareDataset } from '../data/prepare';
import { loadCheckpointSpecs } from '../model/load';
import { planAdapter } from '../peft/adapter';
import { getMethod } from '../peft/registry';
import { recipeInputOf, rlRunConfig } from '../train/recipe/input';
import { buildRecipe } from '../train/recipe/recipe';
import { RECIPE_ALGOS, type RecipeAlgo, type RecipeReward } from '../train/recipe/types';
import { parseRewardSpec } from '../train/rewards/builtin';
import { SFT_EVAL_FRACTION, sftRunConfig } from '../train/sft-config';
import type { Args } from './args';
import { openModelDir } from './model-dir';
import { rlFlags, rlSettingsFromArgs } from './rl';
import { runSettingsFromFlags, TRAIN_FLAGS } from './train';

export const RECIPE_USAGE = `  recipe --model DIR --data FILE --out DIR [--algo sft|reward|ppo|rs|dpo|grpo] [--method M]
        [--set key=value ...] [--model-name ORG/NAME] [the flags train takes for the algorithm, --reward too]
        writes a TRL + PEFT + Accelerate recipe of the run: train.py, data/ (the run's train/eval split),
        accelerate/ (single_gpu, multi_gpu, fsdp, deepspeed_zero2/3, launch.sh), requirements.txt, README.md,
        recipe.json; --model-name: the Hugging Face id train.py loads (default: DIR)`;

/** The online run's reward from --reward, as the recipe carries it (a JavaScript file's source is read). */
function rewardOf(a: Args): RecipeReward {
  const flag = a.str('reward', 'sentiment');
  const spec = parseRewardSpec(flag);
  if (spec.kind === 'js') return { kind: 'js', source: readFileSync(spec.file, 'utf8') };
  if (spec.kind === 'model') return { kind: 'model', path: spec.dir };
  return { kind: 'spec', spec: flag };
}

export async function recipeCommand(a: Args): Promise<void> {
  const algo = (a.opt('algo') ?? 'sft') as RecipeAlgo;
  if (!RECIPE_ALGOS.includes(algo)) throw new Error(`--algo ${algo}: one of ${RECIPE_ALGOS.join(', ')}`);
  const flags = algo === 'sft' ? TRAIN_FLAGS : rlFlags(algo);
  a.declare({ ...flags, out: 'string', 'model-name': 'string' }, 'recipe');
  const out = a.str('out');
  const md = await openModelDir(a.str('model'));
  const rl = algo === 'sft' ? undefined : rlSettingsFromArgs(a);
  const run = rl ? rlRunConfig(rl) : sftRunConfig(runSettingsFromFlags(a));
  const dataPath = a.str('data');
  const prepared = await prepareDataset(basename(dataPath), new Uint8Array(readFileSync(dataPath)), {
    onError: 'skip',
  });
  for (const issue of prepared.issues.slice(0, 5)) process.stderr.write(`skipped: ${issue.message}\n`);
  const name = a.opt('model-name') ?? md.name;
  const methodCtx = { tokenizer: { encode: (t: string) => md.tokenizer.encode(t) }, tokenizerName: name };
  // Sparse and rows train fixed entries drawn at planning: the recipe carries the same ones.
  const ints = ['sparse', 'rows'].includes(run.method)
    ? planAdapter(
        getMethod(run.method),
        run.options,
        md.config,
        await loadCheckpointSpecs(md.config, md.reader),
        run.seed,
        methodCtx,
      ).ints
    : undefined;
  const input = recipeInputOf({
    algo,
    model: { name, config: md.config, tokenizer: md.tokenizer },
    examples: prepared.examples,
    run,
    evalFraction: rl ? rl.train.evalFraction : a.num('eval-fraction', SFT_EVAL_FRACTION),
    rl,
    reward: rl && ['ppo', 'rs', 'grpo'].includes(algo) ? rewardOf(a) : undefined,
    ints,
    createdAt: new Date().toISOString(),
  });
  const files = buildRecipe(input);
  for (const f of files) {
    const path = join(out, f.path);
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, f.text, f.path.endsWith('.sh') ? { mode: 0o755 } : undefined);
  }
  process.stdout.write(
    `${JSON.stringify({ out, algo, method: run.method, files: files.map((f) => f.path), train_examples: input.split.train.length, eval_examples: input.split.eval.length })}\n`,
  );
}
