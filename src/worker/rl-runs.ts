// RL runs inside the training worker: turns a RunSpec with an `rl` part (rl-spec.ts) into a runner from
// src/train/rl (reward model, PPO, rejection sampling, DPO, GRPO) on the run's own device, with any
// registered PEFT method, and wraps it in the surface the worker's scheduler drives for SFT runs
// (stepOnce/settle/takePoints/flush/evalPoint/memory/dispose, plus ps/adapter/config for generation and
// export), so RL and SFT runs interleave in one loop. Each step's figures become MetricPoints with an `rl`
// part (docs/METHODS.md names) and tokens/s and ms/step over steady-state steps as SFT's (steady.ts), and a
// few of its rollouts go out as their own `rollouts` message.
// Rewards: the built-in specs, user JavaScript in a nested worker with a time limit (rewards/js.ts), or a
// finished reward-model run of this session, its trained tensors copied into the new run's reward model.
// In the worker every model of a run borrows the page's shared frozen base (model.base), so policy, reward
// model and the other runs hold the base once.

import type { Example } from '../data/types';
import type { ModelConfig } from '../formats/model-config';
import { type ByCategory, type GpuRegion, zeroByCategory } from '../gpu/arena';
import type { GpuContext } from '../gpu/context';
import { gpuBackend } from '../tensor/gpu-backend';
import { jsReward } from '../train/rewards/js';
import type { RlMetrics, RlRunner, Sample } from '../train/rl/common';
import {
  buildRlRun,
  createRewardModel,
  type RlModelInfo as EngineModelInfo,
  type RewardSource,
  type RlRunSettings,
  specReward,
} from '../train/rl/factory';
import type { RlModel } from '../train/rl/policy';
import { modelReward, type RewardRunner } from '../train/rl/reward';
import type { SftRunner } from '../train/sft';
import type { MetricPoint, SftCheckpoint, SftRunConfig } from '../train/sft-config';
import type { FromWorker, RunSpec } from './protocol';
import type { RlRunSpec } from './rl-spec';
import { type SpeedMark, steadySpeed } from './steady';

/** What the worker's scheduler, generation, latency and export code use of a run's runner. */
export type TrainingRunner = Pick<
  SftRunner,
  | 'ctx'
  | 'config'
  | 'ps'
  | 'adapter'
  | 'step'
  | 'done'
  | 'trainableParams'
  | 'totalParams'
  | 'stepOnce'
  | 'settle'
  | 'takePoints'
  | 'flush'
  | 'evalPoint'
  | 'memory'
  | 'checkpoint'
  | 'restore'
  | 'exactMatch'
  | 'dispose'
>;

/** Rollouts shown per step: enough to read, few enough to keep the message small. */
export const ROLLOUTS_PER_STEP = 6;

export interface RlModelInfo extends EngineModelInfo {
  name: string;
}

export interface RlRunInput {
  runId: string;
  ctx: GpuContext;
  model: RlModelInfo;
  examples: readonly Example[];
  config: SftRunConfig;
  rl: RlRunSpec;
  evalFraction: number;
  /** Sends a step's rollouts to the page. */
  onRollouts: (step: number, samples: Sample[]) => void;
}

/** Live RL runs by id: a later run's "model" reward reads a finished reward-model run from here. */
const handles = new Map<string, RlRunHandle>();

export class RlRunHandle implements TrainingRunner {
  private readonly ready: MetricPoint[] = [];
  private pending: Promise<void> | null = null;
  private failure: Error | null = null;
  private tokens = 0;
  private activeMs = 0;
  /** The first step's figures: speed is measured from here (steady.ts), as SFT runs measure theirs. */
  private warm: SpeedMark | null = null;
  private readonly disposers: (() => void)[] = [];
  private disposed = false;
  /** On the shared base: its memory figures are its own allocations' (counted under its id). */
  private owned = false;

  private constructor(
    readonly id: string,
    readonly ctx: GpuContext,
    readonly config: ModelConfig,
    readonly model: RlModel<GpuRegion, GpuRegion>,
    readonly runner: RlRunner,
    readonly spec: { config: SftRunConfig; rl: RlRunSpec },
    /** Tokens one step processes (completions of its rollouts, or its pairs), for the tokens axis. */
    private readonly tokensPerStep: (m: RlMetrics) => number,
    private readonly heldOut: RewardRunner<GpuRegion, GpuRegion> | null,
    readonly counts: { train: number; eval: number },
    private readonly onRollouts: (step: number, samples: Sample[]) => void,
  ) {}

