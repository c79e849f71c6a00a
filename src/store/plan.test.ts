// The page's plan (store/plan.ts, what PlanPanel shows) against `npm run cli -- plan` for the same
// config.json, methods, shape, options and budget: the same JSON, suggestions included; a config the engine
// cannot run is a sentence, not a throw.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { formRuns, type PagePlanResult, pagePlan, pagePlanInSteps } from './plan';

const DIR = 'test/fixtures/configs/SmolLM2-135M';

describe('page plan', () => {
  it("takes the device's per-buffer limit: a full fine-tune whose flat buffer passes it is refused, as in the CLI", () => {
    const text = readFileSync(`${DIR}/config.json`, 'utf8');
    const choice = { batch: 2, seqLen: 64, checkpointing: false, baseDtype: 'f32' as const };
    const limit = 256 * 2 ** 20;
    const full = pagePlan(text, [{ method: 'full', options: {} }], choice, null, limit);
    const fullError = 'error' in full ? full.error : '';
    expect(fullError).toMatch(
      /134,515,008 trainable parameters are held in one f32 buffer of 513\.\d MiB .* at most 256\.0 MiB: train fewer parameters/,
    );
    const lora = pagePlan(text, [{ method: 'lora', options: {} }], choice, null, limit);
    if (!('line' in lora)) throw new Error(lora.error);
    expect(lora.line.max_buffer_bytes).toBe(limit);
    const r = spawnSync(
      process.execPath,
      [
        ...['--import', 'tsx', 'src/cli/main.ts', 'plan', '--model', DIR, '--method', 'lora'],
        ...['--batch', '2', '--seq', '64', '--max-buffer', '256MiB'],
      ],
      { encoding: 'utf8', timeout: 120_000 },
    );
    expect(r.status, r.stderr).toBe(0);
    const { model: _, ...cli } = JSON.parse(r.stdout.trim().split('\n').at(-1)!);
    expect(lora.line).toEqual(cli);
    const refused = spawnSync(
      process.execPath,
      [
        ...['--import', 'tsx', 'src/cli/main.ts', 'plan', '--model', DIR, '--method', 'full'],
        ...['--batch', '2', '--seq', '64', '--max-buffer', '256MiB'],
      ],
      { encoding: 'utf8', timeout: 120_000 },
    );
    expect(refused.status).toBe(1);
    expect(refused.stderr).toContain(fullError);
  });

  it('equals the CLI line for the same inputs (over budget: the same suggestions)', () => {
    const runs = formRuns({
      lora: { enabled: true, options: { r: '8' } },
      prompt: { enabled: false, options: {} },
      ia3: { enabled: true, options: {} },
    });
    const text = readFileSync(`${DIR}/config.json`, 'utf8');
    const choice = { batch: 8, seqLen: 512, checkpointing: true, baseDtype: 'bf16' as const };
    const unbounded = pagePlan(text, runs, choice, null);
    if (!('line' in unbounded)) throw new Error(unbounded.error);
    // A budget a fifth under the plan: over it, with micro-batches that fit.
    const budget = Math.floor(unbounded.line.predicted_peak_bytes * 0.8);
    const r = spawnSync(
      process.execPath,
      [
        ...['--import', 'tsx', 'src/cli/main.ts', 'plan', '--model', DIR, '--methods', 'lora,ia3'],
        ...['--set', 'r=8', '--batch', '8', '--seq', '512', '--checkpointing', '--base-dtype', 'bf16'],
        ...['--budget', String(budget)],
      ],
      { encoding: 'utf8', timeout: 120_000 },
    );
    expect(r.status, r.stderr).toBe(0);
    const { model, ...cli } = JSON.parse(r.stdout.trim().split('\n').at(-1)!);
    expect(model).toBe(DIR);
    const page = pagePlan(text, runs, choice, budget);
    if (!('line' in page)) throw new Error(page.error);
    expect(page.line).toEqual(cli);
    expect(page.line.fits).toBe(false);
    expect(page.line.suggestions?.length).toBeGreaterThan(0);
    // The panel's stepwise form: the plan first (pending), then the same line as in one go.
    const seen: PagePlanResult[] = [];
    let ticks = 0;
    pagePlanInSteps(
      text,
      runs,
      choice,
      budget,
      (x) => seen.push(x),
      (next) => {
        ticks++;
        next();
      },
    );
    expect(seen).toHaveLength(2);
    expect(seen[0]).toMatchObject({
      pending: true,
      line: { predicted_peak_bytes: cli.predicted_peak_bytes },
    });
    expect(seen[0]).not.toHaveProperty('line.suggestions');
    expect(seen[1]).toEqual({ line: cli });
    expect(ticks).toBeGreaterThan(1);
  });

  it('no method enabled plans LoRA; a config it cannot run is a sentence', () => {
    expect(formRuns({ lora: { enabled: false, options: {} } })).toEqual([{ method: 'lora', options: {} }]);
    const bad = pagePlan(
      { model_type: 'mamba' },
      [{ method: 'lora', options: {} }],
      {
        batch: 1,
        seqLen: 8,
        checkpointing: false,
        baseDtype: 'f32',
      },
      null,
    );
    expect(bad).toEqual({ error: expect.stringContaining('model_type "mamba" is not supported') });
  });
});
