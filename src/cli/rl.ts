// `npm run cli -- train --algo reward|ppo|rs|dpo|grpo`: the RLHF runners (src/train/rl) in Node with any
// registered PEFT method (default LoRA). Online algorithms (ppo, rs, grpo) take prompts from --data (any
// shape with a prompt; without --data, a few built-in English openings) and a --reward; dpo and reward take
// preference data. Prints one JSON line per logging step (docs/METHODS.md: step, loss, reward_mean, kl, entropy,
// and PPO's clipfrac, value_loss) and a summary line with "done": true. `--algo reward --out DIR` saves the
// reward model (PEFT files + its score head) for `--reward model:DIR`. The algorithm options' flags, their
// checks and usage lines come from train/rl/options.ts, and the run is built by train/rl/factory.ts, as the
// page's worker builds its runs.

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Example } from '../data/types';
import { parseSafetensors, toFloat32, writeSafetensors } from '../formats/safetensors';
import { formatBytes } from '../gpu/errors';
import { acquireNodeGpu } from '../gpu/node';
import { baseSpecsOf, checkModelFits, checkpointBaseSource } from '../model/load';
import type { OptionValue } from '../peft/types';
import { FrozenBase } from '../tensor/frozen-base';
import { gpuBackend } from '../tensor/gpu-backend';
import { parseRewardSpec } from '../train/rewards/builtin';
import { jsReward } from '../train/rewards/js';
import type { RlMetrics } from '../train/rl/common';
import { DPO_DEFAULTS } from '../train/rl/dpo';
import {
  buildRlRun,
  createRewardModel,
  type RewardSource,
  type RlRunSettings,
  specReward,
} from '../train/rl/factory';
import { GRPO_DEFAULTS } from '../train/rl/grpo';
import {
  checkRlOptions,
  RL_ALGOS,
  type RlAlgo,
  rlFlagsUsage,
  rlOptionSpecs,
  rlOptionsFromFlags,
} from '../train/rl/options';
import { PPO_DEFAULTS } from '../train/rl/ppo';
import { modelReward, REWARD_DEFAULTS } from '../train/rl/reward';
import { RS_DEFAULTS } from '../train/rl/rs';
import { SFT_DEFAULTS } from '../train/sft-config';
import { type Args, baseDtypeFlag, type FlagSpecs } from './args';
import { prepareDataFile } from './data-file';
import { prepareOutDir, writeFileAtomic } from './files';
import { openModelDir } from './model-dir';

export { RL_ALGOS };

/** The flags every algorithm reads; the algorithm options' flags come from train/rl/options.ts. */
export const RL_USAGE = `  train --algo reward|ppo|rs|dpo|grpo --model DIR [--method lora] [--set key=value ...]
        [--reward sentiment|length:N|regex:PATTERN|keywords:a,b|exact|model:DIR|js:FILE] [--data FILE]
        [--steps N] [--batch B] [--lr X] [--seed S] [--weight-decay W] [--max-grad-norm G]
        [--max-prompt-length N] [--seq T] [--eval-fraction F] [--log-every K] [--out DIR]
        [--base-dtype f32|f16|bf16|int8|nf4]
${rlFlagsUsage()}`;

/** Openings for the sentiment demo when no --data is given. */
export const DEFAULT_PROMPTS = [
  'The weather today was',
  'My neighbour told me that',
  'When I opened the letter,',
  'The meeting this morning',
  'After dinner we',
  'The new teacher seemed',
  'Yesterday the children',
  'The old house on the hill',
];

const print = (o: object) => process.stdout.write(`${JSON.stringify(o)}\n`);

function options(a: Args): Record<string, OptionValue> {
  const out: Record<string, OptionValue> = {};
  for (const [k, v] of a.sets()) {
    const n = Number(v);
    out[k] =
      v === 'true'
        ? true
        : v === 'false'
          ? false
          : v !== '' && Number.isFinite(n)
            ? n
            : v.includes(',')
              ? v.split(',')
              : v;
  }
  return out;
}

const round = (x: number | undefined) => (x === undefined ? undefined : Number(x.toPrecision(6)));

/** The flags of `train --algo algo`: the common ones and the algorithm's options from the table. */
export function rlFlags(algo: RlAlgo): FlagSpecs {
  const common = [
    'algo',
    'model',
    'method',
    'reward',
    'data',
    'steps',
    'batch',
    'lr',
    'seed',
    'weight-decay',
  ];
  const more = [
    'max-grad-norm',
    'max-prompt-length',
    'seq',
    'eval-fraction',
    'log-every',
    'out',
    'reward-timeout-ms',
    'base-dtype',
  ];
  const flags: Record<string, 'string' | 'list'> = { set: 'list' };
  for (const f of [...common, ...more, ...rlOptionSpecs(algo).map((s) => s.flag)]) flags[f] = 'string';
  return flags;
}