  static async create(x: RlRunInput): Promise<RlRunHandle> {
    const owned = x.model.base !== undefined;
    const exit = owned ? x.ctx.arena.enter(x.runId) : () => undefined;
    const built = await buildRlRun({
      ...rlSettings(x.config, x.rl, x.evalFraction),
      be: gpuBackend(x.ctx),
      model: x.model,
      examples: x.examples,
      reward: rewardOf(x.rl),
    }).finally(exit);
    const h = new RlRunHandle(
      x.runId,
      x.ctx,
      x.model.config,
      built.model as RlModel<GpuRegion, GpuRegion>,
      built.runner,
      { config: x.config, rl: x.rl },
      built.tokensPerStep,
      built.heldOut as RewardRunner<GpuRegion, GpuRegion> | null,
      built.counts,
      x.onRollouts,
    );
    h.owned = owned;
    h.disposers.push(...built.disposers);
    handles.set(x.runId, h);
    return h;
  }

  get ps() {
    return this.model.ps;
  }

  get adapter() {
    return this.model.adapter;
  }

  get algo() {
    return this.spec.rl.algo;
  }

  get step(): number {
    return this.runner.stepsDone;
  }

  get done(): boolean {
    return this.runner.done && this.pending === null;
  }

  get trainableParams(): number {
    return this.model.ps.trainableCount;
  }

  get totalParams(): number {
    return this.model.ps.totalCount;
  }

  /** This run's memory: its own allocations (the shared base left out) when the base is shared. */
  private stats(): { current: ByCategory; peakTotal: number; atPeak: ByCategory } {
    return this.owned ? this.ctx.arena.statsOf(this.id) : this.ctx.arena.stats();
  }

  private point(loss: number | null, evalLoss: number | null, rl: MetricPoint['rl']): MetricPoint {
    const s = this.stats();
    return {
      step: this.runner.stepsDone,
      tokens: this.tokens,
      timeMs: this.activeMs,
      loss,
      evalLoss,
      lr: this.spec.config.lr,
      tokensPerS: this.activeMs > 0 ? (this.tokens * 1000) / this.activeMs : 0,
      memory: { ...s.current },
      peakBytes: s.peakTotal,
      peakByCategory: { ...s.atPeak },
      rl,
    };
  }

  /**
   * Starts one RL step (rollouts, scoring and the optimisation epochs, all in the runner's async step) and
   * returns; settle() waits for it. A failure of an earlier step is thrown here, as SftRunner does.
   */
  stepOnce(): void {
    if (this.failure) throw this.failure;
    if (this.runner.done || this.pending) return;
    const t0 = performance.now();
    // The step is async (rollouts, then updates): its allocations are this run's until it settles.
    const exit = this.owned ? this.ctx.arena.enter(this.id) : () => undefined;
    this.pending = this.runner
      .step()
      .finally(exit)
      .then((m) => {
        this.activeMs += performance.now() - t0;
        if (!Number.isFinite(m.loss))
          throw new Error(`step ${m.step}: the loss is ${m.loss}; lower the learning rate`);
        this.tokens += this.tokensPerStep(m);
        const { step: _s, loss, samples, ...rl } = m;
        const now = { ms: this.activeMs, tokens: this.tokens, step: m.step };
        this.warm ??= now;
        this.ready.push({ ...this.point(loss, null, rl), ...steadySpeed(this.warm, now) });
        if (samples?.length) this.onRollouts(m.step, samples.slice(0, ROLLOUTS_PER_STEP));
      })
      .catch((e: unknown) => {
        this.failure ??= e instanceof Error ? e : new Error(String(e));
      });
  }

  /** Waits for the step in flight (an RL step reads its figures back itself; there is no read queue). */
  async settle(_max: number): Promise<void> {
    const p = this.pending;
    if (p) await p;
    this.pending = null;
    if (this.failure && !this.disposed) throw this.failure;
  }

  takePoints(): MetricPoint[] {
    return this.ready.splice(0);
  }

  async flush(): Promise<MetricPoint[]> {
    await this.settle(0);
    return this.takePoints();
  }

  /** A reward model's held-out loss and accuracy (other algorithms have no eval split: null). */
  async evalPoint(): Promise<MetricPoint | null> {
    if (!this.heldOut) return null;
    const e = await this.heldOut.evaluate();
    if (!e) return null;
    return this.point(null, e.loss, { accuracy: e.accuracy });
  }

