// RL in the playground, in real Chromium (WebGPU on SwiftShader here, so everything is tiny): on the built-in
// model with the rl-prompts sample, a PPO run with LoRA (sentiment reward) and a GRPO run with (IA)³ scored
// by user JavaScript (its own worker, nested in the training worker) train side by side; the reward and KL
// charts get each run's points, the rollouts panel shows completions with their rewards, and both finish.
// Then the shape check refuses DPO on prompt-only data, and DPO on the preferences sample runs 2 steps.
// Also: a reward model trained in the page scores a rejection-sampling run; an RL run interrupted by a reload
// starts again; a JavaScript reward past its time limit ends its run with the reason (the nested worker is
// terminated, the page stays responsive). Each algorithm's form fields are checked against the options table
// (train/rl/options.ts) the CLI's flags come from. Screenshots: test-results/rl-*.png.
import { expect, type Locator, test } from '@playwright/test';
import { type RlAlgo, type RlOptionGroup, rlFieldName, rlOptionSpecs } from '../src/train/rl/options';
import { fillHyper, openFresh, pickMethods } from './page';

/**
 * The algorithm's form fields are the options table's (train/rl/options.ts, which the CLI's flags come from):
 * one field per option of `groups`, at its default, with its help as the title and its range on the input.
 */
async function expectFormFromTable(alg: Locator, algo: RlAlgo, groups: readonly RlOptionGroup[]) {
  for (const o of rlOptionSpecs(algo).filter((x) => groups.includes(x.group))) {
    const field = alg.locator(`[name="${rlFieldName(o)}"]`);
    await expect(field, o.key).toHaveCount(1);
    await expect(field, o.key).toHaveValue(o.default === null ? '' : String(o.default));
    await expect(field.locator('xpath=ancestor::label[1]'), o.key).toHaveAttribute('title', o.help);
    if (o.min !== undefined) await expect(field, o.key).toHaveAttribute('min', String(o.min));
  }
}

