// "Export recipe" in real Chromium: LoRA-SFT, IA3-DPO and prompt-tuning-GRPO runs on the built-in model each
// export recipe.zip from their card; each zip holds train.py, data/, accelerate/, requirements.txt, README.md
// and recipe.json; train.py compiles and parses back (Python's ast, through src/train/recipe/pyread.py) to the
// run's settings as the form set them and as recipe.json records them; data/ holds the run's rows; after a
// reload (the worker no longer holds the run) the same recipe comes out. The
// page's and the CLI's recipes for the same run are compared file by file in src/worker/recipe-export.test.ts.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, type Locator, type Page, test } from '@playwright/test';
import { fillHyper, openFresh, pickMethods } from './page';

const HAS_PYTHON = spawnSync('python3', ['-c', 'import ast'], { encoding: 'utf8' }).status === 0;

interface Read {
  train: Record<string, { calls: Record<string, Record<string, unknown>>; consts: Record<string, unknown> }>;
  zip: Record<string, Record<string, string>>;
}

/** recipe.json's parts the checks read. */
interface RecipeJson {
  run: {
    method: string;
    lr: number;
    steps: number;
    batch: number;
    seqLen: number;
    seed: number;
    gradAccum: number;
    weightDecay: number;
  };
  rl: { rl: { maxNewTokens: number; grpo: { beta: number } } };
  adapterConfig: Record<string, unknown>;
  counts: { train: number; eval: number };
}

