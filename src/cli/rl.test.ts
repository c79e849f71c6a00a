// End-to-end checks of `train --algo ...` (rl.ts) on the built-in model as a child process: PPO prints one
// JSON line per step with docs/METHODS.md's RL fields and a "done" summary; DPO on a two-pair file and GRPO with a
// user JavaScript reward run; bad flags end in a sentence. Each run loads the model and a device (~10 s on
// SwiftShader), so runs are one or two steps with short responses.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const MODEL = 'public/models/tiny-llama-brown';

function cli(...args: string[]): { code: number | null; out: string; err: string } {
  const r = spawnSync(
    process.execPath,
    ['--import', 'tsx', 'src/cli/main.ts', 'train', '--model', MODEL, ...args],
    {
      encoding: 'utf8',
      timeout: 150_000,
    },
  );
  return { code: r.status, out: r.stdout, err: r.stderr };
}

const jsonLines = (s: string) =>
  s
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Record<string, unknown>);

describe('npm run cli -- train --algo', () => {
  it('ppo: a metric line per step (reward_mean, kl, entropy, clipfrac, value_loss) and a done line', () => {
    const r = cli(
      '--algo',
      'ppo',
      '--method',
      'lora',
      '--reward',
      'sentiment',
      '--steps',
      '2',
      '--batch',
      '2',
      '--minibatch',
      '1',
      '--epochs',
      '1',
      '--max-new-tokens',
      '4',
    );
    expect(r.err).not.toMatch(/error:/);
    const lines = jsonLines(r.out);
    const steps = lines.filter((l) => typeof l.step === 'number');
    expect(steps.map((l) => l.step)).toEqual([1, 2]);
    for (const l of steps)
      for (const k of ['reward_mean', 'kl', 'entropy', 'clipfrac', 'value_loss', 'loss'])
        expect(Number.isFinite(l[k]), k).toBe(true);
    const done = lines.at(-1)!;
    expect(done.done).toBe(true);
    expect(done.algo).toBe('ppo');
    expect(Number.isFinite(done.reward_mean)).toBe(true);
  }, 160_000);

  it('dpo on preference pairs and grpo with a JavaScript reward', () => {
    const dir = mkdtempSync(join(tmpdir(), 'rl-cli-'));
    const pairs = join(dir, 'pairs.jsonl');
    writeFileSync(
      pairs,
      `${[
        { prompt: 'The food was', chosen: ' very good.', rejected: ' very bad.' },
        { prompt: 'The day was', chosen: ' happy.', rejected: ' sad.' },
      ]
        .map((x) => JSON.stringify(x))
        .join('\n')}\n`,
    );
    const d = cli('--algo', 'dpo', '--data', pairs, '--steps', '2', '--batch', '2', '--lr', '1e-2');
    expect(d.err).not.toMatch(/error:/);
    const dl = jsonLines(d.out);
    const first = dl.find((l) => l.step === 1)!;
    // At step 1 the adapter is the identity: the policy equals the reference, so the loss is log 2.
    expect(first.loss as number).toBeCloseTo(Math.LN2, 4);
    expect(dl.at(-1)!.done).toBe(true);
    const js = join(dir, 'reward.js');
    writeFileSync(js, 'function reward({ completion }) {\n  return completion.includes("the") ? 1 : 0;\n}\n');
    const g = cli(
      '--algo',
      'grpo',
      '--reward',
      `js:${js}`,
      '--steps',
      '1',
      '--batch',
      '1',
      '--generations',
      '2',
      '--max-new-tokens',
      '4',
    );
    expect(g.err).not.toMatch(/error:/);
    expect(jsonLines(g.out).at(-1)!.done).toBe(true);
  }, 160_000);

  it('bad flags end in a sentence', () => {
    const r = cli('--algo', 'ppo', '--reward', 'length:x');
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/--reward length:x: the length must be a whole number/);
    expect(cli('--algo', 'nope').err).toMatch(/--algo nope: one of sft, reward, ppo, rs, dpo, grpo/);
  });
});
