// The CLI's `train` and the page train alike: the same settings and seed give the same loss at every logged
// step, and the same final eval loss. The CLI runs as a user runs it (a child process through tsx, flags);
// the page's path is rebuilt here as the page and its worker take it: the form's values through
// sftRunConfig (app/engine.ts), the dataset through sftData and SftRunner stepped as the worker steps it.
// Flags left out (the schedule, the clip, the log interval) must land on the page's defaults, and a page
// run with a constant schedule (what the CLI used to do after its warm-up) must differ, so the comparison
// can fail.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testGpu } from '../../test/helpers/gpu';
import { writePairsData } from '../../test/helpers/pairs-data';
import { prepareDataset } from '../data/prepare';
import type { BaseDtype } from '../tensor/weight-format';
import { SftRunner } from '../train/sft';
import { type LrSchedule, sftRunConfig } from '../train/sft-config';
import { sftData } from '../train/sft-data';
import { openModelDir } from './model-dir';

const MODEL = 'test/fixtures/models/llama-tiny';
// The page's form (store/ui.ts's Hyper) as a user might fill it in.
const FORM = {
  lr: 1e-2,
  schedule: 'cosine' as LrSchedule,
  batch: 2,
  seqLen: 24,
  steps: 8,
  gradAccum: 2,
  weightDecay: 0.01,
  maxGradNorm: 1,
  seed: 3,
  evalEvery: 0,
  evalFraction: 0.2,
  pack: false,
};
const METHOD = 'lora';
const OPTIONS = { r: 2 };

let tmp: string;
let data: string;

beforeAll(() => {
  tmp = mkdtempSync(join(tmpdir(), 'cli-train-'));
  data = writePairsData(tmp);
});

afterAll(() => rmSync(tmp, { recursive: true, force: true }));

interface Losses {
  steps: number[];
  losses: number[];
  evalLoss: number | null;
}

/** The page's path: form → sftRunConfig → sftData → SftRunner, stepped as the worker steps it. */
async function pagePath(schedule: LrSchedule, baseDtype: BaseDtype = 'f32'): Promise<Losses> {
  const md = await openModelDir(MODEL);
  const form = { ...FORM, schedule };
  const config = sftRunConfig({ ...form, method: METHOD, options: OPTIONS, lr: form.lr, baseDtype });
  const prepared = await prepareDataset(basename(data), new Uint8Array(readFileSync(data)), {
    onError: 'skip',
  });
  const rows = sftData(md.tokenizer, md.config, prepared.examples, {
    seqLen: config.seqLen,
    evalFraction: form.evalFraction,
    seed: config.seed,
  });
  const runner = await SftRunner.create(await testGpu(), md.config, md.reader, rows, config, {
    methodCtx: { tokenizer: { encode: (t: string) => md.tokenizer.encode(t) }, tokenizerName: md.dir },
  });
  const points = [];
  while (!runner.done) {
    runner.stepOnce();
    await runner.settle(2);
    points.push(...runner.takePoints());
  }
  points.push(...(await runner.flush()));
  const e = await runner.evalPoint();
  runner.dispose();
  return {
    steps: points.map((p) => p.step),
    losses: points.map((p) => p.loss as number),
    evalLoss: e?.evalLoss ?? null,
  };
}

/** `npm run cli -- train` with the form's values as flags; the schedule, clip and log interval left out. */
function cliPath(...extra: string[]): Losses {
  const flags = {
    model: MODEL,
    data,
    method: METHOD,
    lr: FORM.lr,
    steps: FORM.steps,
    batch: FORM.batch,
    seq: FORM.seqLen,
    'grad-accum': FORM.gradAccum,
    'weight-decay': FORM.weightDecay,
    seed: FORM.seed,
    'eval-every': FORM.evalEvery,
    'eval-fraction': FORM.evalFraction,
  };
  const argv = Object.entries(flags).flatMap(([k, v]) => [`--${k}`, String(v)]);
  const r = spawnSync(
    process.execPath,
    ['--import', 'tsx', 'src/cli/main.ts', 'train', ...argv, '--set', `r=${OPTIONS.r}`, ...extra],
    { encoding: 'utf8', timeout: 120_000 },
  );
  expect(r.status, r.stderr).toBe(0);
  const lines = r.stdout
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Record<string, number | null | boolean>);
  const steps = lines.filter((l) => typeof l.step === 'number' && typeof l.loss === 'number');
  const done = lines.at(-1)!;
  expect(done.done).toBe(true);
  expect(done.loss).toBe(steps.at(-1)?.loss);
  return {
    steps: steps.map((l) => l.step as number),
    losses: steps.map((l) => l.loss as number),
    evalLoss: done.eval_loss as number | null,
  };
}

const maxRelDiff = (a: readonly number[], b: readonly number[]) =>
  Math.max(...a.map((x, i) => Math.abs(x - b[i]) / Math.abs(b[i])));

describe('npm run cli -- train against the page', () => {
  it("gives the page's loss at every logged step and its eval loss; a constant schedule would not", async () => {
    const page = await pagePath('cosine');
    const cli = cliPath();
    // The page logs every step at 8 steps (logEvery follows the step count): so must the CLI.
    expect(page.steps).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    expect(cli.steps).toEqual(page.steps);
    for (const l of [...page.losses, ...cli.losses]) expect(Number.isFinite(l)).toBe(true);
    // Same batches, schedule and updates: equal up to float32 summation order (kernel variants may differ
    // between the processes).
    expect(maxRelDiff(cli.losses, page.losses)).toBeLessThan(1e-4);
    expect(page.evalLoss).not.toBeNull();
    expect(Math.abs((cli.evalLoss as number) - (page.evalLoss as number))).toBeLessThan(
      1e-4 * (page.evalLoss as number),
    );
    // The control: what the CLI did before (constant after the warm-up) gives other losses, far past the
    // tolerance above, so a CLI that ignored the page's schedule would fail this test.
    const constant = await pagePath('constant');
    expect(constant.losses[0]).toBeCloseTo(page.losses[0], 5);
    expect(maxRelDiff(constant.losses, page.losses)).toBeGreaterThan(1e-3);
  }, 180_000);

  it('--base-dtype f16 trains as the page does on an f16 base; full fine-tuning on nf4 is refused', async () => {
    const page = await pagePath('cosine', 'f16');
    const cli = cliPath('--base-dtype', 'f16');
    expect(cli.steps).toEqual(page.steps);
    expect(maxRelDiff(cli.losses, page.losses)).toBeLessThan(1e-4);
    // The f16 base is really used: the f32 page run differs (by more than summation order would).
    const f32 = await pagePath('cosine', 'f32');
    expect(maxRelDiff(f32.losses, page.losses)).toBeGreaterThan(1e-6);
    const refused = spawnSync(
      process.execPath,
      [
        '--import',
        'tsx',
        'src/cli/main.ts',
        'train',
        '--model',
        MODEL,
        '--data',
        data,
        '--method',
        'full',
        '--steps',
        '1',
        '--base-dtype',
        'nf4',
      ],
      { encoding: 'utf8', timeout: 120_000 },
    );
    expect(refused.status).not.toBe(0);
    expect(refused.stderr).toMatch(/nf4 base holds as nf4: a trained tensor must be f32/);
  }, 240_000);
});
