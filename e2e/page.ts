// Steps every playground spec takes: open the page on a fresh database with the built-in model and the
// first sample loaded, tick exactly the methods a test trains, and fill the hyperparameter form.
import { expect, type Page } from '@playwright/test';

/**
 * The page's address for a flow test: with `?gpu_without=subgroups` unless `kernels` is 'defaults'. Why: on
 * SwiftShader the page's default quad kernels take 3-5× longer to compile, which was half of a flow test's
 * time; flows (reloads, resumes, schedules, exports) do not depend on which kernels run. The kernel smoke
 * tests and the main playground test run the page's defaults.
 */
export function flowUrl(url = '/', kernels: 'portable' | 'defaults' = 'portable'): string {
  if (kernels === 'defaults') return url;
  return `${url}${url.includes('?') ? '&' : '?'}gpu_without=subgroups`;
}

/** Opens `url` with the page's IndexedDB emptied (earlier runs would make counts ambiguous), model ready. */
export async function openFresh(
  page: Page,
  url = '/',
  kernels: 'portable' | 'defaults' = 'portable',
): Promise<void> {
  // Vite's dev server reloads the page through its websocket whenever a source file changes; a test must
  // not be reloaded by someone else's edit, so the socket is answered here and never reaches the server.
  await page.routeWebSocket(/./, () => {});
  await page.goto(flowUrl(url, kernels));
  await page.evaluate(() => indexedDB.deleteDatabase('peft-playground'));
  await page.reload();
  await expect(page.getByTestId('model-panel')).toHaveAttribute('data-state', 'ready', { timeout: 120_000 });
  await expect(page.getByTestId('dataset-summary')).toBeVisible();
}

/** Ticks exactly `methods` in the picker (the page's default choice is unticked first). */
export async function pickMethods(page: Page, methods: readonly string[]): Promise<void> {
  const picker = page.getByTestId('method-picker');
  await expect(picker.locator('li[data-method]').first()).toBeVisible();
  // The method's own box (its options' bool boxes sit deeper, in the options form).
  const box = (m = '') =>
    picker.locator(`li[data-method${m ? `="${m}"` : ''}] > label > input[type=checkbox]`);
  for (const b of await box().all()) if (await b.isChecked()) await b.uncheck();
  for (const m of methods) await box(m).check();
}

/** Fills the hyperparameter form's inputs by name (steps, batch, seqLen, evalEvery, lr, budget, ...). */
export async function fillHyper(page: Page, values: Record<string, string | number>): Promise<void> {
  const hyper = page.getByTestId('hyperparameters');
  for (const [k, v] of Object.entries(values)) await hyper.locator(`input[name="${k}"]`).fill(String(v));
}
