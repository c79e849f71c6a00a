// `cli compare` end to end on the built-in model, run as a user runs it (a child process, flags), with a
// tiny budget: every run prints its line, the sweep keeps the rate with the lowest eval loss, the seeded
// runs use that rate with fresh seeds, and the last line's table is the mean and sample sd of the seeded
// lines (recomputed here by hand, not with the code under test); --out gets the report and its charts.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const tmp = mkdtempSync(join(tmpdir(), 'cli-compare-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

interface RunLine {
  method: string;
  phase: 'sweep' | 'seed';
  lr: number;
  seed: number;
  eval_loss: number | null;
  exact_match: number | null;
  trainable_params: number;
  peak_bytes: number;
  tokens_per_s: number;
  latency_ms: number | null;
}

const mean = (xs: number[]) => xs.reduce((a, x) => a + x, 0) / xs.length;
const sd = (xs: number[]) => Math.sqrt(xs.reduce((a, x) => a + (x - mean(xs)) ** 2, 0) / (xs.length - 1));

describe('cli compare', () => {
  it('prints a line per run and a table that is their mean ± sd per method', { timeout: 600_000 }, () => {
    const out = join(tmp, 'report');
    const args = [
      '--import',
      'tsx',
      'src/cli/main.ts',
      'compare',
      '--model',
      'public/models/tiny-llama-brown',
      '--data',
      'public/datasets/feeling.jsonl',
      '--methods',
      'lora,ia3',
      '--lr-sweep',
      '--grid',
      '0,1',
      '--seeds',
      '2',
      '--steps',
      '3',
      '--batch',
      '2',
      '--seq',
      '16',
      '--samples',
      '1',
      '--out',
      out,
    ];
    const r = spawnSync('node', args, { encoding: 'utf8', env: process.env });
    expect(r.status, r.stderr).toBe(0);
    const lines = r.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    const runs = lines.slice(0, -1) as unknown as RunLine[];
    const { table } = lines.at(-1) as { table: Record<string, number | string | null>[] };
    expect(runs).toHaveLength(8); // 2 methods × (2 grid points + 2 seeds)
    expect(table.map((t) => t.method)).toEqual(['lora', 'ia3']);
    for (const [method, dflt] of [
      ['lora', 2e-4],
      ['ia3', 1e-2],
    ] as const) {
      const sweep = runs.filter((x) => x.method === method && x.phase === 'sweep');
      expect(sweep.map((x) => [x.lr, x.seed])).toEqual([
        [dflt, 0],
        [dflt * 10, 0],
      ]);
      const best = [...sweep].sort((a, b) => (a.eval_loss ?? 1e9) - (b.eval_loss ?? 1e9))[0];
      const seeded = runs.filter((x) => x.method === method && x.phase === 'seed');
      expect(seeded.map((x) => [x.lr, x.seed])).toEqual([
        [best.lr, 1],
        [best.lr, 2],
      ]);
      const row = table.find((t) => t.method === method);
      const evals = seeded.map((x) => x.eval_loss as number);
      expect(row?.lr).toBe(best.lr);
      expect(row?.seeds).toBe(2);
      expect(row?.eval_loss_mean).toBeCloseTo(mean(evals), 12);
      expect(row?.eval_loss_sd).toBeCloseTo(sd(evals), 12);
      expect(row?.exact_match_mean).toBeCloseTo(mean(seeded.map((x) => x.exact_match as number)), 12);
      expect(row?.trainable_params).toBe(seeded[0].trainable_params);
      expect(row?.peak_bytes).toBe(Math.max(...seeded.map((x) => x.peak_bytes)));
      expect(row?.latency_ms).toBeCloseTo(mean(seeded.map((x) => x.latency_ms as number)), 9);
      expect(Object.keys(row ?? {})).toEqual(
        expect.arrayContaining([
          'method',
          'lr',
          'seeds',
          'eval_loss_mean',
          'eval_loss_sd',
          'exact_match_mean',
          'trainable_params',
          'peak_bytes',
          'tokens_per_s',
          'latency_ms',
        ]),
      );
    }
    for (const f of ['report.md', 'loss.svg', 'eval-loss.svg', 'runs.json'])
      expect(existsSync(join(out, f)), f).toBe(true);
    const md = readFileSync(join(out, 'report.md'), 'utf8');
    const lora = table[0];
    expect(md).toContain(
      `| lora | ${lora.lr} | 2 | ${(lora.eval_loss_mean as number).toFixed(3)} ± ${(lora.eval_loss_sd as number).toFixed(3)} |`,
    );
    expect(readFileSync(join(out, 'loss.svg'), 'utf8')).toMatch(/^<svg[^>]*>[\s\S]*<polygon/);
  });

  it('refuses an unknown method before any training', () => {
    const r = spawnSync(
      'node',
      [
        '--import',
        'tsx',
        'src/cli/main.ts',
        'compare',
        '--model',
        'x',
        '--data',
        'y',
        '--methods',
        'lora,nope',
      ],
      { encoding: 'utf8' },
    );
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/nope/);
  });
});
