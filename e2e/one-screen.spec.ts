// The one-screen layout (issue 13): while two runs train, the run cards, the loss chart, the memory chart
// and the comparison table are all inside a 1440×900 viewport at once, and inside 1280×720 too; Start is
// in view without scrolling and is the first control Tab reaches; the table needs no sideways scroll; a
// run's first step says its shaders are compiling. What the model sees is rendered, with another template
// on request. Screenshots at both sizes go to docs/screenshots/.
import { expect, type Page, test } from '@playwright/test';
import { fillHyper, openFresh, pickMethods } from './page';

const PANELS = ['loss-chart', 'memory-chart', 'comparison-table'];

/** Test ids (and each run card) whose box is not wholly inside the viewport. */
async function outside(page: Page): Promise<string[]> {
  const vp = page.viewportSize();
  if (!vp) throw new Error('no viewport');
  const out: string[] = [];
  const boxes = [
    ...PANELS.map((id) => [id, page.getByTestId(id)] as const),
    ...(await page.getByTestId('run-card').all()).map((l, i) => [`run-card ${i}`, l] as const),
  ];
  for (const [name, l] of boxes) {
    const b = await l.boundingBox();
    if (!b || b.x < 0 || b.y < 0 || b.x + b.width > vp.width + 0.5 || b.y + b.height > vp.height + 0.5)
      out.push(`${name}: ${JSON.stringify(b)}`);
  }
  return out;
}

test('run cards, both charts and the table share one screen while training', async ({ page }) => {
  test.setTimeout(300_000);
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.setViewportSize({ width: 1440, height: 900 });
  await openFresh(page);
  // What the model sees: the sample's first examples as training tokenises them, the completion trained.
  const sees = page.getByTestId('model-sees');
  await expect(sees.getByTestId('rendered-example')).toHaveCount(3);
  await expect(sees.locator('.tok[data-trained="true"]').first()).toBeVisible();
  await expect(sees.locator('.tok[data-trained="false"]').first()).toBeVisible();
  // Another template renders them again (and trains on them): Alpaca's headers appear, then back to none.
  await page.getByTestId('template-select').selectOption('alpaca');
  // At the page's 48 tokens the Alpaca preamble fills the sequence: the preview shows the cut, and why.
  await expect(sees.getByTestId('rendered-seq').first()).toContainText('### Instruction:');
  await expect(sees.getByTestId('rendered-cut').first()).toBeVisible();
  await expect(sees.getByTestId('rendered-seq').first()).toContainText('left out of training');
  await expect(sees).toHaveAttribute('data-template', 'alpaca');
  await page.getByTestId('template-select').selectOption('none');
  await expect(sees).toHaveAttribute('data-template', 'none');
  await expect(sees.getByTestId('rendered-seq').first()).not.toContainText('### Instruction:');
  await expect(sees.getByTestId('rendered-cut')).toHaveCount(0);
  await pickMethods(page, ['lora', 'prompt']);
  await fillHyper(page, { steps: 40, batch: 2, seqLen: 16, evalEvery: 4 });

  // Start is in view and first in the keyboard order (the setup column comes before the results).
  await page.evaluate(() => window.scrollTo(0, 0));
  await expect(page.getByTestId('start-runs')).toBeInViewport({ ratio: 1 });
  // A click on the title moves the keyboard's starting point to the top of the page.
  await page.locator('.topbar h1').click();
  await page.keyboard.press('Tab');
  await expect(page.getByTestId('start-runs')).toBeFocused();

  await page.keyboard.press('Enter');
  const cards = page.getByTestId('run-card');
  await expect(cards).toHaveCount(2);
  // The first step compiles the run's pipelines (seconds on SwiftShader): the card says so.
  await expect(cards.first().getByTestId('run-phase')).toHaveAttribute('data-phase', 'compiling');
  // Training: points on the loss chart and an eval row in the table, both runs still running.
  await expect
    .poll(async () => Number(await page.getByTestId('loss-chart').getAttribute('data-points')), {
      timeout: 200_000,
    })
    .toBeGreaterThanOrEqual(4);
  await expect(page.getByTestId('memory-chart')).toHaveAttribute('data-runs', '2');
  await expect(cards.nth(0)).toHaveAttribute('data-state', 'running');
  await expect(page.locator('[data-testid="comparison-table"] tbody tr')).toHaveCount(2);

  await page.evaluate(() => window.scrollTo(0, 0));
  // The setup column back at its top (ticking methods scrolled it), as a new user sees it.
  await page.locator('aside.setup').evaluate((e) => e.scrollTo(0, 0));
  expect(await outside(page), 'inside 1440×900').toEqual([]);
  // The table fits its panel: no sideways scrolling anywhere on the page.
  const overflow = await page.evaluate(() => {
    const t = document.querySelector('[data-testid="comparison-table"]') as HTMLElement;
    return {
      table: t.scrollWidth - t.clientWidth,
      page: document.documentElement.scrollWidth - document.documentElement.clientWidth,
    };
  });
  expect(overflow).toEqual({ table: 0, page: 0 });
  // Every figure in the table has its unit in the header: peak memory in MiB, latency in ms.
  await expect(page.locator('th[data-col="peakBytes"]')).toContainText('MiB');
  await expect(page.locator('th.group')).toContainText('latency (ms)');
  await page.screenshot({ path: 'docs/screenshots/one-screen-1440x900.png' });

  await page.setViewportSize({ width: 1280, height: 720 });
  await page.evaluate(() => window.scrollTo(0, 0));
  await expect(page.getByTestId('start-runs')).toBeInViewport({ ratio: 1 });
  expect(await outside(page), 'inside 1280×720').toEqual([]);
  await page.screenshot({ path: 'docs/screenshots/one-screen-1280x720.png' });

  for (let i = 0; i < 2; i++)
    await expect(cards.nth(i)).toHaveAttribute('data-state', 'done', { timeout: 240_000 });
  await page.screenshot({ path: 'docs/screenshots/one-screen-1280x720-done.png' });
  expect(errors).toEqual([]);
});