  memory(): ByCategory {
    return this.ctx.lost ? zeroByCategory() : { ...this.stats().current };
  }

  /** RL runners keep state beyond the weights (KL controller, prompt cursor): the playground saves no
   * checkpoints for them (checkpointEvery 0), and a reload restarts an RL run from step 0. */
  async checkpoint(): Promise<SftCheckpoint> {
    throw new Error('RL runs save no checkpoints');
  }

  restore(_ck: SftCheckpoint): void {
    throw new Error('RL runs cannot resume from a checkpoint; they start again');
  }

  async exactMatch(_eosIds: readonly number[]): Promise<number | null> {
    return null;
  }

  /**
   * Frees the run's buffers. A stop can come in the middle of a step (RL steps take seconds): the step's
   * buffers are freed when it settles, and settle() then returns quietly instead of reporting the failure
   * the destroyed device causes.
   */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    handles.delete(this.id);
    const free = () => {
      try {
        for (const d of this.disposers.splice(0)) d();
        this.runner.dispose();
        // Its ledger goes with it (a page may start many runs over its life).
        if (this.owned) this.ctx.arena.dropOwner(this.id);
      } catch {
        // A destroyed or lost device cannot free buffers; its context is gone with them.
      }
    };
    if (this.pending) void this.pending.then(free);
    else free();
  }
}

/**
 * What decides how the run trains, from the page's run spec: the hyperparameters (method, lr, steps, batch,
 * seq len, seed, weight decay, clipping, eval fraction) and the RL form's options. The CLI builds the same
 * object from its flags (cli/rl.ts), and the factory turns either into the runner.
 */
export function rlSettings(c: SftRunConfig, rl: RlRunSpec, evalFraction: number): RlRunSettings {
  const { algo, reward: _reward, ...options } = rl;
  return {
    algo,
    rl: options,
    train: {
      method: c.method,
      options: c.options,
      seed: c.seed,
      lr: c.lr,
      steps: c.steps,
      batch: c.batch,
      seqLen: c.seqLen,
      weightDecay: c.weightDecay,
      maxGradNorm: c.maxGradNorm,
      evalFraction,
      maxPromptLength: MAX_PROMPT_LENGTH,
    },
  };
}

/** Prompts longer than this are cut (the CLI's --max-prompt-length default is the same). */
export const MAX_PROMPT_LENGTH = 64;

/**
 * The online run's reward: a built-in spec, user JavaScript in its own worker, or a finished reward-model
 * run of this session copied onto the new run's device (devices share no buffers).
 */
function rewardOf(rl: RlRunSpec): RewardSource<GpuRegion, GpuRegion> {
  const r = rl.reward ?? { kind: 'spec', spec: 'sentiment' };
  if (r.kind === 'spec') return specReward(r.spec);
  if (r.kind === 'js')
    return async (x) => {
      const f = jsReward(r.code, { name: 'reward.js', timeoutMs: r.timeoutMs });
      x.onDispose(f.dispose);
      return f;
    };
  return async (x) => {
    const src = handles.get(r.runId);
    if (src?.algo !== 'reward')
      throw new Error(
        'the chosen reward-model run is not in the worker any more (after a reload, train it again)',
      );
    if (!src.runner.done) throw new Error('the chosen reward-model run has not finished yet');
    // The base weights (frozen), and the trained adapter and score head copied tensor by tensor.
    const rm = await createRewardModel(x.be, x.model, {
      method: src.spec.config.method,
      options: src.spec.config.options,
      seed: x.seed,
    });
    x.onDispose(() => rm.dispose());
    for (const t of rm.ps.trainable()) rm.ps.write(t.name, await src.ps.read(t.name));
    return modelReward(rm, x.encode, x.padId);
  };
}

/** The worker's entry point: an RL run for `spec` (which has an `rl` part) on `ctx`, posting its rollouts. */
export function createRlRun(
  spec: RunSpec,
  ctx: GpuContext,
  model: RlModelInfo,
  examples: readonly Example[],
  post: (m: FromWorker) => void,
): Promise<RlRunHandle> {
  if (!spec.rl) throw new Error(`run ${spec.id} is not an RL run`);
  return RlRunHandle.create({
    runId: spec.id,
    ctx,
    model,
    examples,
    config: spec.config,
    rl: spec.rl,
    evalFraction: spec.evalFraction,
    onRollouts: (step, samples) => post({ type: 'rollouts', runId: spec.id, step, samples }),
  });
}
