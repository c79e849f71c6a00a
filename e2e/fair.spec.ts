// The fair comparison in the page (issue 13): the Start bar's toggle with a two-point learning-rate sweep
// and two seeds (one method, two steps a run, to stay short on SwiftShader); the sweep's runs finish first, the rate with the lowest eval loss starts the seeds,
// and the table's fair section shows each method's mean ± sd, equal to the per-run rows' figures. After a
// reload the settings are still set and the ± rows are still there (the runs' tags are saved with them).
import { expect, type Page, test } from '@playwright/test';
import { fillHyper, openFresh, pickMethods } from './page';

const METHODS = ['ia3'];

/** The per-run table's eval loss by run label. */
async function evalByLabel(page: Page): Promise<Map<string, number>> {
  const rows = page.getByTestId('comparison-table').locator('table.compare:not(.fair) tbody tr');
  const out = new Map<string, number>();
  for (const r of await rows.all()) {
    const label = ((await r.locator('td[data-col="run"]').textContent()) ?? '').trim();
    out.set(label, Number(await r.locator('td[data-col="evalLoss"]').textContent()));
  }
  return out;
}

test('fair comparison: sweep, seeds, mean ± sd rows that survive a reload', async ({ page }) => {
  test.setTimeout(900_000);
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.setViewportSize({ width: 1440, height: 900 });
  await openFresh(page);
  await pickMethods(page, METHODS);
  await fillHyper(page, { steps: 2, batch: 2, seqLen: 16, evalEvery: 0 });
  const fair = page.getByTestId('fair-settings');
  await fair.locator('input[name="fairEnabled"]').check();
  await fair.locator('input[name="fairGrid"]').fill('0,1');
  await fair.locator('input[name="fairSeeds"]').fill('2');
  await expect(page.getByTestId('start-runs')).toHaveText('Start fair comparison');
  await page.getByTestId('start-runs').click();

  // 2 sweep points, then 2 seeds at the picked rate, every one of them done.
  const cards = page.getByTestId('run-card');
  await expect(cards).toHaveCount(4, { timeout: 600_000 });
  await expect(page.locator('[data-testid="run-card"][data-state="done"]')).toHaveCount(4, {
    timeout: 600_000,
  });
  const table = page.getByTestId('fair-table');
  await expect(table).toHaveAttribute('data-live', 'false');
  const byLabel = await evalByLabel(page);
  for (const m of METHODS) {
    const row = table.locator(`tr[data-method="${m}"]`);
    await expect(row.locator('td').nth(2)).toHaveText('2/2');
    const cell = ((await row.locator('td[data-col="evalLoss"]').textContent()) ?? '').trim();
    expect(cell).toMatch(/^\d+\.\d{3} ± \d+\.\d{3}$/);
    const [mean, sd] = cell.split(' ± ').map(Number);
    // The sweep's pick: the lower eval loss of the two grid points (seed 0).
    const sweep = [...byLabel].filter(([l]) => l.startsWith(`${m} `) && l.includes('· sweep lr'));
    expect(sweep).toHaveLength(2);
    const best = sweep.sort((a, b) => a[1] - b[1])[0][0].match(/sweep lr ([\d.e-]+)/)?.[1];
    const lr = ((await row.locator('td').nth(1).textContent()) ?? '').trim();
    expect(Number(lr)).toBe(Number(best));
    // The seeds' own rows (4 decimals): their mean and sample sd are the fair row's.
    const seeds = [...byLabel].filter(([l]) => l.startsWith(`${m} `) && l.includes(`· seed lr ${lr} seed`));
    expect(seeds.map(([l]) => l.slice(-6))).toEqual(['seed 1', 'seed 2']);
    const v = seeds.map(([, x]) => x);
    expect(Math.abs(mean - (v[0] + v[1]) / 2)).toBeLessThan(1.5e-3);
    expect(Math.abs(sd - Math.abs(v[0] - v[1]) / Math.SQRT2)).toBeLessThan(1.5e-3);
  }
  // The loss chart draws each method's seeds as one mean line with a band.
  await expect(
    page.getByTestId('loss-chart').locator('.chart-legend li', { hasText: 'mean ± sd (2 seeds)' }),
  ).toHaveCount(1);

  await page.reload();
  await expect(page.getByTestId('model-panel')).toHaveAttribute('data-state', 'ready', { timeout: 120_000 });
  await expect(fair.locator('input[name="fairEnabled"]')).toBeChecked();
  await expect(fair.locator('input[name="fairSeeds"]')).toHaveValue('2');
  await expect(page.getByTestId('hyperparameters').locator('input[name="steps"]')).toHaveValue('2');
  for (const m of METHODS)
    await expect(
      page.getByTestId('fair-table').locator(`tr[data-method="${m}"] td[data-col="evalLoss"]`),
    ).toContainText('±');
  expect(errors).toEqual([]);
});
