// Two tabs on one store: a second tab of the page opened while the first trains shares its IndexedDB, so
// it reads the first tab's live run. That run must not come back there as "interrupted by a page reload"
// with a resume button: resuming it would train the same run in both tabs, both writing its checkpoint
// and record (observed: tab B resumed from step 10 while tab A went on at step 25). This is an open
// defect (the fix belongs where runs are loaded and resumed, src/store/persist.ts and src/app/engine.ts,
// e.g. a Web Lock held per training run), so the test is marked as failing: Playwright reports it when
// it starts to pass, and the mark should then go. docs/reliability.md lists it.
import { expect, test } from '@playwright/test';
import { fillHyper, openFresh, pickMethods } from './page';

test('a second tab does not offer to resume a run the first tab is training', async ({ page, context }) => {
  test.fail(true, 'open defect: the second tab shows the live run as interrupted and resumes it (issue 14)');
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
    await b.goto('/');
    await expect(b.getByTestId('model-panel')).toHaveAttribute('data-state', 'ready', { timeout: 120_000 });
    const cardB = b.getByTestId('run-card');
    await expect(cardB).toHaveCount(1);
    await expect(card).toHaveAttribute('data-state', 'running');
    // The second tab sees the run, but not as one a reload interrupted.
    await expect(cardB).not.toHaveAttribute('data-state', 'interrupted', { timeout: 5_000 });
    await expect(cardB.getByTestId('resume-interrupted')).toHaveCount(0, { timeout: 5_000 });
  } finally {
    await b.close();
  }
});
