// A run → the recipe folder that trains it on a cluster with Hugging Face's stack: train.py (TRL's trainer
// with the run's settings), the method's PEFT / adapters config or requires_grad selection, the reward as
// Python, data/ (the run's exact split), accelerate/ (one GPU, DDP, FSDP, ZeRO-2/3, launch.sh),
// requirements.txt, README.md and recipe.json (the run as the playground holds it). Plain text files, built
// the same for the page's worker (zipped, src/worker/exports.ts) and the CLI (src/cli/recipe.ts).
import { accelerateFiles } from './accelerate';
import { dataFiles } from './data';
import { methodConfig, methodPython } from './method';
import { rewardPython } from './rewards';
import { trainPy } from './trainer';
import type { RecipeFile, RecipeInput } from './types';

/** The versions the recipe was written for (TRL's config fields and trainer signatures of this release). */
export const RECIPE_REQUIREMENTS = [
  'torch==2.8.0',
  'transformers==4.56.2',
  'trl==0.21.0',
  'peft==0.17.1',
  'accelerate==1.10.1',
  'datasets==4.1.1',
  'safetensors==0.6.2',
  'deepspeed==0.17.6',
];

/**
 * The bottleneck adapters' stack: adapters 1.2.0 is built for transformers 4.51.3 (it installs that version),
 * which TRL 0.21 no longer supports (it needs ≥ 4.55) and TRL 0.19.1 does, with the same config fields the
 * recipes write (hf-fields.json).
 */
export const ADAPTERS_REQUIREMENTS = [
  'torch==2.8.0',
  'transformers==4.51.3',
  'trl==0.19.1',
  'peft==0.17.1',
  'accelerate==1.10.1',
  'datasets==4.1.1',
  'safetensors==0.6.2',
  'deepspeed==0.17.6',
  'adapters==1.2.0',
];

const ONLINE = new Set(['ppo', 'rs', 'grpo']);

function readme(
  x: RecipeInput,
  ac: Record<string, unknown>,
  counts: { train: number; eval: number },
  files: string[],
): string {
  const label = `${x.algo.toUpperCase()} · ${x.run.method} · ${x.model.name}`;
  return `# Recipe: ${label}

Exported by the PEFT playground from a browser run. The same settings, method, reward and data split, on
Hugging Face's stack (TRL's trainers, PEFT, Accelerate), on one GPU or many.

## Run it

\`\`\`bash
pip install -r requirements.txt
RECIPE_MODEL=${x.model.name} accelerate/launch.sh single_gpu     # or multi_gpu, fsdp, deepspeed_zero2, deepspeed_zero3
\`\`\`

Several nodes: on each node run \`NNODES=N NODE_RANK=i MAIN_ADDR=host0 accelerate/launch.sh multi_gpu\`
(under Slurm, NNODES and NODE_RANK default to the job's). \`RECIPE_MODEL\` may name a larger model of the same
family; \`RECIPE_OUT\` sets the output folder (default \`out/\`).

## Bring it back

\`out/\` holds the adapter as PEFT saves it (adapter_config.json + adapter_model.safetensors). Drop both on the
playground's "Import adapter" (with 0 steps it is only evaluated) to get a row in the comparison table on the
same eval data, or evaluate it in Node: \`npm run cli -- eval --model DIR --adapter out --data data/eval.jsonl\`.

## What is here

- \`train.py\`: ${x.algo === 'rs' ? 'rejection sampling as a loop (best-of-n, then SFTTrainer)' : "TRL's trainer"} with every setting of the run written out.
- \`data/\`: the run's split, ${counts.train} training and ${counts.eval} eval examples (JSONL).
- \`accelerate/\`: Accelerate configs and \`launch.sh\`.
- \`recipe.json\`: the run as the playground holds it.
${ONLINE.has(x.algo) ? "- `rewards/`: the run's reward as Python (a JavaScript reward is a stub to port, its source beside it).\n" : ''}${files.includes('sparse_mask.json') ? '- `sparse_mask.json`: the entries (or rows) the run trains.\n' : ''}
## Notes

${notes(x, ac)
  .map((n) => `- ${n}\n`)
  .join('')}`;
}

