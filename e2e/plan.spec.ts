// The memory plan in the page before a download: a Hub model (the local stand-in, SmolLM2-135M's published
// config.json and nothing else) checked by its id shows PlanPanel with the numbers store/plan.ts (the CLI's
// function) gives for the form's methods and the panel's choices; checkpointing and a 16-bit base lower them,
// and over the page's budget the panel lists what would fit, each suggestion's figure below the budget.
import { readFileSync } from 'node:fs';
import { expect, test } from '@playwright/test';
import { pagePlan } from '../src/store/plan';
import { type HubServer, startHubServer } from '../test/helpers/hub-server';
import { openFresh } from './page';

const MAIN = 'c'.repeat(40);
const DIR = 'test/fixtures/configs/SmolLM2-135M';
let hub: HubServer;

test.beforeAll(async () => {
  hub = await startHubServer({ 'org/smol': { commits: { [MAIN]: DIR }, refs: { main: MAIN } } });
});
test.afterAll(() => hub.close());

test('the plan of a Hub model before its weights: the CLI function`s numbers, the toggles, what would fit', async ({
  page,
}) => {
  await openFresh(page, `/?hf_endpoint=${encodeURIComponent(hub.url)}`);
  const form = page.getByTestId('hub-model');
  await form.locator('input[name="hub-repo"]').fill('org/smol');
  await form.getByRole('button', { name: 'Check' }).click();
  const panel = page.getByTestId('plan-panel');
  await expect(panel).toContainText('Memory plan for org/smol');
  await panel.locator('input[name="plan-batch"]').fill('8');
  await panel.locator('input[name="plan-seq"]').fill('512');
  const peak = panel.getByTestId('plan-peak');
  const bytes = async () => Number(await peak.getAttribute('data-bytes'));

  // The form's default methods (LoRA and prompt tuning, default options), the page's default 2 GiB budget.
  const runs = [
    { method: 'lora', options: {} },
    { method: 'prompt', options: {} },
  ];
  const config = readFileSync(`${DIR}/config.json`, 'utf8');
  const expected = (checkpointing: boolean, baseDtype: 'f32' | 'bf16') => {
    const r = pagePlan(config, runs, { batch: 8, seqLen: 512, checkpointing, baseDtype }, 2 * 2 ** 30);
    if (!('line' in r)) throw new Error(r.error);
    return r.line;
  };

  const plain = expected(false, 'f32');
  await expect(peak).toHaveAttribute('data-bytes', String(plain.predicted_peak_bytes));
  await expect(peak).toHaveAttribute('data-shared', String(plain.shared_frozen_bytes));
  // Over the budget: what would fit, each below it, as the CLI lists them.
  const suggestions = panel.getByTestId('plan-suggestions').locator('li');
  await expect(suggestions).toHaveCount(plain.suggestions?.length ?? 0);
  expect(plain.suggestions?.length).toBeGreaterThan(0);
  for (const li of await suggestions.all())
    expect(Number(await li.getAttribute('data-bytes'))).toBeLessThanOrEqual(2 * 2 ** 30);

  await panel.locator('input[name="plan-checkpointing"]').check();
  await panel.locator('select[name="plan-base-dtype"]').selectOption('bf16');
  const small = expected(true, 'bf16');
  await expect(peak).toHaveAttribute('data-bytes', String(small.predicted_peak_bytes));
  expect(await bytes()).toBeLessThan(plain.predicted_peak_bytes / 2);
  await expect(panel.getByTestId('plan-suggestions')).toHaveCount(
    small.predicted_peak_bytes > 2 * 2 ** 30 ? 1 : 0,
  );
  expect(hub.requests.filter((r) => r.includes('.safetensors') || r.includes('/lfs-cdn/'))).toEqual([]);
});
