// `npm run cli -- train --algo reward|ppo|rs|dpo|grpo`: the RLHF runners (src/train/rl) in Node with any
// registered PEFT method (default LoRA). Online algorithms (ppo, rs, grpo) take prompts from --data (any
// shape with a prompt; without --data, a few built-in English openings) and a --reward; dpo and reward take
// preference data. Prints one JSON line per logging step (METHODS.md: step, loss, reward_mean, kl, entropy,
// and PPO's clipfrac, value_loss) and a summary line with "done": true. `--algo reward --out DIR` saves the
// reward model (PEFT files + its score head) for `--reward model:DIR`.

import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { prepareDataset } from '../data/prepare';
import { splitTrainEval } from '../data/split';
import { type TokenizedPair, tokenizePairs, tokenizePrompt } from '../data/tokenize';
import type { Example } from '../data/types';
import { parseSafetensors, toFloat32, writeSafetensors } from '../formats/safetensors';
import type { GpuRegion } from '../gpu/arena';
import { formatBytes } from '../gpu/errors';
import { acquireNodeGpu } from '../gpu/node';
import { checkModelFits, loadCheckpointSpecs } from '../model/load';
import type { OptionValue } from '../peft/types';
import { gpuBackend } from '../tensor/gpu-backend';
import { builtinReward, parseRewardSpec, type RewardFn } from '../train/rewards/builtin';
import { jsReward } from '../train/rewards/js';
import type { PromptSet, RlMetrics, RlRunner } from '../train/rl/common';
import { DPO_DEFAULTS, DpoRunner } from '../train/rl/dpo';
import { GRPO_DEFAULTS, GrpoRunner } from '../train/rl/grpo';
import { RlModel } from '../train/rl/policy';
import { PPO_DEFAULTS, PpoRunner } from '../train/rl/ppo';
import { promptSet } from '../train/rl/prompts';
import { modelReward, REWARD_DEFAULTS, RewardRunner } from '../train/rl/reward';
import { RS_DEFAULTS, RsRunner } from '../train/rl/rs';
import { dataTokenizer } from '../train/tokenizer-adapter';
import type { Args } from './args';
import { openModelDir } from './model-dir';

export const RL_ALGOS = ['reward', 'ppo', 'rs', 'dpo', 'grpo'] as const;

export const RL_USAGE = `  train --algo reward|ppo|rs|dpo|grpo --model DIR [--method lora] [--set key=value ...]
        [--reward sentiment|length:N|regex:PATTERN|keywords:a,b|exact|model:DIR|js:FILE] [--data FILE]
        [--steps N] [--batch B] [--lr X] [--seed S] [--max-new-tokens N] [--temperature T]
        ppo: [--minibatch M] [--epochs E] [--kl-coef C] [--kl k1|k3] [--target-kl K] [--vf-coef V] [--score-clip S]
        grpo: [--generations G] [--beta B] [--iterations I];  rs: [--n N] [--keep K] [--threshold X]
        dpo/reward: [--seq T] [--beta B] [--eval-fraction F] [--out DIR]`;

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