/** The algorithm from --algo, or the sentence listing them. */
function algoOf(a: Args): RlAlgo {
  const algo = a.str('algo');
  if (!(RL_ALGOS as readonly string[]).includes(algo))
    throw new Error(`--algo ${algo}: one of sft, ${RL_ALGOS.join(', ')}`);
  return algo as RlAlgo;
}

/**
 * What decides how the run trains, from the flags: the common ones (method, lr, steps, batch, seq, seed,
 * weight decay, clipping, eval fraction) and the algorithm's options as train/rl/options.ts declares them.
 * The page's worker builds the same object from its run spec (worker/rl-runs.ts rlSettings).
 */
export function rlSettingsFromArgs(a: Args): RlRunSettings {
  const algo = algoOf(a);
  const rl = rlOptionsFromFlags(algo, (flag) => a.opt(flag));
  const batch = a.int('batch', runnerBatch(algo));
  const problem = checkRlOptions(algo, rl, batch);
  if (problem) throw new Error(problem);
  return {
    algo,
    rl,
    train: {
      method: a.str('method', 'lora'),
      options: options(a),
      seed: a.int('seed', 0),
      lr: a.num('lr', 1e-3),
      steps: a.int('steps', 20),
      batch,
      seqLen: a.int('seq', 64),
      weightDecay: a.num('weight-decay', SFT_DEFAULTS.weightDecay),
      maxGradNorm: a.num('max-grad-norm', SFT_DEFAULTS.maxGradNorm),
      evalFraction: a.num('eval-fraction', algo === 'reward' ? 0.2 : 0),
      maxPromptLength: a.int('max-prompt-length', 64),
    },
  };
}

/** The CLI's batch when --batch is absent: the runner's own default (the page's comes from its form). */
function runnerBatch(algo: RlAlgo): number {
  const d = {
    ppo: PPO_DEFAULTS,
    rs: RS_DEFAULTS,
    grpo: GRPO_DEFAULTS,
    dpo: DPO_DEFAULTS,
    reward: REWARD_DEFAULTS,
  };
  return d[algo].batch;
}

/** The run's reward from --reward: a built-in spec, a JavaScript file, or a saved reward model. */
function rewardFromFlag<S, I>(a: Args): RewardSource<S, I> {
  const flag = a.str('reward', 'sentiment');
  const spec = parseRewardSpec(flag);
  if (spec.kind === 'js')
    return async (x) => {
      const r = jsReward(readFileSync(spec.file, 'utf8'), {
        name: spec.file,
        timeoutMs: a.int('reward-timeout-ms', 2000),
      });
      x.onDispose(r.dispose);
      return r;
    };
  if (spec.kind === 'model')
    return async (x) => {
      const meta = JSON.parse(readFileSync(join(spec.dir, 'reward_model.json'), 'utf8')) as {
        method: string;
        options: Record<string, OptionValue>;
      };
      const rm = await createRewardModel(x.be, x.model, { ...meta, seed: x.seed });
      x.onDispose(() => rm.dispose());
      rm.adapter.load(new Uint8Array(readFileSync(join(spec.dir, 'adapter_model.safetensors'))));
      const hb = new Uint8Array(readFileSync(join(spec.dir, 'reward_head.safetensors')));
      const h = parseSafetensors(hb, 'reward_head.safetensors');
      const info = h.tensors.get('score.weight');
      if (!info) throw new Error(`${spec.dir}/reward_head.safetensors: missing tensor "score.weight"`);
      rm.ps.write(
        'score.weight',
        toFloat32(
          hb.subarray(h.dataStart + info.begin, h.dataStart + info.end),
          info.dtype,
          'reward_head.safetensors',
          'score.weight',
        ),
      );
      return modelReward(rm, x.encode, x.padId);
    };
  return specReward(flag);
}

/** --data's examples; without it, the built-in openings as prompts (online) or the sentence (pairwise). */
async function examplesOf(a: Args, algo: RlAlgo): Promise<Example[]> {
  const path = a.opt('data');
  if (!path) {
    if (algo === 'dpo' || algo === 'reward')
      throw new Error(`--algo ${algo} needs --data with preference pairs (chosen/rejected)`);
    return DEFAULT_PROMPTS.map(
      (prompt, row): Example => ({ kind: 'prompt_only', prompt, source: { file: 'built-in', row } }),
    );
  }
  const prepared = await prepareDataFile(path);
  for (const issue of prepared.issues.slice(0, 5)) process.stderr.write(`skipped: ${issue.message}\n`);
  return prepared.examples;
}