test('PPO and GRPO side by side: reward and KL charts, rollouts, then DPO', async ({ page }) => {
  test.setTimeout(420_000);
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await openFresh(page);
  await expect(page.getByTestId('gpu-status')).toHaveAttribute('data-state', 'ready');
  await page.getByRole('button', { name: 'rl-prompts.jsonl' }).click();
  await expect(page.getByTestId('dataset-summary')).toContainText('rl-prompts.jsonl');
  await expect(page.getByTestId('dataset-shape')).toHaveText('prompt_only');
  // Prompts are what prompt-only data holds: counted as examples, none skipped as "not SFT".
  await expect(page.getByTestId('dataset-summary')).toContainText('24 rows → 24 examples');
  await expect(page.getByTestId('dataset-skipped')).toHaveText('0');

  const picker = page.getByTestId('method-picker');
  const tick = async (method: string, on: boolean) => {
    const box = picker.locator(`li[data-method="${method}"] input[type=checkbox]`).first();
    if (on) await box.check();
    else await box.uncheck();
  };
  await fillHyper(page, { steps: 2, batch: 2, lr: 0.001 });

  // PPO with LoRA: 2 prompts a step, 4 new tokens, one epoch over minibatches of 1.
  const alg = page.getByTestId('algorithm-panel');
  await page.getByTestId('algorithm-select').selectOption('ppo');
  await expectFormFromTable(alg, 'ppo', ['sampling', 'ppo']);
  await alg.locator('input[name="rl-maxNewTokens"]').fill('4');
  await alg.locator('input[name="rl-ppo-epochs"]').fill('1');
  await alg.locator('input[name="rl-ppo-miniBatch"]').fill('1');
  await expect(page.getByTestId('reward-select')).toHaveValue('sentiment');
  await tick('lora', true);
  await tick('prompt', false);
  await page.getByTestId('start-runs').click();
  const cards = page.getByTestId('run-card');
  await expect(cards).toHaveCount(1);
  await expect(cards.nth(0)).toContainText('ppo · lora');

  // GRPO with (IA)³: 2 prompts × 2 generations, scored by the default JavaScript reward.
  await page.getByTestId('algorithm-select').selectOption('grpo');
  await expectFormFromTable(alg, 'grpo', ['grpo']);
  await expect(alg.locator('[name^="rl-ppo-"]')).toHaveCount(0);
  await alg.locator('input[name="rl-grpo-generations"]').fill('2');
  await page.getByTestId('reward-select').selectOption('js');
  await expect(page.getByTestId('reward-code')).toContainText('function reward');
  await tick('lora', false);
  await tick('ia3', true);
  await page.getByTestId('start-runs').click();
  await expect(cards).toHaveCount(2);
  await expect(cards.nth(1)).toContainText('grpo · ia3');
  await page.screenshot({ path: 'test-results/rl-started.png' });

  // Both runs' points on both charts, and rollouts as text with rewards, before or as they finish.
  await expect(cards.nth(0)).toHaveAttribute('data-state', 'done', { timeout: 300_000 });
  await expect(cards.nth(1)).toHaveAttribute('data-state', 'done', { timeout: 300_000 });
  for (const id of ['reward-chart', 'kl-chart']) {
    await expect(page.getByTestId(id)).toHaveAttribute('data-points', '4');
    await expect(page.getByTestId(id).locator('.recharts-line')).toHaveCount(2);
  }
  const rollouts = page.getByTestId('rollouts');
  await expect(rollouts.getByTestId('rollouts-run')).toHaveCount(2);
  // PPO shows its 2 rollouts of step 2, GRPO its 4 (2 prompts × 2 generations).
  await expect(rollouts.getByTestId('rollouts-run').nth(0)).toHaveAttribute('data-step', '2');
  await expect(rollouts.getByTestId('rollouts-run').nth(0).getByTestId('rollout')).toHaveCount(2);
  await expect(rollouts.getByTestId('rollouts-run').nth(1).getByTestId('rollout')).toHaveCount(4);
  for (const t of await rollouts.getByTestId('rollout-reward').allTextContents())
    expect(Number.isFinite(Number(t)), `reward "${t}"`).toBe(true);
  const firstPrompt = await rollouts.getByTestId('rollout').first().locator('td').first().textContent();
  expect(['It was a', 'She felt', 'The people were', 'He said it was']).toContain(firstPrompt);
  // The loss chart has the RL runs' losses too (train lines; no eval points for these algorithms).
  await expect(page.getByTestId('loss-chart')).toHaveAttribute('data-points', '4');
  await page.screenshot({ path: 'test-results/rl-trained.png', fullPage: true });

  // DPO needs chosen/rejected pairs: the form says so on prompt-only data, and start refuses.
  await page.getByTestId('algorithm-select').selectOption('dpo');
  await expectFormFromTable(alg, 'dpo', ['dpo']);
  await expect(alg.locator('[name="rl-maxNewTokens"]')).toHaveCount(0);
  await expect(page.getByTestId('algorithm-shape')).toContainText('DPO trains on preference pairs');
  await page.getByTestId('start-runs').click();
  await expect(picker.getByRole('alert')).toContainText('this dataset is prompt_only');
  await page.getByRole('button', { name: 'preferences.jsonl' }).click();
  await expect(page.getByTestId('dataset-shape')).toHaveText('preference');
  await expect(page.getByTestId('algorithm-shape')).toHaveCount(0);
  await page.getByTestId('start-runs').click();
  await expect(cards).toHaveCount(3);
  await expect(cards.nth(2)).toContainText('dpo · ia3');
  await expect(cards.nth(2)).toHaveAttribute('data-state', 'done', { timeout: 120_000 });
  await expect(rollouts.getByTestId('pair-figures')).toContainText('step 2: loss');
  await expect(page.getByTestId('reward-chart')).toHaveAttribute('data-points', '6');
  await page.screenshot({ path: 'test-results/rl-dpo.png', fullPage: true });
  expect(errors).toEqual([]);
});

test('a reward model, then rejection sampling scored by it', async ({ page }) => {
  test.setTimeout(300_000);
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await openFresh(page);
  await page.getByRole('button', { name: 'preferences.jsonl' }).click();
  await expect(page.getByTestId('dataset-shape')).toHaveText('preference');
  await pickMethods(page, ['lora']);
  const hyper = page.getByTestId('hyperparameters');
  await hyper.locator('input[name="steps"]').fill('2');
  await hyper.locator('input[name="batch"]').fill('2');
  await hyper.locator('input[name="lr"]').fill('0.001');

  // The reward model: Bradley–Terry on the pairs, 10% held out (2 of 24 pairs) for its accuracy.
  await page.getByTestId('algorithm-select').selectOption('reward');
  await page.getByTestId('start-runs').click();
  const cards = page.getByTestId('run-card');
  await expect(cards.nth(0)).toContainText('reward · lora');
  await expect(cards.nth(0)).toHaveAttribute('data-state', 'done', { timeout: 120_000 });
  await expect(page.getByTestId('pair-figures')).toContainText(/step 2: loss \d\.\d+, batch accuracy \d/);
  await expect(page.getByTestId('pair-figures')).toContainText(/held-out accuracy \d\.\d+/);

  // Rejection sampling on the prompts, 2 samples per prompt, scored by that reward model.
  await page.getByRole('button', { name: 'rl-prompts.jsonl' }).click();
  await expect(page.getByTestId('dataset-shape')).toHaveText('prompt_only');
  await page.getByTestId('algorithm-select').selectOption('rs');
  const alg = page.getByTestId('algorithm-panel');
  await expectFormFromTable(alg, 'rs', ['sampling', 'rs']);
  await alg.locator('input[name="rl-maxNewTokens"]').fill('4');
  await alg.locator('input[name="rl-rs-n"]').fill('2');
  await page.getByTestId('reward-select').selectOption('model');
  await page.getByTestId('reward-model-select').selectOption({ index: 1 });
  await page.getByTestId('start-runs').click();
  await expect(cards).toHaveCount(2);
  await expect(cards.nth(1)).toContainText('rs · lora');
  await expect(cards.nth(1)).toHaveAttribute('data-state', 'done', { timeout: 180_000 });
  const rs = page.getByTestId('rollouts').getByTestId('rollouts-run').nth(1);
  await expect(rs).toHaveAttribute('data-step', '2');
  await expect(rs.getByTestId('rollout')).toHaveCount(4);
  for (const t of await rs.getByTestId('rollout-reward').allTextContents())
    expect(Number.isFinite(Number(t)), `reward "${t}"`).toBe(true);
  await expect(page.getByTestId('reward-chart')).toHaveAttribute('data-points', '4');
  await page.screenshot({ path: 'test-results/rl-reward-model.png', fullPage: true });
  expect(errors).toEqual([]);
});

