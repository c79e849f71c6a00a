// The headless door to the engine: `npm run cli -- <command> [flags]`. The same code as the page, run in
// Node through Dawn (falling back to SwiftShader, and saying so). This file only dispatches: each command
// lives in its own module (train.ts for SFT, rl.ts for the RLHF algorithms, eval, generate, merge, grads,
// bench, info, plan), and the training loop, loss and data pipeline they use are train/'s, shared with the page.

import { Args } from './args';
import { BENCH_USAGE } from './bench';
import { COMPARE_USAGE } from './compare';
import { EVAL_USAGE, evalCommand } from './eval';
import { GENERATE_USAGE, generateCommand } from './generate';
import { registryGradsMethods } from './grads-methods';
import { INFO_USAGE, infoCommand } from './info';
import { MERGE_USAGE } from './merge';
import { PLAN_USAGE } from './plan';
import { RECIPE_USAGE } from './recipe';
import { RL_USAGE, rlTrain } from './rl';
import { TRAIN_USAGE, trainCommand } from './train';

const USAGE = [
  'usage: npm run cli -- <command> [flags]',
  INFO_USAGE,
  TRAIN_USAGE,
  RL_USAGE,
  GENERATE_USAGE,
  EVAL_USAGE,
  MERGE_USAGE,
  BENCH_USAGE,
  COMPARE_USAGE,
  RECIPE_USAGE,
  PLAN_USAGE,
].join('\n');

async function main(argv: string[]): Promise<void> {
  const [command, ...rest] = argv;
  const a = new Args(rest);
  if (command === 'info') return infoCommand();
  // RLHF algorithms (reward, ppo, rs, dpo, grpo) live in rl.ts; sft (the default) in train.ts.
  if (command === 'train') {
    const algo = a.opt('algo');
    return algo !== undefined && algo !== 'sft' ? rlTrain(a) : trainCommand(a);
  }
  if (command === 'generate') return generateCommand(a);
  if (command === 'eval') return evalCommand(a);
  if (command === 'bench') return (await import('./bench')).benchCommand(a);
  if (command === 'compare') return (await import('./compare')).compareCommand(a, rest);
  if (command === 'recipe') return (await import('./recipe')).recipeCommand(a);
  if (command === 'merge') return (await import('./merge')).mergeCommand(a);
  if (command === 'plan') return (await import('./plan')).planCommand(a);
  if (command === 'grads') return (await import('./grads')).gradsCommand(a, registryGradsMethods());
  process.stderr.write(`${USAGE}\n`);
  process.exitCode = command ? 2 : 0;
}

main(process.argv.slice(2)).then(
  () => process.exit(process.exitCode ?? 0),
  (e: unknown) => {
    process.stderr.write(`error: ${e instanceof Error ? e.message : String(e)}\n`);
    process.exit(1);
  },
);