export async function rlTrain(a: Args): Promise<void> {
  const algo = a.str('algo');
  if (!(RL_ALGOS as readonly string[]).includes(algo))
    throw new Error(`--algo ${algo}: one of sft, ${RL_ALGOS.join(', ')}`);
  const md = await openModelDir(a.str('model'));
  const method = a.str('method', 'lora');
  const seed = a.int('seed', 0);
  const steps = a.int('steps', 20);
  const lr = a.num('lr', 1e-3);
  const logEvery = Math.max(1, a.int('log-every', 1));
  const ctx = await acquireNodeGpu({ tune: true });
  checkModelFits(
    md.config,
    { maxBufferBytes: ctx.limits.maxStorageBufferBindingSize, budgetBytes: 8 * 2 ** 30 },
    md.dir,
  );
  const be = gpuBackend(ctx);
  const baseSpecs = await loadCheckpointSpecs(md.config, md.reader);
  const tok = dataTokenizer(md.tokenizer, md.config);
  const padId = md.tokenizer.padId ?? md.tokenizer.eosId ?? 0;
  const eosIds = md.tokenizer.eosId !== null ? [md.tokenizer.eosId] : [];
  const decode = (ids: readonly number[]) => md.tokenizer.decode(ids, { skipSpecialTokens: true });
  const head = algo === 'ppo' ? 'value' : algo === 'reward' ? 'score' : null;
  ctx.arena.resetPeak();
  const model = RlModel.create(be, md.config, baseSpecs, { method, options: options(a), seed, lr, head });
  const disposers: Array<() => void> = [];

  const examples = async (): Promise<Example[] | null> => {
    const path = a.opt('data');
    if (!path) return null;
    const prepared = await prepareDataset(basename(path), new Uint8Array(readFileSync(path)), {
      onError: 'skip',
    });
    for (const issue of prepared.issues.slice(0, 5)) process.stderr.write(`skipped: ${issue.message}\n`);
    return prepared.examples;
  };
  const prompts = async (): Promise<PromptSet> => {
    const ex = await examples();
    if (!ex) {
      return {
        ids: DEFAULT_PROMPTS.map(
          (p) =>
            tokenizePrompt(tok, {
              kind: 'prompt_only',
              prompt: p,
              source: { file: 'built-in', row: 0 },
            } as Example).promptIds,
        ),
        texts: [...DEFAULT_PROMPTS],
      };
    }
    const set = promptSet(tok, ex, decode, a.int('max-prompt-length', 64));
    if (set.ids.length === 0) throw new Error(`${a.opt('data')}: no example with a prompt`);
    return set;
  };
  const reward = async (): Promise<RewardFn> => {
    const spec = parseRewardSpec(a.str('reward', 'sentiment'));
    if (spec.kind === 'js') {
      const r = jsReward(readFileSync(spec.file, 'utf8'), {
        name: spec.file,
        timeoutMs: a.int('reward-timeout-ms', 2000),
      });
      disposers.push(r.dispose);
      return r;
    }
    if (spec.kind === 'model') {
      const meta = JSON.parse(readFileSync(join(spec.dir, 'reward_model.json'), 'utf8')) as {
        method: string;
        options: Record<string, OptionValue>;
      };
      const rm = RlModel.create(be, md.config, baseSpecs, {
        method: meta.method,
        options: meta.options,
        seed,
        lr: 0,
        head: 'score',
      });
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
      disposers.push(() => rm.dispose());
      return modelReward(rm, (t) => tok.encode(t), padId);
    }
    return builtinReward(spec);
  };
  const pairs = async (): Promise<{ train: TokenizedPair[]; held: TokenizedPair[] }> => {
    const ex = await examples();
    if (!ex) throw new Error(`--algo ${algo} needs --data with preference pairs (chosen/rejected)`);
    const t = tokenizePairs(tok, ex, { maxLength: a.int('seq', 64) });
    const s = splitTrainEval(t.examples, {
      evalFraction: a.num('eval-fraction', algo === 'reward' ? 0.2 : 0),
      seed,
    });
    return { train: [...s.train], held: [...s.eval] };
  };
  const sampling = {
    maxNewTokens: a.int('max-new-tokens', 16),
    temperature: a.num('temperature', algo === 'ppo' ? PPO_DEFAULTS.temperature : 1),
  };
  let runner: RlRunner;
  let rmRunner: RewardRunner<GpuRegion, GpuRegion> | null = null;
  if (algo === 'ppo' || algo === 'rs' || algo === 'grpo') {
    const env = { model, decode, eosIds, padId, reward: await reward() };
    const set = await prompts();
    if (algo === 'ppo') {
      const tk = a.opt('target-kl');
      const kl = a.str('kl', 'k1');
      if (kl !== 'k1' && kl !== 'k3') throw new Error(`--kl ${kl}: k1 or k3`);
      runner = new PpoRunner(env, set, {
        ...PPO_DEFAULTS,
        ...sampling,
        steps,
        lr,
        seed,
        batch: a.int('batch', PPO_DEFAULTS.batch),
        miniBatch: a.int('minibatch', PPO_DEFAULTS.miniBatch),
        epochs: a.int('epochs', PPO_DEFAULTS.epochs),
        klCoef: a.num('kl-coef', PPO_DEFAULTS.klCoef),
        kl,
        targetKl: tk === undefined ? null : a.num('target-kl'),
        vfCoef: a.num('vf-coef', PPO_DEFAULTS.vfCoef),
        scoreClip: a.opt('score-clip') === undefined ? null : a.num('score-clip'),
      });
    } else if (algo === 'grpo') {
      runner = new GrpoRunner(env, set, {
        ...GRPO_DEFAULTS,
        ...sampling,
        steps,
        lr,
        seed,
        batch: a.int('batch', GRPO_DEFAULTS.batch),
        generations: a.int('generations', GRPO_DEFAULTS.generations),
        iterations: a.int('iterations', GRPO_DEFAULTS.iterations),
        beta: a.num('beta', GRPO_DEFAULTS.beta),
      });
    } else {
      const th = a.opt('threshold');
      runner = new RsRunner(env, set, {
        ...RS_DEFAULTS,
        ...sampling,
        steps,
        lr,
        seed,
        batch: a.int('batch', RS_DEFAULTS.batch),
        n: a.int('n', RS_DEFAULTS.n),
        keep: a.int('keep', RS_DEFAULTS.keep),
        threshold: th === undefined ? null : a.num('threshold'),
        sftEpochs: a.int('epochs', RS_DEFAULTS.sftEpochs),
        miniBatch: a.int('minibatch', RS_DEFAULTS.miniBatch),
      });
    }
  } else {
    const { train, held } = await pairs();
    if (algo === 'dpo') {
      runner = new DpoRunner(model, train, padId, {
        ...DPO_DEFAULTS,
        steps,
        lr,
        batch: a.int('batch', DPO_DEFAULTS.batch),
        beta: a.num('beta', DPO_DEFAULTS.beta),
      });
    } else {
      rmRunner = new RewardRunner(model, train, held, padId, {
        ...REWARD_DEFAULTS,
        steps,
        lr,
        batch: a.int('batch', REWARD_DEFAULTS.batch),
      });
      runner = rmRunner;
    }
  }
  print({ algo, method, trainable_params: model.ps.trainableCount, total_params: model.ps.totalCount });
  const t0 = performance.now();
  const history: RlMetrics[] = [];
  try {
    while (!runner.done) {
      const m = await runner.step();
      history.push(m);
      if (!Number.isFinite(m.loss)) throw new Error(`step ${m.step}: the loss is ${m.loss}; lower --lr`);
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
    const out = a.opt('out');
    if (out) {
      const saved = await model.adapter.save(md.dir);
      mkdirSync(out, { recursive: true });
      writeFileSync(join(out, 'adapter_config.json'), saved.files.config);
      writeFileSync(join(out, 'adapter_model.safetensors'), saved.files.weights);
      if (algo === 'reward') {
        const w = Float32Array.from(await model.ps.read('score.weight'));
        writeFileSync(
          join(out, 'reward_head.safetensors'),
          writeSafetensors({ 'score.weight': { dtype: 'F32', shape: [1, md.config.hiddenSize], data: w } }),
        );
        writeFileSync(
          join(out, 'reward_model.json'),
          `${JSON.stringify({ method, options: options(a), base_model: md.dir }, null, 2)}\n`,
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