/** Clicks the card's "Export recipe" and returns the zip's files (by path inside recipe/) and train.py read back. */
async function exportRecipe(page: Page, card: Locator, name: string) {
  const download = page.waitForEvent('download');
  await card.getByTestId('export-recipe').click();
  const d = await download;
  expect(d.suggestedFilename()).toMatch(/-recipe\.zip$/);
  const dir = mkdtempSync(join(tmpdir(), `e2e-recipe-${name}-`));
  const zip = join(dir, 'recipe.zip');
  writeFileSync(zip, readFileSync(await d.path()));
  const unzip = spawnSync('python3', [
    '-c',
    `import zipfile; zipfile.ZipFile(${JSON.stringify(zip)}).extractall(${JSON.stringify(dir)})`,
  ]);
  expect(unzip.status, String(unzip.stderr)).toBe(0);
  const train = join(dir, 'recipe', 'train.py');
  const r = spawnSync('python3', ['src/train/recipe/pyread.py'], {
    input: JSON.stringify({ train: [train], zip: [zip] }),
    encoding: 'utf8',
  });
  expect(r.status, r.stderr).toBe(0);
  const read = JSON.parse(r.stdout) as Read;
  const files = Object.fromEntries(
    Object.entries(read.zip[zip]).map(([p, t]) => [p.replace(/^recipe\//, ''), t]),
  );
  return { files, py: read.train[train], spec: JSON.parse(files['recipe.json']) as RecipeJson };
}

const rows = (text: string | undefined) => (text ?? '').split('\n').filter(Boolean).length;

test('LoRA-SFT, IA3-DPO and prompt-GRPO runs export recipes that parse back to their settings', async ({
  page,
}) => {
  test.skip(!HAS_PYTHON, 'python3 is not installed: the recipe is read back with Python');
  test.setTimeout(300_000);
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await openFresh(page);
  const cards = page.getByTestId('run-card');

  // LoRA-SFT on the plurals sample (loaded at start).
  await pickMethods(page, ['lora']);
  await fillHyper(page, { steps: 3, batch: 2, seqLen: 16, evalEvery: 0, lr: 0.0005 });
  await page.getByTestId('start-runs').click();
  await expect(cards).toHaveCount(1);
  const sft = await exportRecipe(page, cards.nth(0), 'sft');
  for (const f of [
    'train.py',
    'data/train.jsonl',
    'data/eval.jsonl',
    'accelerate/launch.sh',
    'accelerate/fsdp.yaml',
    'requirements.txt',
    'README.md',
  ])
    expect(Object.keys(sft.files), f).toContain(f);
  expect(sft.py.calls.SFTConfig).toMatchObject({
    learning_rate: 0.0005,
    max_steps: 3,
    per_device_train_batch_size: 2,
    max_length: 16,
    seed: sft.spec.run.seed,
    gradient_accumulation_steps: sft.spec.run.gradAccum,
    weight_decay: sft.spec.run.weightDecay,
    completion_only_loss: true,
  });
  expect(sft.py.calls.LoraConfig).toMatchObject({
    r: sft.spec.adapterConfig.r,
    lora_alpha: sft.spec.adapterConfig.lora_alpha,
  });
  expect(sft.spec.run).toMatchObject({ method: 'lora', lr: 0.0005, steps: 3, batch: 2, seqLen: 16 });
  expect(rows(sft.files['data/train.jsonl'])).toBe(sft.spec.counts.train);
  expect(rows(sft.files['data/eval.jsonl'])).toBe(sft.spec.counts.eval);
  expect(sft.spec.counts.train + sft.spec.counts.eval).toBe(59); // every plurals row, split as the run splits it

  // IA3-DPO on the preferences sample.
  await page.getByRole('button', { name: 'preferences.jsonl' }).click();
  await expect(page.getByTestId('dataset-summary')).toContainText('preferences.jsonl');
  await page.getByTestId('algorithm-select').selectOption('dpo');
  await page.getByTestId('algorithm-panel').locator('input[name="rl-dpo-beta"]').fill('0.2');
  await pickMethods(page, ['ia3']);
  await page.getByTestId('start-runs').click();
  await expect(cards).toHaveCount(2);
  const dpo = await exportRecipe(page, cards.nth(1), 'dpo');
  expect(dpo.py.calls.DPOConfig).toMatchObject({
    beta: 0.2,
    learning_rate: 0.0005,
    max_steps: 3,
    max_length: 16,
  });
  expect(dpo.py.calls.IA3Config).toMatchObject({
    target_modules: dpo.spec.adapterConfig.target_modules,
    feedforward_modules: dpo.spec.adapterConfig.feedforward_modules,
  });
  expect(rows(dpo.files['data/train.jsonl'])).toBe(24);

  // Prompt tuning GRPO on the rl-prompts sample, 2 generations per prompt.
  await page.getByRole('button', { name: 'rl-prompts.jsonl' }).click();
  await expect(page.getByTestId('dataset-summary')).toContainText('rl-prompts.jsonl');
  await page.getByTestId('algorithm-select').selectOption('grpo');
  await page.getByTestId('algorithm-panel').locator('input[name="rl-grpo-generations"]').fill('2');
  await pickMethods(page, ['prompt']);
  await page.getByTestId('start-runs').click();
  await expect(cards).toHaveCount(3);
  const grpo = await exportRecipe(page, cards.nth(2), 'grpo');
  expect(grpo.py.calls.GRPOConfig).toMatchObject({
    num_generations: 2,
    beta: grpo.spec.rl.rl.grpo.beta,
    max_completion_length: grpo.spec.rl.rl.maxNewTokens,
    per_device_train_batch_size: 4,
    learning_rate: 0.0005,
    max_steps: 3,
  });
  expect(grpo.py.calls.PromptTuningConfig).toMatchObject({
    num_virtual_tokens: grpo.spec.adapterConfig.num_virtual_tokens,
  });
  expect(grpo.files['rewards/rewards.py']).toContain('def reward(');
  expect(rows(grpo.files['data/train.jsonl'])).toBe(24);

  // After a reload the worker holds none of these runs: the card's spec goes with the request, and the
  // recipe comes out the same (its dataset from the copy saved with the run).
  await expect(cards.nth(0)).toHaveAttribute('data-state', 'done', { timeout: 120_000 });
  await page.reload();
  await expect(page.getByTestId('model-panel')).toHaveAttribute('data-state', 'ready', { timeout: 120_000 });
  await expect(cards).toHaveCount(3);
  const again = await exportRecipe(page, cards.nth(0), 'sft-reloaded');
  for (const f of Object.keys(sft.files))
    if (f !== 'recipe.json') expect(again.files[f], f).toBe(sft.files[f]);
  expect(again.spec.run).toEqual(sft.spec.run);
  expect(errors).toEqual([]);
});
