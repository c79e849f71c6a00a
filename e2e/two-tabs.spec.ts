// Two tabs on one store: a second tab of the page opened while the first trains shares its IndexedDB, so
// it reads the first tab's live run. That run must not come back there as "interrupted by a page reload"
// with a resume button: resuming it would train the same run in both tabs, both writing its checkpoint
// and record (observed before the fix: tab B resumed from step 10 while tab A went on at step 25). A tab
// holds a Web Lock per run its worker trains (src/app/run-locks.ts), and a loading tab shows a run whose
// lock another tab holds as trained elsewhere. docs/reliability.md lists it.
import { expect, test } from '@playwright/test';
import { fillHyper, flowUrl, openFresh, pickMethods } from './page';

test('a second tab does not offer to resume a run the first tab is training', async ({ page, context }) => {
  test.setTimeout(240_000);
  await openFresh(page);
  await expect(page.getByTestId('method-figures-lora')).toContainText('predicted');
  await pickMethods(page, ['lora']);
  await fillHyper(page, { steps: 400, batch: 2, seqLen: 16, evalEvery: 0 });
  await page.getByTestId('start-runs').click();
  const card = page.getByTestId('run-card');
  await expect(card).toHaveAttribute('data-checkpoint', /^\d+$/, { timeout: 200_000 });
  const b = await context.newPage();
  try {
    await b.goto(flowUrl());
    await expect(b.getByTestId('model-panel')).toHaveAttribute('data-state', 'ready', { timeout: 120_000 });
    const cardB = b.getByTestId('run-card');
    await expect(cardB).toHaveCount(1);
    await expect(card).toHaveAttribute('data-state', 'running');
    // The second tab sees the run, but not as one a reload interrupted.
    await expect(cardB).toHaveAttribute('data-state', 'elsewhere');
    await expect(cardB).toContainText('Training in another tab');
    await expect(cardB.getByTestId('resume-interrupted')).toHaveCount(0, { timeout: 5_000 });
  } finally {
    await b.close();
  }
});
