// End-to-end checks of the CLI's `generate` and `eval` commands (generate.ts, eval.ts) on the built-in model,
// run as a user runs them (a child process through tsx, on Dawn or its SwiftShader fallback): streamed greedy
// text equals the same prompt's row in a batched --json run; eval's loss is a mean over target tokens (the same
// for --batch 1 and --batch 3) with perplexity = exp(loss); bad flags end in a sentence. Each run loads the
// model and a device (~10 s on SwiftShader), so there are few of them.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const MODEL = 'public/models/tiny-llama-brown';

function cli(...args: string[]): { code: number | null; out: string; err: string } {
  const r = spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args], {
    encoding: 'utf8',
    timeout: 120_000,
  });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

const jsonLines = (s: string) =>
  s
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Record<string, unknown>);

describe('npm run cli -- generate', () => {
  it('streams greedy text that equals the batched --json row of the same prompt', () => {
    const one = cli('generate', '--model', MODEL, '--prompt', 'The jury said', '--max-new-tokens', '6');
    expect(one.code, one.err).toBe(0);
    expect(one.out.startsWith('The jury said')).toBe(true);
    const stats = jsonLines(one.err).at(-1)!;
    expect(stats.new_tokens).toBe(6);
    const many = cli(
      'generate',
      '--model',
      MODEL,
      '--prompt',
      'It was',
      '--prompt',
      'The jury said',
      '--max-new-tokens',
      '6',
    );
    expect(many.code, many.err).toBe(0);
    const rows = jsonLines(many.out);
    expect(rows.map((r) => r.prompt)).toEqual(['It was', 'The jury said']);
    // Left-padded in a batch with a shorter prompt, the second row continues exactly as when alone.
    expect(`The jury said${rows[1].text}\n`).toBe(one.out);
  }, 120_000);

  it('refuses a request past the model positions with the figures', () => {
    const r = cli('generate', '--model', MODEL, '--prompt', 'Hi', '--max-new-tokens', '500');
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/error: generate: .*500 new tokens need \d+ positions; the model has 128/);
  }, 60_000);
});

describe('npm run cli -- eval', () => {
  it('prints the token-weighted loss and its perplexity, independent of --batch', () => {
    const dir = mkdtempSync(join(tmpdir(), 'cli-eval-'));
    const data = join(dir, 'eval.jsonl');
    writeFileSync(
      data,
      [
        'The jury said it did find that many of the laws are outmoded.',
        'It was a long day.',
        'The committee met in the morning and talked about the new school for an hour.',
      ]
        .map((text) => JSON.stringify({ text }))
        .join('\n'),
    );
    const r1 = cli('eval', '--model', MODEL, '--data', data, '--batch', '1', '--seq', '32');
    const r3 = cli('eval', '--model', MODEL, '--data', data, '--batch', '3', '--seq', '32');
    expect(r1.code, r1.err).toBe(0);
    expect(r3.code, r3.err).toBe(0);
    const [a] = jsonLines(r1.out);
    const [b] = jsonLines(r3.out);
    expect(a.examples).toBe(3);
    expect(a.batches).toBe(3);
    expect(b.batches).toBe(1);
    expect(a.target_tokens).toBe(b.target_tokens);
    expect(Math.abs((a.eval_loss as number) - (b.eval_loss as number))).toBeLessThan(1e-5);
    expect(a.perplexity as number).toBeCloseTo(Math.exp(a.eval_loss as number), 6);
  }, 120_000);
});
