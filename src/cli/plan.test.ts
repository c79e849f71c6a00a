// `npm run cli -- plan` as a user runs it (a child process through tsx; no GPU is opened): the JSON line it
// prints last for a small config equals predictTrainingMemory called directly on the same model with real
// values (the classic path: checkpoint-shaped specs with data, planAdapter, the method's hooks), category by
// category; --methods counts the base once; --set goes to the methods that have the option; bad flags end in
// a sentence; a Hub model is planned from its config.json alone, its weights never requested.
import { spawn, spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { startHubServer } from '../../test/helpers/hub-server';
import { toConfigJson } from '../formats/model-config-json';
import { randomModelParams } from '../model/init';
import { TINY_LLAMA } from '../model/testing';
import { Adapter, planAdapter } from '../peft/adapter';
import { getMethod } from '../peft/registry';
import { predictTrainingMemory } from '../train/memory';

function cli(...args: string[]): { code: number | null; out: string; err: string } {
  const r = spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'plan', ...args], {
    encoding: 'utf8',
    timeout: 120_000,
  });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

const lastLine = (s: string) => JSON.parse(s.trim().split('\n').at(-1)!) as Record<string, unknown>;

function modelDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'plan-'));
  writeFileSync(join(dir, 'config.json'), JSON.stringify(toConfigJson(TINY_LLAMA)));
  return dir;
}

/** The step on the meter the classic way: real f32 values, as the trainer's own prediction does. */
function direct(method: string, raw: Record<string, string>, B: number, T: number) {
  const m = getMethod(method);
  const p = planAdapter(m, raw, TINY_LLAMA, randomModelParams(TINY_LLAMA, 1), 0);
  return predictTrainingMemory(TINY_LLAMA, p.specs, (ps) => new Adapter(m, p, TINY_LLAMA, ps).hooks, {
    B,
    T,
  });
}

describe('npm run cli -- plan', () => {
  it('prints the peak and categories predictTrainingMemory gives for the same model and method', () => {
    const dir = modelDir();
    const r = cli('--model', dir, '--method', 'lora', '--set', 'r=4', '--batch', '3', '--seq', '10');
    expect(r.code, r.err).toBe(0);
    const line = lastLine(r.out);
    const ref = direct('lora', { r: '4' }, 3, 10);
    expect(line.predicted_peak_bytes).toBe(ref.peakTotal);
    expect(line.by_category).toEqual(ref.atPeak);
    expect(line.shared_frozen_bytes).toBe(ref.atPeak.frozen);
    const runs = line.runs as Array<Record<string, unknown>>;
    expect(runs.map((x) => [x.method, x.predicted_peak_bytes])).toEqual([['lora', ref.peakTotal]]);
    expect(runs[0].trainable_params).toBe(4 * (16 + 16) * 2 + 4 * (16 + 8) * 2);
  });

  it('--methods: the base once, each run its own state, the largest step; --set only where the option exists', () => {
    const dir = modelDir();
    const r = cli('--model', dir, '--methods', 'lora,ia3', '--set', 'r=2', '--batch', '2', '--seq', '8');
    expect(r.code, r.err).toBe(0);
    const line = lastLine(r.out);
    const lora = direct('lora', { r: '2' }, 2, 8);
    const ia3 = direct('ia3', {}, 2, 8);
    const base = lora.atPeak.frozen;
    expect(ia3.atPeak.frozen).toBe(base);
    expect(line.shared_frozen_bytes).toBe(base);
    const persistent = (s: typeof lora) => s.atPeak.trainable + s.atPeak.gradients + s.atPeak.optimizer;
    const step = (s: typeof lora) => s.peakTotal - s.atPeak.frozen - persistent(s);
    expect(line.predicted_peak_bytes).toBe(
      base + persistent(lora) + persistent(ia3) + Math.max(step(lora), step(ia3)),
    );
    const runs = line.runs as Array<Record<string, number>>;
    expect(runs.map((x) => x.predicted_peak_bytes)).toEqual([lora.peakTotal, ia3.peakTotal]);
  });

  it('refuses what it cannot plan with a sentence', () => {
    const dir = modelDir();
    const bad = cli('--model', dir, '--methods', 'lora,ia3', '--set', 'rank=2', '--batch', '2', '--seq', '8');
    expect(bad.code).toBe(1);
    expect(bad.err).toContain('--set rank: none of lora, ia3 has this option');
    const dtype = cli(
      '--model',
      dir,
      '--method',
      'lora',
      '--batch',
      '2',
      '--seq',
      '8',
      '--base-dtype',
      'fp8',
    );
    expect(dtype.err).toContain('--base-dtype must be one of f32, f16, bf16, int8, nf4');
    const size = cli('--model', dir, '--method', 'lora', '--batch', '2', '--seq', '8', '--budget', 'lots');
    expect(size.err).toContain('"lots" is not a size');
  });
});

/** The CLI as a child that does not block this process (the Hub stand-in answers from here). */
function cliAsync(
  env: Record<string, string>,
  ...args: string[]
): Promise<{ code: number | null; out: string; err: string }> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'plan', ...args], {
      env: { ...process.env, ...env },
    });
    let out = '';
    let err = '';
    p.stdout.on('data', (d) => {
      out += d;
    });
    p.stderr.on('data', (d) => {
      err += d;
    });
    p.on('close', (code) => resolve({ code, out, err }));
  });
}

describe('npm run cli -- plan --model ORG/NAME', () => {
  it('fetches config.json alone and plans as from the folder', async () => {
    const folder = mkdtempSync(join(tmpdir(), 'plan-hub-repo-'));
    copyFileSync('test/fixtures/configs/SmolLM2-135M/config.json', join(folder, 'config.json'));
    // Weights that must not move: a plan reads the config only.
    writeFileSync(join(folder, 'model.safetensors'), Buffer.alloc(4096));
    const commit = 'a'.repeat(40);
    const hub = await startHubServer({
      'org/smol': { commits: { [commit]: folder }, refs: { main: commit } },
    });
    try {
      const env = { HF_ENDPOINT: hub.url, HF_HUB_CACHE: mkdtempSync(join(tmpdir(), 'plan-hub-cache-')) };
      const flags = ['--method', 'lora', '--batch', '2', '--seq', '64', '--base-dtype', 'nf4'];
      const r = await cliAsync(env, '--model', 'org/smol', ...flags);
      expect(r.code, r.err).toBe(0);
      const local = cli('--model', 'test/fixtures/configs/SmolLM2-135M', ...flags);
      const { model, ...fromHub } = lastLine(r.out);
      const { model: _, ...fromDir } = lastLine(local.out);
      expect(model).toBe('org/smol');
      expect(fromHub).toEqual(fromDir);
      expect(hub.requests.some((q) => q.includes('config.json'))).toBe(true);
      expect(hub.requests.filter((q) => q.includes('safetensors') || q.includes('lfs-cdn'))).toEqual([]);
    } finally {
      await hub.close();
    }
  });
});