/** What to know before launching: per-device batches, packing, where the trained weights go. */
function notes(x: RecipeInput, ac: Record<string, unknown>): string[] {
  const out = [
    "Batch sizes are per device, as the run's were on its one GPU: on N GPUs the global batch is N times the run's; divide `per_device_train_batch_size` (or the steps) to keep the run's.",
  ];
  if (x.run.pack && x.algo === 'sft')
    out.push(
      'Packing: the run kept packed examples apart in attention; TRL does that with padding-free batches, which need `attn_implementation="flash_attention_2"` (load the model with it).',
    );
  if (x.algo === 'sft')
    out.push(
      "The schedule is the run's (a tenth of the steps of linear warm-up, then its decay), but transformers counts the first step as step 0: each step's learning rate is the one the playground used one step earlier.",
    );
  if (x.algo === 'sft' && x.split.train[0]?.kind === 'messages' && x.model.hasChatTemplate)
    out.push(
      "Chats train on the assistant turns only (assistant_only_loss), which needs the model's chat template to mark them with {% generation %}; the playground's plain template (PLAIN_CHAT_TEMPLATE in train.py) does.",
    );
  if (ac.peft_type === 'BOTTLENECK_ADAPTER')
    out.push(
      "The bottleneck adapter saves in the adapters library's own format (save_adapter), which the playground does not import yet; the PEFT methods' folders import directly.",
    );
  if (['BITFIT', 'TOP_LAYERS', 'SPARSE', 'ROWS', 'FULL'].includes(String(ac.peft_type)))
    out.push(
      'This method has no PEFT class: `out/` holds the whole fine-tuned model (save_pretrained); load it as a model.',
    );
  out.push(
    `Written for ${(ac.peft_type === 'BOTTLENECK_ADAPTER' ? ADAPTERS_REQUIREMENTS : RECIPE_REQUIREMENTS).slice(0, 5).join(', ')}. The playground trains in float32; so does the recipe (no mixed precision) unless you change it.`,
  );
  return out;
}

/** Every file of the recipe folder. */
export function buildRecipe(x: RecipeInput): RecipeFile[] {
  const ac = methodConfig(x.run.method, x.run.options, x.model.config, {
    tokenizerName: x.model.name,
    ...x.methodCtx,
  });
  const method = methodPython(x.run.method, ac, x.algo === 'reward' ? 'SEQ_CLS' : 'CAUSAL_LM', x.model.name);
  const reward = ONLINE.has(x.algo) ? rewardPython(x.reward ?? { kind: 'spec', spec: 'sentiment' }) : null;
  const data = dataFiles(x.algo, x.split);
  const files: RecipeFile[] = [{ path: 'train.py', text: trainPy(x, method, reward, data.shape) }];
  if (reward) files.push({ path: 'rewards/rewards.py', text: reward.code }, ...reward.files);
  files.push(...data.files, ...accelerateFiles());
  if (ac.peft_type === 'SPARSE' || ac.peft_type === 'ROWS') {
    if (!x.sparseMask) throw new Error(`recipe: a ${x.run.method} run needs its mask`);
    const masks = Object.fromEntries(
      x.sparseMask.map((m) => [
        m.module,
        m.rows ? { shape: m.shape, rows: m.rows } : { shape: m.shape, indices: m.indices },
      ]),
    );
    files.push({ path: 'sparse_mask.json', text: `${JSON.stringify(masks)}\n` });
  }
  // Each adapters release is built for one transformers version; TRL 0.19.1 is the last release that supports it.
  const requirements = method.requirements.some((r) => r.startsWith('adapters'))
    ? ADAPTERS_REQUIREMENTS
    : RECIPE_REQUIREMENTS;
  files.push({ path: 'requirements.txt', text: `${requirements.join('\n')}\n` });
  const counts = { train: x.split.train.length, eval: x.split.eval.length };
  const spec = {
    playground: 'peft-playground recipe 1',
    createdAt: x.createdAt ?? null,
    algo: x.algo,
    model: { name: x.model.name, type: x.model.config.modelType, hasChatTemplate: x.model.hasChatTemplate },
    run: x.run,
    evalFraction: x.evalFraction,
    rl: x.rl ?? null,
    reward: ONLINE.has(x.algo) ? (x.reward ?? { kind: 'spec', spec: 'sentiment' }) : null,
    adapterConfig: ac,
    counts,
  };
  files.push({ path: 'recipe.json', text: `${JSON.stringify(spec, null, 2)}\n` });
  files.push({
    path: 'README.md',
    text: readme(
      x,
      ac,
      counts,
      files.map((f) => f.path),
    ),
  });
  return files;
}
