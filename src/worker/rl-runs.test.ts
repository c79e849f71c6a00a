// The worker's RL runs (rl-runs.ts) on the built-in model in Node (Dawn/SwiftShader): a reward-model run on
// four preference pairs logs loss and batch accuracy per step and a held-out eval point; a PPO run scored by
// that finished reward model (copied onto its own device) gives reward_mean, KL, entropy, clipfrac and value
// loss, its rollouts as text with rewards equal to the reward model's scores, and memory by category with the
// frozen base counted once for the policy and once for the reward model's copy; a stop in the middle of a
// step ends quietly. As the worker runs them, on one device and one shared frozen base: the reward-model run,
// PPO's policy and its copy of the reward model all borrow the base, held once, and the runs' own figures
// leave it out. Tiny steps (~20-40 s here).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openModelDir } from '../cli/model-dir';
import { prepareDataset } from '../data/prepare';
import type { Example } from '../data/types';
import { estimateWeightBytes } from '../formats/model-config';
import type { TensorReader } from '../formats/safetensors';
import type { GpuContext } from '../gpu/context';
import { acquireNodeGpu } from '../gpu/node';
import { baseSpecsOf, checkpointBaseSource, loadCheckpointSpecs } from '../model/load';
import { FrozenBase } from '../tensor/frozen-base';
import { gpuBackend } from '../tensor/gpu-backend';
import type { Sample } from '../train/rl/common';
import { SFT_DEFAULTS, type SftRunConfig } from '../train/sft-config';
import { type RlModelInfo, RlRunHandle } from './rl-runs';
import { RL_FORM_DEFAULTS } from './rl-spec';

const PAIRS = [
  ['It was a', ' good day.', ' bad day.'],
  ['She felt', ' happy.', ' sad.'],
  ['The people were', ' kind.', ' cruel.'],
  ['This is a', ' fine book.', ' poor book.'],
]
  .map(([prompt, chosen, rejected]) => JSON.stringify({ prompt, chosen, rejected }))
  .join('\n');

const config = (o: Partial<SftRunConfig>): SftRunConfig => ({
  ...SFT_DEFAULTS,
  method: 'lora',
  options: { r: 4 },
  lr: 1e-3,
  steps: 2,
  batch: 2,
  seqLen: 16,
  ...o,
});

let model: RlModelInfo & { reader: TensorReader };
let examples: readonly Example[];
const ctxs: GpuContext[] = [];

beforeAll(async () => {
  const md = await openModelDir('public/models/tiny-llama-brown');
  model = { ...md, name: 'tiny-llama-brown', baseSpecs: await loadCheckpointSpecs(md.config, md.reader) };
  examples = (await prepareDataset('pairs.jsonl', new TextEncoder().encode(PAIRS), { onError: 'stop' }))
    .examples;
}, 60_000);

afterAll(() => {
  for (const c of ctxs) c.destroy();
});

async function device(): Promise<GpuContext> {
  const c = await acquireNodeGpu({ quiet: true });
  ctxs.push(c);
  return c;
}

