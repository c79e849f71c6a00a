// Loading what a user brings, in real Chromium: a CSV whose column names match no known shape is mapped by
// hand and then loads; the bad-row choice (stop at the first, or skip and count) is honoured with the
// file and line named; a model folder's files dropped on `model-drop` replace the built-in model, and a
// drop missing a file is refused with a message naming it while the loaded model stays. A large file loads
// in chunks in the worker with its progress shown, and Cancel stops it with the dataset loaded before kept.
// Screenshot: test-results/data-mapping.png.
import { readFileSync } from 'node:fs';
import { expect, test } from '@playwright/test';
import { openFresh } from './page';

const ODD_CSV = `q,a\n${Array.from({ length: 6 }, (_, i) => `"Count to ${i}:"," ${i}."`).join('\n')}\n`;
const BAD_JSONL = [
  JSON.stringify({ prompt: 'One', completion: ' 1' }),
  JSON.stringify({ prompt: 'Two', completion: ' 2' }),
  '{"prompt": "Three", "completion": ',
  JSON.stringify({ prompt: 'Four', completion: ' 4' }),
].join('\n');

test.beforeEach(async ({ page }) => {
  await openFresh(page);
});

test('columns that match no shape are mapped by hand; bad rows stop or are skipped', async ({ page }) => {
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  const drop = page.getByTestId('dataset-drop').locator('input[type=file]');
  await drop.setInputFiles({ name: 'odd.csv', mimeType: 'text/csv', buffer: Buffer.from(ODD_CSV) });
  await expect(page.getByTestId('dataset-error')).toContainText('odd.csv');
  await expect(page.getByTestId('dataset-error')).toContainText('map the columns by hand');
  const form = page.locator('.unmapped').getByTestId('column-mapping');
  await form.getByTestId('mapping-shape').selectOption('prompt_completion');
  await expect(form.getByTestId('apply-mapping')).toBeDisabled();
  await form.getByTestId('mapping-prompt').selectOption('q');
  await form.getByTestId('mapping-completion').selectOption('a');
  await page.screenshot({ path: 'test-results/data-mapping.png' });
  await form.getByTestId('apply-mapping').click();
  await expect(page.getByTestId('dataset-summary')).toContainText('odd.csv');
  await expect(page.getByTestId('dataset-shape')).toHaveText('prompt_completion');
  await expect(page.getByTestId('dataset-summary')).toContainText('completion ← a');
  await expect(page.getByTestId('dataset-summary')).toContainText('6 rows → 6 examples');
  await expect(page.locator('.unmapped')).toHaveCount(0);

  // Stop at the first bad row: the error names the file and the line; nothing loaded before is lost.
  const dropBroken = () =>
    drop.setInputFiles({
      name: 'broken.jsonl',
      mimeType: 'application/jsonl',
      buffer: Buffer.from(BAD_JSONL),
    });
  await page.getByTestId('bad-rows').getByLabel('stop at the first one').check();
  await dropBroken();
  await expect(page.getByTestId('dataset-error')).toContainText('broken.jsonl');
  await expect(page.getByTestId('dataset-error')).toContainText('line 3');
  await expect(page.getByTestId('dataset-summary')).toContainText('odd.csv');
  // Skip: the same file loads with the bad row counted.
  await page
    .getByTestId('bad-rows')
    .getByLabel(/skip them/)
    .check();
  await dropBroken();
  await expect(page.getByTestId('dataset-summary')).toContainText('broken.jsonl');
  await expect(page.getByTestId('dataset-skipped')).toHaveText('1');
  await expect(page.getByTestId('dataset-summary')).toContainText('line 3');
  expect(errors).toEqual([]);
});

