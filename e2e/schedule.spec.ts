// When the runs' predicted memory together exceeds the budget, they train one after another and the page
// says so: with a 1 MiB budget, LoRA waits queued while BitFit trains, starts only once BitFit is done,
// and both finish with their points. Screenshot: test-results/schedule-sequential.png.
import { expect, test } from '@playwright/test';
import { fillHyper, openFresh, pickMethods } from './page';

test('runs over the memory budget go one after another, and the page says so', async ({ page }) => {
  test.setTimeout(480_000);
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await openFresh(page);
  await expect(page.getByTestId('method-figures-bitfit')).toContainText('predicted');
  await pickMethods(page, ['bitfit', 'lora']);
  await fillHyper(page, { steps: 3, batch: 2, seqLen: 16, evalEvery: 0, budget: 1 });
  await page.getByTestId('start-runs').click();
  const cards = page.getByTestId('run-card');
  await expect(cards).toHaveCount(2);
  const schedule = page.getByTestId('schedule');
  await expect(schedule).toHaveAttribute('data-mode', 'sequential');
  await expect(schedule).toContainText('one after another');
  // Sample both cards' states until both are done: the second never runs before the first is done.
  const seen: string[] = [];
  for (let i = 0; i < 2000; i++) {
    const states = await Promise.all([0, 1].map((k) => cards.nth(k).getAttribute('data-state')));
    const pair = states.join('/');
    if (seen[seen.length - 1] !== pair) seen.push(pair);
    if (states.every((s) => s === 'done')) break;
    expect(
      states.every((s) => s !== 'error'),
      seen.join(' → '),
    ).toBe(true);
    await page.waitForTimeout(150);
  }
  expect(seen[seen.length - 1]).toBe('done/done');
  for (const pair of seen) {
    const [a, b] = pair.split('/');
    if (b === 'running' || b === 'done') expect(a, seen.join(' → ')).toBe('done');
  }
  expect(
    seen.some((p) => p.startsWith('running/queued')),
    seen.join(' → '),
  ).toBe(true);
  await expect(page.getByTestId('loss-chart')).toHaveAttribute('data-points', String(2 * (3 + 1)));
  await page.screenshot({ path: 'test-results/schedule-sequential.png', fullPage: true });
  expect(errors).toEqual([]);
});