describe('RL runs in the worker', () => {
  let rewardRun: RlRunHandle;

  it('a reward model logs loss and accuracy per step and a held-out point', async () => {
    rewardRun = await RlRunHandle.create({
      runId: 'rm',
      ctx: await device(),
      model,
      examples,
      config: config({}),
      rl: { ...RL_FORM_DEFAULTS, algo: 'reward' },
      evalFraction: 0.25,
      onRollouts: () => {
        throw new Error('a reward model has no rollouts');
      },
    });
    expect(rewardRun.counts).toEqual({ train: 3, eval: 1 });
    while (!rewardRun.done) {
      rewardRun.stepOnce();
      await rewardRun.settle(2);
    }
    const pts = rewardRun.takePoints();
    expect(pts.map((p) => p.step)).toEqual([1, 2]);
    for (const p of pts) {
      expect(Number.isFinite(p.loss)).toBe(true);
      expect([0, 0.5, 1]).toContain(p.rl?.accuracy);
      expect(p.tokens).toBeGreaterThan(0);
    }
    const e = await rewardRun.evalPoint();
    expect(e?.evalLoss).toBeGreaterThan(0);
    expect([0, 1]).toContain(e?.rl?.accuracy);
    expect(await rewardRun.exactMatch([])).toBeNull();
  }, 90_000);

  it('PPO scored by the finished reward model: RL figures, rollouts with the model scores, memory', async () => {
    const rollouts: Sample[][] = [];
    const ppo = await RlRunHandle.create({
      runId: 'ppo',
      ctx: await device(),
      model,
      examples,
      config: config({ steps: 1, lr: 1e-3 }),
      rl: {
        ...RL_FORM_DEFAULTS,
        algo: 'ppo',
        maxNewTokens: 4,
        reward: { kind: 'model', runId: 'rm' },
        ppo: { ...RL_FORM_DEFAULTS.ppo, epochs: 1, miniBatch: 1 },
      },
      evalFraction: 0,
      onRollouts: (_step, s) => rollouts.push(s),
    });
    expect(ppo.counts.train).toBe(4);
    ppo.stepOnce();
    await ppo.settle(2);
    const [p] = ppo.takePoints();
    expect(p.step).toBe(1);
    for (const k of ['reward_mean', 'kl', 'entropy', 'clipfrac', 'value_loss', 'response_len'] as const)
      expect(Number.isFinite(p.rl?.[k]), k).toBe(true);
    expect(rollouts).toHaveLength(1);
    expect(rollouts[0]).toHaveLength(2);
    for (const s of rollouts[0]) {
      expect(['It was a', 'She felt']).toContain(s.prompt);
      expect(typeof s.completion).toBe('string');
    }
    expect(p.rl?.reward_mean).toBeCloseTo((rollouts[0][0].reward + rollouts[0][1].reward) / 2, 5);
    // The reward model's scores: the same texts scored by the finished run's head give the same values.
    const { modelReward } = await import('../train/rl/reward');
    const { dataTokenizer } = await import('../train/tokenizer-adapter');
    const tok = dataTokenizer(model.tokenizer, model.config);
    const again = await modelReward(
      (rewardRun as unknown as { model: Parameters<typeof modelReward>[0] }).model,
      (t) => tok.encode(t),
      model.tokenizer.padId ?? model.tokenizer.eosId ?? 0,
    )(rollouts[0]);
    for (const [i, s] of rollouts[0].entries()) expect(s.reward).toBeCloseTo(again[i], 4);
    // Two copies of the frozen base on the PPO device (policy, reward model), each 3.95M f32 parameters.
    const mem = ppo.memory();
    expect(mem.frozen).toBeGreaterThanOrEqual(2 * 3_950_848 * 4 * 0.9);
    expect(mem.trainable).toBeGreaterThan(0);
    expect(ppo.done).toBe(true);
    ppo.dispose();
    rewardRun.dispose();
  }, 120_000);

  it('a stop in the middle of a step frees the run when the step settles, without reporting the failure', async () => {
    const ctx = await acquireNodeGpu({ quiet: true });
    const grpo = await RlRunHandle.create({
      runId: 'stopped',
      ctx,
      model,
      examples,
      config: config({ steps: 2 }),
      rl: {
        ...RL_FORM_DEFAULTS,
        algo: 'grpo',
        maxNewTokens: 3,
        grpo: { ...RL_FORM_DEFAULTS.grpo, generations: 2, beta: 0.04 },
      },
      evalFraction: 0,
      onRollouts: () => {},
    });
    grpo.stepOnce();
    // What the worker's stop does: dispose the runner, then destroy the device, while the step is in flight.
    grpo.dispose();
    ctx.destroy();
    await expect(grpo.settle(2)).resolves.toBeUndefined();
    expect(grpo.takePoints().length).toBeLessThanOrEqual(1);
  }, 60_000);

  it('refuses a model reward from a run that is gone, and data without prompts', async () => {
    const ctx = await device();
    await expect(
      RlRunHandle.create({
        runId: 'x',
        ctx,
        model,
        examples,
        config: config({}),
        rl: { ...RL_FORM_DEFAULTS, algo: 'grpo', reward: { kind: 'model', runId: 'rm' } },
        evalFraction: 0,
        onRollouts: () => {},
      }),
    ).rejects.toThrow(/reward-model run is not in the worker any more/);
    const text = (await prepareDataset('t.txt', new TextEncoder().encode('just text\nmore text\n'), {}))
      .examples;
    await expect(
      RlRunHandle.create({
        runId: 'y',
        ctx,
        model,
        examples: text,
        config: config({}),
        rl: { ...RL_FORM_DEFAULTS, algo: 'rs' },
        evalFraction: 0,
        onRollouts: () => {},
      }),
    ).rejects.toThrow(/rs: the dataset has no example with a prompt/);
  }, 60_000);

  it('on one device and one shared base (the worker): reward model and PPO hold the base once', async () => {
    const ctx = await device();
    const base = new FrozenBase(
      gpuBackend(ctx),
      checkpointBaseSource(model.config, model.reader),
      'f32',
      (f) => ctx.arena.withOwner('base', f),
    );
    const shared: RlModelInfo = {
      ...model,
      baseSpecs: baseSpecsOf(base.source),
      base: base as FrozenBase<unknown, unknown>,
    };
    const rm = await RlRunHandle.create({
      runId: 'rm-shared',
      ctx,
      model: shared,
      examples,
      config: config({ steps: 1 }),
      rl: { ...RL_FORM_DEFAULTS, algo: 'reward' },
      evalFraction: 0.25,
      onRollouts: () => {},
    });
    rm.stepOnce();
    await rm.settle(2);
    const ppo = await RlRunHandle.create({
      runId: 'ppo-shared',
      ctx,
      model: shared,
      examples,
      config: config({ steps: 1 }),
      rl: {
        ...RL_FORM_DEFAULTS,
        algo: 'ppo',
        maxNewTokens: 4,
        reward: { kind: 'model', runId: 'rm-shared' },
        ppo: { ...RL_FORM_DEFAULTS.ppo, epochs: 1, miniBatch: 1 },
      },
      evalFraction: 0,
      onRollouts: () => {},
    });
    ppo.stepOnce();
    await ppo.settle(2);
    const [p] = ppo.takePoints();
    expect(Number.isFinite(p.rl?.reward_mean)).toBe(true);
    // Three models (the reward run's, PPO's policy, PPO's copy of the reward model) borrow every base tensor.
    expect(base.users).toBe(3);
    expect(ctx.arena.statsOf('base').current.frozen).toBe(estimateWeightBytes(model.config, 'f32'));
    expect(ctx.arena.stats().current.frozen).toBe(estimateWeightBytes(model.config, 'f32'));
    for (const r of [rm, ppo]) {
      expect(r.memory().frozen).toBe(0);
      expect(r.memory().trainable).toBeGreaterThan(0);
    }
    expect(p.memory.frozen).toBe(0);
    ppo.dispose();
    rm.dispose();
    expect(base.users).toBe(0);
    expect(ctx.arena.stats().current.frozen).toBe(0);
  }, 120_000);
});