test('an RL run interrupted by a reload starts again and ends with one point per step', async ({ page }) => {
  test.setTimeout(300_000);
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await openFresh(page);
  await page.getByRole('button', { name: 'rl-prompts.jsonl' }).click();
  await expect(page.getByTestId('dataset-shape')).toHaveText('prompt_only');
  await pickMethods(page, ['lora']);
  const hyper = page.getByTestId('hyperparameters');
  await hyper.locator('input[name="steps"]').fill('3');
  await hyper.locator('input[name="batch"]').fill('2');
  await page.getByTestId('algorithm-select').selectOption('grpo');
  const alg = page.getByTestId('algorithm-panel');
  await alg.locator('input[name="rl-maxNewTokens"]').fill('3');
  await alg.locator('input[name="rl-grpo-generations"]').fill('2');
  await page.getByTestId('start-runs').click();
  const card = page.getByTestId('run-card');
  await expect(card).toHaveCount(1);
  // A first step's point, then the page goes away mid-run.
  await expect(page.getByTestId('reward-chart')).toHaveAttribute('data-points', /^[12]$/, {
    timeout: 120_000,
  });
  await page.reload();
  await expect(card).toHaveAttribute('data-state', 'interrupted');
  await expect(page.getByTestId('model-panel')).toHaveAttribute('data-state', 'ready');
  await card.getByTestId('resume-interrupted').click();
  await expect(card).toHaveAttribute('data-state', 'done', { timeout: 180_000 });
  // Started again from step 0 (its dataset was saved with it): 3 points, none drawn twice.
  await expect(page.getByTestId('reward-chart')).toHaveAttribute('data-points', '3');
  await expect(page.getByTestId('rollouts').getByTestId('rollout')).toHaveCount(4);
  expect(errors).toEqual([]);
});

test('a JavaScript reward that runs past its time limit ends its run, with the reason', async ({ page }) => {
  test.setTimeout(240_000);
  await openFresh(page);
  await page.getByRole('button', { name: 'rl-prompts.jsonl' }).click();
  await expect(page.getByTestId('dataset-shape')).toHaveText('prompt_only');
  await pickMethods(page, ['lora']);
  const hyper = page.getByTestId('hyperparameters');
  await hyper.locator('input[name="steps"]').fill('1');
  await hyper.locator('input[name="batch"]').fill('2');
  await page.getByTestId('algorithm-select').selectOption('rs');
  const alg = page.getByTestId('algorithm-panel');
  await alg.locator('input[name="rl-maxNewTokens"]').fill('2');
  await alg.locator('input[name="rl-rs-n"]').fill('2');
  await page.getByTestId('reward-select').selectOption('js');
  await page.getByTestId('reward-code').fill('function reward() { for (;;) {} }');
  await alg.locator('input[name="reward-timeout"]').fill('300');
  await page.getByTestId('start-runs').click();
  const card = page.getByTestId('run-card');
  await expect(card).toHaveAttribute('data-state', 'error', { timeout: 120_000 });
  await expect(card).toContainText('reward.js: the reward function ran past 300 ms; it was stopped');
  // The page is still responsive: the form still answers (the loop ran in the reward's own worker).
  await page.getByTestId('algorithm-select').selectOption('sft');
  await expect(page.getByTestId('algorithm-panel')).toHaveAttribute('data-algorithm', 'sft');
});
