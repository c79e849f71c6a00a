// The one place an RL run is built, for the CLI (cli/rl.ts) and the page's worker (worker/rl-runs.ts) alike:
// the algorithm, its options (options.ts), the run's training settings, the model, the data examples and a
// reward become the policy model (base + PEFT method + head), the prompts or preference pairs, and the runner
// (reward model, PPO, rejection sampling, DPO, GRPO). `runnerConfig` is the pure part — the runner's config
// from the settings — so a test can check that both front ends configure the same runner.

import { splitTrainEval } from '../../data/split';
import { type TokenizedPair, tokenizePairs } from '../../data/tokenize';
import type { Example } from '../../data/types';
import type { ModelConfig } from '../../formats/model-config';
import type { TextTokenizer } from '../../formats/tokenizer';
import type { RawOptions } from '../../peft/types';
import type { Backend } from '../../tensor/backend';
import type { FrozenBase } from '../../tensor/frozen-base';
import type { ParamSpec } from '../../tensor/params';
import { builtinReward, parseRewardSpec, type RewardFn } from '../rewards/builtin';
import { dataTokenizer, specialIds } from '../tokenizer-adapter';
import type { RlMetrics, RlRunner } from './common';
import { DPO_DEFAULTS, type DpoConfig, DpoRunner } from './dpo';
import { GRPO_DEFAULTS, type GrpoConfig, GrpoRunner } from './grpo';
import type { RlAlgo, RlOptions } from './options';
import { type HeadKind, RlModel } from './policy';
import { PPO_DEFAULTS, type PpoConfig, PpoRunner } from './ppo';
import { promptSet } from './prompts';
import { REWARD_DEFAULTS, type RewardConfig, RewardRunner } from './reward';
import { RS_DEFAULTS, type RsConfig, RsRunner } from './rs';

/** The run's training settings (on the page: the hyperparameters; in the CLI: the common flags). */
export interface RlTrainSettings {
  method: string;
  options: RawOptions;
  seed: number;
  lr: number;
  steps: number;
  /** Prompts (online) or pairs (pairwise) per step. */
  batch: number;
  /** Preference pairs are cut to this many tokens. */
  seqLen: number;
  weightDecay: number;
  maxGradNorm: number;
  /** Reward models: the share of pairs held out for evaluation (other algorithms train on all). */
  evalFraction: number;
  /** Online algorithms: prompts are cut to this many tokens. */
  maxPromptLength: number;
}

/** Everything that decides how an RL run trains, apart from the model, the data and the reward. */
export interface RlRunSettings {
  algo: RlAlgo;
  rl: RlOptions;
  train: RlTrainSettings;
}

export type RlRunnerConfig =
  | { algo: 'ppo'; config: PpoConfig }
  | { algo: 'rs'; config: RsConfig }
  | { algo: 'grpo'; config: GrpoConfig }
  | { algo: 'dpo'; config: DpoConfig }
  | { algo: 'reward'; config: RewardConfig };

/** The runner's config: its defaults, overridden by the run's settings and its algorithm's options. */
export function runnerConfig(s: RlRunSettings): RlRunnerConfig {
  const { rl, train: t } = s;
  const sampling = { maxNewTokens: rl.maxNewTokens, temperature: rl.temperature };
  const common = { steps: t.steps, lr: t.lr, seed: t.seed, batch: t.batch };
  switch (s.algo) {
    case 'ppo':
      return { algo: 'ppo', config: { ...PPO_DEFAULTS, ...sampling, ...common, ...rl.ppo } };
    case 'rs':
      return { algo: 'rs', config: { ...RS_DEFAULTS, ...sampling, ...common, ...rl.rs } };
    case 'grpo':
      return { algo: 'grpo', config: { ...GRPO_DEFAULTS, ...sampling, ...common, ...rl.grpo } };
    case 'dpo':
      return {
        algo: 'dpo',
        config: { ...DPO_DEFAULTS, steps: t.steps, lr: t.lr, batch: t.batch, ...rl.dpo },
      };
    case 'reward':
      return { algo: 'reward', config: { ...REWARD_DEFAULTS, steps: t.steps, lr: t.lr, batch: t.batch } };
  }
}

/** The head each algorithm's model carries: PPO's value head, a reward model's score head. */
export const headOf = (algo: RlAlgo): HeadKind =>
  algo === 'ppo' ? 'value' : algo === 'reward' ? 'score' : null;

export interface RlModelInfo {
  config: ModelConfig;
  tokenizer: TextTokenizer;
  /** The base's specs: with values (each model uploads its own copy), or none read when `base` is given. */
  baseSpecs: readonly ParamSpec[];
  /**
   * The frozen base shared by every model on the device (policy, reference, reward model): their frozen
   * tensors are borrowed from it. Its storage type is the backend's (`be` of the run), hence unknown here.
   */
  base?: FrozenBase<unknown, unknown>;
}

/** A model of the run: on the shared base when there is one, else on its own copy of the base specs. */
function modelOn<S, I>(
  be: Backend<S, I>,
  m: RlModelInfo,
  o: Parameters<typeof RlModel.create>[3],
): Promise<RlModel<S, I>> {
  // The base was made on this run's backend (the worker and the CLI build both from one device).
  const base = m.base as FrozenBase<S, I> | undefined;
  return base
    ? RlModel.createOnBase(be, m.config, base, m.baseSpecs, o)
    : Promise.resolve(RlModel.create(be, m.config, m.baseSpecs, o));
}