export async function rlTrain(a: Args): Promise<void> {
  a.declare(rlFlags(algoOf(a)), `train --algo ${a.opt('algo')}`);
  const settings = rlSettingsFromArgs(a);
  const { algo, train } = settings;
  const { method, lr } = train;
  const md = await openModelDir(a.str('model'));
  // --out is checked (created, written to) before any work, not after the last step.
  const outFlag = a.opt('out');
  const out = outFlag === undefined ? undefined : prepareOutDir(outFlag);
  const logEvery = Math.max(1, a.int('log-every', 1));
  const examples = await examplesOf(a, algo);
  const dtype = baseDtypeFlag(a) ?? 'f32';
  const ctx = await acquireNodeGpu({ tune: true });
  checkModelFits(
    md.config,
    { maxBufferBytes: ctx.limits.maxStorageBufferBindingSize, budgetBytes: 8 * 2 ** 30 },
    md.dir,
    dtype,
  );
  const be = gpuBackend(ctx);
  ctx.arena.resetPeak();
  // One frozen base (streamed in --base-dtype) for every model of the run: policy, reward model.
  const base = new FrozenBase(be, checkpointBaseSource(md.config, md.reader, dtype), dtype);
  const baseSpecs = baseSpecsOf(base.source);
  let built: Awaited<ReturnType<typeof buildRlRun>>;
  try {
    built = await buildRlRun({
      ...settings,
      be,
      model: {
        config: md.config,
        tokenizer: md.tokenizer,
        baseSpecs,
        base: base as FrozenBase<unknown, unknown>,
      },
      examples,
      reward: algo === 'ppo' || algo === 'rs' || algo === 'grpo' ? rewardFromFlag(a) : undefined,
    });
  } catch (e) {
    ctx.destroy();
    throw e;
  }
  const { model, runner, heldOut: rmRunner, disposers } = built;
  print({ algo, method, trainable_params: model.ps.trainableCount, total_params: model.ps.totalCount });
  const t0 = performance.now();
  const history: RlMetrics[] = [];
  try {
    while (!runner.done) {
      const m = await runner.step();
      history.push(m);
      if (!Number.isFinite(m.loss))
        throw new Error(
          m.step === 1
            ? `step 1: the loss is ${m.loss} from the first batch: the model's weights may hold NaN or Inf (check ${md.dir}), or --lr is far too high`
            : `step ${m.step}: the loss is ${m.loss}; lower --lr`,
        );
      if (m.step % logEvery === 0 || runner.done) {
        const { samples, ...rest } = m;
        print({
          ...Object.fromEntries(
            Object.entries(rest).map(([k, v]) => [k, k === 'step' || k === 'kept' ? v : round(v)]),
          ),
          lr,
          mem_peak_bytes: ctx.arena.stats().peakTotal,
          ...(samples?.length ? { sample: samples[0] } : {}),
        });
      }
    }
    const heldOut = rmRunner ? await rmRunner.evaluate() : null;
    if (out) {
      const saved = await model.adapter.save(md.dir);
      writeFileAtomic(join(out, 'adapter_config.json'), saved.files.config);
      writeFileAtomic(join(out, 'adapter_model.safetensors'), saved.files.weights);
      if (algo === 'reward') {
        const w = Float32Array.from(await model.ps.read('score.weight'));
        writeFileAtomic(
          join(out, 'reward_head.safetensors'),
          writeSafetensors({ 'score.weight': { dtype: 'F32', shape: [1, md.config.hiddenSize], data: w } }),
        );
        writeFileAtomic(
          join(out, 'reward_model.json'),
          `${JSON.stringify({ method, options: train.options, base_model: md.dir }, null, 2)}\n`,
        );
      }
    }
    const s = ctx.arena.stats();
    const first = history.slice(0, Math.max(1, Math.floor(history.length / 4)));
    const last = history.slice(-Math.max(1, Math.floor(history.length / 4)));
    const avg = (h: RlMetrics[], k: keyof RlMetrics) =>
      round(h.reduce((x, m) => x + Number(m[k] ?? 0), 0) / h.length);
    print({
      done: true,
      algo,
      method,
      steps: runner.stepsDone,
      loss: round(history.at(-1)?.loss),
      reward_mean: round(history.at(-1)?.reward_mean),
      kl: round(history.at(-1)?.kl),
      reward_mean_first_quarter: avg(first, 'reward_mean'),
      reward_mean_last_quarter: avg(last, 'reward_mean'),
      kl_last_quarter: avg(last, 'kl'),
      ...(heldOut ? { eval_accuracy: round(heldOut.accuracy), eval_loss: round(heldOut.loss) } : {}),
      trainable_params: model.ps.trainableCount,
      seconds: round((performance.now() - t0) / 1000),
      mem_peak_bytes: s.peakTotal,
      mem_peak_by_category: s.atPeak,
      mem_peak: formatBytes(s.peakTotal),
    });
  } finally {
    for (const d of disposers) d();
    runner.dispose();
    ctx.destroy();
  }
}