test('a large file shows its progress while it loads; Cancel stops it and keeps the dataset loaded before', async ({
  page,
}) => {
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await expect(page.getByTestId('dataset-summary')).toBeVisible();
  const before = await page.getByTestId('dataset-select').inputValue();
  // A first row over the 4 Mi-character limit (skipped as it streams, so the first chunk is quick), then
  // about 8 MB of rows: several seconds of tokenising, time enough to cancel.
  const rows = Array.from({ length: 90_000 }, (_, i) =>
    JSON.stringify({ prompt: `Row ${i}: what comes after ${i}?`, completion: ` ${i + 1}, then ${i + 2}.` }),
  );
  const big = `${JSON.stringify({ text: 'y'.repeat(4.5 * 2 ** 20) })}\n${rows.join('\n')}\n`;
  await page
    .getByTestId('dataset-drop')
    .locator('input[type=file]')
    .setInputFiles({ name: 'big.jsonl', mimeType: 'application/jsonl', buffer: Buffer.from(big) });
  await expect(page.getByTestId('dataset-progress')).toContainText(
    /\d+% \([\d.]+ of [\d.]+ MB\), [1-9]\d* rows, 1 skipped/,
  );
  await page.getByTestId('dataset-cancel').click();
  await expect(page.getByTestId('dataset-loading')).toHaveCount(0);
  await expect(page.getByTestId('dataset-select')).toHaveValue(before);
  await expect(page.getByTestId('dataset-select').locator('option', { hasText: 'big.jsonl' })).toHaveCount(0);
  await expect(page.getByTestId('dataset-error')).toHaveCount(0);
  expect(errors).toEqual([]);
});

test('a dropped dataset is offered again after a reload, under the same name and figures', async ({
  page,
}) => {
  const drop = page.getByTestId('dataset-drop').locator('input[type=file]');
  const rows = Array.from({ length: 5 }, (_, i) =>
    JSON.stringify({ prompt: `Say ${i}:`, completion: ` ${i}.` }),
  );
  await drop.setInputFiles({
    name: 'kept.jsonl',
    mimeType: 'application/jsonl',
    buffer: Buffer.from(rows.join('\n')),
  });
  await expect(page.getByTestId('dataset-summary')).toContainText('kept.jsonl');
  await expect(page.getByTestId('dataset-summary')).toContainText('5 rows → 5 examples');
  await page.reload();
  await expect(page.getByTestId('model-panel')).toHaveAttribute('data-state', 'ready', { timeout: 120_000 });
  const select = page.getByTestId('dataset-select');
  await expect(select.locator('option', { hasText: 'kept.jsonl' })).toHaveCount(1, { timeout: 60_000 });
  await select.selectOption({
    label: (await select.locator('option', { hasText: 'kept.jsonl' }).textContent()) ?? '',
  });
  await expect(page.getByTestId('dataset-summary')).toContainText('5 rows → 5 examples');
});

test('a model folder dropped on model-drop replaces the built-in one; an incomplete drop is refused', async ({
  page,
}) => {
  const dir = 'public/models/tiny-llama-brown';
  const file = (name: string, mimeType: string) => ({
    name,
    mimeType,
    buffer: readFileSync(`${dir}/${name}`),
  });
  const input = page.getByTestId('model-drop').locator('input[type=file]');
  await expect(page.getByTestId('model-summary')).toContainText('tiny-llama-brown');
  // Without its weights the drop is refused by name, and the model already loaded is not lost.
  await input.setInputFiles([
    file('config.json', 'application/json'),
    file('tokenizer.json', 'application/json'),
  ]);
  await expect(page.getByTestId('model-panel').getByRole('alert')).toContainText('safetensors');
  await input.setInputFiles([
    file('config.json', 'application/json'),
    file('model.safetensors', 'application/octet-stream'),
    file('tokenizer.json', 'application/json'),
  ]);
  await expect(page.getByTestId('model-panel')).toHaveAttribute('data-state', 'ready');
  await expect(page.getByTestId('model-summary')).toContainText('dropped model');
  await expect(page.getByTestId('model-summary')).toContainText('3,95');
  // The dropped model's figures reach the method picker (counts are computed against it).
  await expect(page.getByTestId('method-figures-lora')).toContainText('trainable');
});