/** What a reward source gets to build its function on the run's device (a reward model needs all of it). */
export interface RewardContext<S, I> {
  be: Backend<S, I>;
  model: RlModelInfo;
  /** Text → ids, as the data is tokenised. */
  encode: (text: string) => number[];
  padId: number;
  seed: number;
  /** Registers what to free with the run (a JavaScript reward's worker, a reward model's buffers). */
  onDispose: (d: () => void) => void;
}

export type RewardSource<S, I> = (x: RewardContext<S, I>) => Promise<RewardFn>;

/** A built-in reward by its spec string (`sentiment`, `length:8`, …). */
export const specReward =
  <S, I>(spec: string): RewardSource<S, I> =>
  async () =>
    builtinReward(parseRewardSpec(spec));

/** A reward model's frame on `be`: the base (frozen), the method's adapter and a score head, not trained. */
export function createRewardModel<S, I>(
  be: Backend<S, I>,
  model: RlModelInfo,
  o: { method: string; options: RawOptions; seed: number },
): Promise<RlModel<S, I>> {
  return modelOn(be, model, { ...o, lr: 0, head: 'score' });
}

export interface RlBuildInput<S, I> extends RlRunSettings {
  be: Backend<S, I>;
  model: RlModelInfo;
  examples: readonly Example[];
  /** Online algorithms' reward; default the built-in sentiment reward. */
  reward?: RewardSource<S, I>;
}

export interface RlBuild<S, I> {
  model: RlModel<S, I>;
  runner: RlRunner;
  /** The reward-model runner (held-out evaluation), or null. */
  heldOut: RewardRunner<S, I> | null;
  /** Prompts (online) or train/held-out pairs (pairwise). */
  counts: { train: number; eval: number };
  /** Tokens one step processes (completions of its rollouts, or its pairs), for a tokens axis. */
  tokensPerStep: (m: RlMetrics) => number;
  /** To call when the run ends (the runner's own dispose frees the model). */
  disposers: (() => void)[];
}

/** The run: model, data, reward and runner. On failure everything built so far is freed. */
export async function buildRlRun<S, I>(x: RlBuildInput<S, I>): Promise<RlBuild<S, I>> {
  const { model: m, train: t } = x;
  const tok = dataTokenizer(m.tokenizer, m.config);
  const { padId, eosIds } = specialIds(m.tokenizer, m.config);
  const decode = (ids: readonly number[]) => m.tokenizer.decode(ids, { skipSpecialTokens: true });
  const rc = runnerConfig(x);
  const disposers: (() => void)[] = [];
  const model = await modelOn(x.be, m, {
    method: t.method,
    options: t.options,
    seed: t.seed,
    lr: t.lr,
    head: headOf(x.algo),
    weightDecay: t.weightDecay,
    maxGradNorm: t.maxGradNorm,
  });
  try {
    if (rc.algo === 'ppo' || rc.algo === 'rs' || rc.algo === 'grpo') {
      const set = promptSet(tok, x.examples, decode, t.maxPromptLength);
      if (set.ids.length === 0)
        throw new Error(`${rc.algo}: the dataset has no example with a prompt to sample from`);
      const reward = await (x.reward ?? specReward<S, I>('sentiment'))({
        be: x.be,
        model: m,
        encode: (text) => tok.encode(text),
        padId,
        seed: t.seed,
        onDispose: (d) => disposers.push(d),
      });
      const env = { model, decode, eosIds, padId, reward };
      const counts = { train: set.ids.length, eval: 0 };
      const len = (p: RlMetrics) => (p.response_len ?? 0) * t.batch;
      if (rc.algo === 'ppo')
        return {
          model,
          runner: new PpoRunner(env, set, rc.config),
          heldOut: null,
          counts,
          tokensPerStep: len,
          disposers,
        };
      if (rc.algo === 'grpo')
        return {
          model,
          runner: new GrpoRunner(env, set, rc.config),
          heldOut: null,
          counts,
          tokensPerStep: (p) => len(p) * rc.config.generations,
          disposers,
        };
      return {
        model,
        runner: new RsRunner(env, set, rc.config),
        heldOut: null,
        counts,
        tokensPerStep: (p) => len(p) * rc.config.n,
        disposers,
      };
    }
    const pairs = tokenizePairs(tok, x.examples, { maxLength: t.seqLen });
    if (pairs.examples.length === 0)
      throw new Error(
        `${rc.algo}: no preference pair could be tokenized${pairs.issues[0] ? ` (${pairs.issues[0].message})` : ''}`,
      );
    const split = splitTrainEval<TokenizedPair>(pairs.examples, {
      evalFraction: rc.algo === 'reward' ? t.evalFraction : 0,
      seed: t.seed,
    });
    const counts = { train: split.train.length, eval: split.eval.length };
    const pairLen =
      split.train.reduce((a, p) => a + p.chosen.inputIds.length + p.rejected.inputIds.length, 0) /
      split.train.length;
    const tokensPerStep = () => Math.round(pairLen * t.batch);
    if (rc.algo === 'dpo')
      return {
        model,
        runner: new DpoRunner(model, split.train, padId, rc.config),
        heldOut: null,
        counts,
        tokensPerStep,
        disposers,
      };
    const heldOut = new RewardRunner(model, split.train, split.eval, padId, rc.config);
    return { model, runner: heldOut, heldOut, counts, tokensPerStep, disposers };
  } catch (e) {
    for (const d of disposers) d();
    model.dispose();
    throw e;
  }
}
