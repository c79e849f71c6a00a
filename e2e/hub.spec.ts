// A model from the Hub in the page, against a local stand-in for the Hub (test/helpers/hub-server.ts) named by
// `?hf_endpoint=`: a Hub error is named while the built-in model stays loaded; checking a repo fetches its
// config.json alone (the plan shows, no weight requested); downloading loads it in the worker (a sharded
// checkpoint whose shards come through the Hub's redirect); with the server stopped, a fresh page loads the
// same repo from the Cache API, and a repo that was never cached is named as offline.
import { expect, type Page, test } from '@playwright/test';
import { type HubServer, startHubServer } from '../test/helpers/hub-server';
import { openFresh } from './page';

const MAIN = 'e'.repeat(40);
let hub: HubServer;

test.beforeAll(async () => {
  hub = await startHubServer({
    'org/tiny': { commits: { [MAIN]: 'test/fixtures/models/llama-tiny' }, refs: { main: MAIN } },
    'org/gated': {
      commits: { [MAIN]: 'test/fixtures/models/gpt2-tiny' },
      refs: { main: MAIN },
      token: 'hf_x',
    },
  });
});
test.afterAll(() => hub.close());

async function check(page: Page, repo: string, revision = ''): Promise<void> {
  const form = page.getByTestId('hub-model');
  await form.locator('input[name="hub-repo"]').fill(repo);
  await form.locator('input[name="hub-revision"]').fill(revision);
  await form.getByRole('button', { name: 'Check' }).click();
}

const alert = (page: Page) => page.getByTestId('model-panel').getByRole('alert');

test('a Hub model: errors named, the plan before the weights, then loaded, then again offline', async ({
  page,
}) => {
  await page.goto('/'); // an origin to clear the cache of
  await page.evaluate(() => caches.delete('peft-playground-models-v1'));
  await openFresh(page, `/?hf_endpoint=${encodeURIComponent(hub.url)}`);
  await expect(page.getByTestId('model-summary')).toContainText('tiny-llama-brown');

  await check(page, 'org/nope');
  await expect(alert(page)).toContainText(`org/nope: no such model on ${hub.url}`);
  await expect(alert(page)).toContainText('tiny-llama-brown stays loaded');
  await check(page, 'org/gated');
  await expect(alert(page)).toContainText('org/gated is gated or private');
  await check(page, 'org/tiny', 'nobranch');
  await expect(alert(page)).toContainText('org/tiny has no revision "nobranch"');

  await check(page, 'org/tiny');
  const plan = page.getByTestId('hub-plan');
  await expect(plan).toContainText(`org/tiny at commit ${MAIN.slice(0, 10)}`);
  await expect(alert(page)).toHaveCount(0); // the earlier failure's message went with the new attempt
  await expect(plan).toContainText('llama, 2 layers, d=24, vocab 267');
  await expect(plan.getByTestId('plan-panel')).toContainText('Memory plan for org/tiny');
  expect(hub.requests.filter((r) => r.includes('.safetensors') || r.includes('/lfs-cdn/'))).toEqual([]);
  await plan.getByRole('button', { name: 'Download and load' }).click();
  await expect(page.getByTestId('model-summary')).toContainText('org/tiny', { timeout: 60_000 });
  await expect(page.getByTestId('model-summary')).toContainText('llama, 2 layers, d=24, vocab 267');
  expect(hub.requests.filter((r) => r.startsWith('GET /lfs-cdn/')).length).toBeGreaterThanOrEqual(2);
  await expect(page.getByTestId('hub-model')).toHaveAttribute('data-state', 'idle');

  // The Hub is gone: a fresh page finds the commit and every file in the Cache API.
  await hub.close();
  await page.reload();
  await expect(page.getByTestId('model-panel')).toHaveAttribute('data-state', 'ready', { timeout: 120_000 });
  await check(page, 'org/tiny');
  await expect(plan).toContainText('(offline: from the cache)');
  await plan.getByRole('button', { name: 'Download and load' }).click();
  await expect(page.getByTestId('model-summary')).toContainText('org/tiny', { timeout: 60_000 });
  await check(page, 'org/other');
  await expect(alert(page)).toContainText('cannot be reached');
  await expect(alert(page)).toContainText('offline, and org/other is not in the cache');
  await expect(alert(page)).toContainText('org/tiny stays loaded');
});
