// One real comparison in the playground, driven as a user would: a production build served locally, the
// built-in model and a sample dataset, several methods ticked, trained side by side to the end, inference
// latency measured for each, then the comparison table exported as Markdown and screenshots saved.
//
//   node --import tsx scripts/playground-comparison.ts [--methods full,lora,ia3,prompt]
//        [--steps 30] [--batch 4] [--seq 16] [--eval-every 10] [--dataset plurals.jsonl]
//        [--out docs/comparison.md]
//
// Writes the table (with the settings and the adapter the browser got) to --out, the charts' and table's
// screenshots beside it (comparison-{loss,memory,table}.png) and the whole page to
// test-results/comparison-page.png. Uses the system Chromium (CHROMIUM_PATH) with
// WebGPU, as the e2e tests do; on a machine without a GPU that is SwiftShader, slow but exact.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { chromium } from '@playwright/test';
import { build, preview } from 'vite';
import { CHROMIUM_ARGS, CHROMIUM_PATH } from '../playwright.config';

const args = new Map<string, string>();
for (let i = 2; i < process.argv.length; i += 2)
  args.set(process.argv[i].replace(/^--/, ''), process.argv[i + 1]);
const methods = (args.get('methods') ?? 'full,lora,ia3,prompt').split(',');
const steps = args.get('steps') ?? '30';
const batch = args.get('batch') ?? '4';
const seq = args.get('seq') ?? '16';
const evalEvery = args.get('eval-every') ?? '10';
const dataset = args.get('dataset') ?? 'plurals.jsonl';
const out = args.get('out') ?? 'docs/comparison.md';
const PORT = 5194;

const dist = mkdtempSync(join(tmpdir(), 'comparison-'));
await build({ logLevel: 'error', build: { outDir: dist, emptyOutDir: true } });
const server = await preview({
  build: { outDir: dist },
  preview: { port: PORT, strictPort: true, host: '127.0.0.1' },
});
const browser = await chromium.launch({ executablePath: CHROMIUM_PATH, args: CHROMIUM_ARGS, headless: true });
const log = (s: string) => process.stderr.write(`[comparison] ${s}\n`);
try {
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 }, acceptDownloads: true });
  page.setDefaultTimeout(120_000);
  await page.goto(`http://127.0.0.1:${PORT}/`);
  await page.evaluate(() => indexedDB.deleteDatabase('peft-playground'));
  await page.reload();
  await page.getByTestId('model-panel').and(page.locator('[data-state=ready]')).waitFor();
  if (dataset !== 'plurals.jsonl') await page.getByRole('button', { name: dataset }).click();
  await page.getByTestId('dataset-summary').filter({ hasText: dataset }).waitFor();
  const status = page.getByTestId('gpu-status');
  const gpu = `${await status.locator('h2').textContent()} (${await page.getByTestId('gpu-kind').textContent()})`;
  const picker = page.getByTestId('method-picker');
  for (const box of await picker.locator('li[data-method] input[type=checkbox]').all()) await box.uncheck();
  for (const m of methods)
    await picker.locator(`li[data-method="${m}"] input[type=checkbox]`).first().check();
  const hyper = page.getByTestId('hyperparameters');
  for (const [k, v] of [
    ['steps', steps],
    ['batch', batch],
    ['seqLen', seq],
    ['evalEvery', evalEvery],
  ])
    await hyper.locator(`input[name="${k}"]`).fill(v);
  const t0 = Date.now();
  await page.getByTestId('start-runs').click();
  const cards = page.getByTestId('run-card');
  await cards.nth(methods.length - 1).waitFor();
  const schedule = (await page.getByTestId('schedule').textContent()) ?? '';
  log(schedule);
  for (;;) {
    const states = await cards.evaluateAll((els) =>
      els.map(
        (e) =>
          `${e.getAttribute('data-method')} ${e.getAttribute('data-state')} ${e.querySelector('progress')?.getAttribute('value') ?? ''}`,
      ),
    );
    if (states.every((s) => / (done|error|stopped) /.test(s))) break;
    log(`${Math.round((Date.now() - t0) / 1000)} s: ${states.join(', ')}`);
    await page.waitForTimeout(15_000);
  }
  const trainS = Math.round((Date.now() - t0) / 1000);
  // Latency of each run, one after another (each takes the device of its run for a few forwards).
  const table = page.getByTestId('comparison-table');
  for (let i = 0; i < methods.length; i++) {
    const card = cards.nth(i);
    if ((await card.getAttribute('data-state')) !== 'done') continue;
    const id = await card.getAttribute('data-run');
    await card.getByTestId('measure-latency').click();
    const cell = id
      ? table.locator(`tr[data-run="${id}"] td[data-col="latencyUnmerged"]`)
      : table.locator('td[data-col="latencyUnmerged"]').nth(i);
    await cell.filter({ hasText: /\d/ }).waitFor();
  }
  await page.waitForTimeout(1500); // the table redraws at most twice a second
  mkdirSync('test-results', { recursive: true });
  await page.mouse.move(0, 0); // no tooltip in the pictures
  await page.screenshot({ path: 'test-results/comparison-page.png', fullPage: true });
  // The charts and the table beside the Markdown (kept with it); the whole page in test-results/.
  const pic = (name: string) => join(dirname(out), `comparison-${name}.png`);
  mkdirSync(dirname(out), { recursive: true });
  await page.getByTestId('loss-chart').screenshot({ path: pic('loss') });
  await page.getByTestId('memory-chart').screenshot({ path: pic('memory') });
  await table.screenshot({ path: pic('table') });
  const download = page.waitForEvent('download');
  await table.getByRole('button', { name: 'Export Markdown' }).click();
  const md = readFileSync((await (await download).path()) ?? '', 'utf8');
  const header = [
    '# One comparison in the playground',
    '',
    `Recorded ${new Date().toISOString().slice(0, 10)} by \`node --import tsx scripts/playground-comparison.ts` +
      ` --methods ${methods.join(',')} --steps ${steps} --batch ${batch} --seq ${seq} --eval-every ${evalEvery}` +
      ` --dataset ${dataset}\`: the built-in model (tiny-llama-brown), the ${dataset} sample, each method with` +
      ' its default options and learning rate, trained side by side in the worker of a production build.',
    '',
    `- Adapter: ${gpu}`,
    `- Schedule: ${schedule}`,
    `- Wall time to train all runs: ${trainS} s`,
    '- The whole page: `test-results/comparison-page.png`',
    '',
    '![loss](comparison-loss.png)',
    '![memory](comparison-memory.png)',
    '',
  ].join('\n');
  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(out, `${header}\n${md}\n`);
  log(`wrote ${out} (${trainS} s of training)`);
  process.stdout.write(`${md}\n`);
} finally {
  await browser.close();
  await server.close();
  rmSync(dist, { recursive: true, force: true });
}
