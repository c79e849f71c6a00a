// A GPU device lost mid-run in the page (forced through the dev build's hook, which destroys the worker's
// device as a driver reset would): the run ends with a sentence naming the loss, the step it was at and the
// checkpoint kept; Resume from checkpoint continues it from there on a new device, without a reload, to its
// end, with no point drawn twice.
import { expect, test } from '@playwright/test';
import { fillHyper, openFresh, pickMethods } from './page';

test('a run ended by a lost GPU device resumes from its last checkpoint on a new device', async ({
  page,
}) => {
  test.setTimeout(300_000);
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  // The dev server's hot reload is cut off (its socket answered here, never by the server): an edit to the
  // sources by anyone on this machine would otherwise reload the page mid-run, and this test is about a run
  // that goes on without a reload.
  await page.routeWebSocket(/./, () => {});
  await openFresh(page);
  await expect(page.getByTestId('method-figures-lora')).toContainText('predicted');
  await pickMethods(page, ['lora']);
  await fillHyper(page, { steps: 30, batch: 2, seqLen: 16, evalEvery: 0 });
  await page.getByTestId('start-runs').click();
  const card = page.getByTestId('run-card');
  await expect(card).toHaveCount(1);
  // Checkpoints every 5 steps: wait for one, then lose the device mid-run.
  await expect(card).toHaveAttribute('data-checkpoint', /^(5|10|15|20|25)$/, { timeout: 200_000 });
  await page.evaluate(() => (window as unknown as { __loseGpuDevice: () => void }).__loseGpuDevice());
  await expect(card).toHaveAttribute('data-state', 'error');
  const ck = Number(await card.getAttribute('data-checkpoint'));
  const message = card.locator('p.error');
  await expect(message).toHaveText(
    new RegExp(
      `^The GPU device was lost \\(destroyed[^)]*\\) at step (\\d+); the last checkpoint at step ${ck} is kept; Resume continues from it on a new device\\. Every run on this device stopped with it\\.$`,
    ),
  );
  const lostAt = Number((await message.textContent())?.match(/at step (\d+);/)?.[1]);
  expect(lostAt).toBeGreaterThanOrEqual(ck);
  expect(lostAt).toBeLessThan(30);

  // The same page, no reload: Resume continues from that checkpoint on a new device, to the end.
  await card.getByTestId('resume-interrupted').click();
  await expect(card).toContainText(`Resumed from the checkpoint at step ${ck}.`);
  await expect(card.getByTestId('resume-interrupted')).toHaveCount(0);
  await expect(card).toHaveAttribute('data-state', 'done', { timeout: 240_000 });
  // One point per step (logged every step at 30 steps) and the final eval point: the points after the
  // checkpoint were dropped and redone, none drawn twice.
  await expect(page.getByTestId('loss-chart')).toHaveAttribute('data-points', '31');
  expect(errors).toEqual([]);
});
