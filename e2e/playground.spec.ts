// The playground journey in real Chromium (WebGPU on SwiftShader here, so everything is tiny): the
// built-in model loads, a JSONL and a CSV are dropped in, LoRA and prompt tuning (from the registry) train
// side by side in the worker, both loss curves and the memory chart fill, the comparison table gets
// numbers, generation streams the base model's and each run's output, an adapter exported and imported
// back evaluates to the same loss, the runs come back after a reload, a run interrupted by a reload
// resumes from its checkpoint, and main-thread long tasks are measured while training (long-task observer).
// Screenshots: test-results/playground-*.png.

import { readFileSync } from 'node:fs';
import { expect, type Page, test } from '@playwright/test';
import { listMethods } from '../src/peft/registry';
import { fillHyper, openFresh, pickMethods } from './page';
import { unzipStored } from './zip';

const JSONL = Array.from({ length: 12 }, (_, i) =>
  JSON.stringify({ prompt: `The plural of word${i} is`, completion: ` word${i}s.` }),
).join('\n');
const CSV = `question,answer\n${Array.from({ length: 12 }, (_, i) => `"Say ${i} twice:"," ${i} ${i}."`).join('\n')}\n`;

test('drop data, train two methods side by side, compare, reload', async ({ page }) => {
  test.setTimeout(600_000);
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  // Long tasks are recorded from the first paint; the test reads only those that start after "start".
  await page.addInitScript(() => {
    const w = window as unknown as { __longTasks: { start: number; duration: number }[] };
    w.__longTasks = [];
    new PerformanceObserver((list) => {
      for (const e of list.getEntries()) w.__longTasks.push({ start: e.startTime, duration: e.duration });
    }).observe({ type: 'longtask', buffered: true });
  });
  await openFresh(page, '/', 'defaults'); // the page's own kernels (quad on SwiftShader)
  await expect(page.getByTestId('gpu-status')).toHaveAttribute('data-state', 'ready');

  const drop = page.getByTestId('dataset-drop').locator('input[type=file]');
  await drop.setInputFiles({
    name: 'plural.jsonl',
    mimeType: 'application/jsonl',
    buffer: Buffer.from(JSONL),
  });
  await expect(page.getByTestId('dataset-summary')).toContainText('plural.jsonl');
  await expect(page.getByTestId('dataset-shape')).toHaveText('prompt_completion');
  await drop.setInputFiles({ name: 'twice.csv', mimeType: 'text/csv', buffer: Buffer.from(CSV) });
  await expect(page.getByTestId('dataset-summary')).toContainText('twice.csv');
  await expect(page.getByTestId('dataset-summary')).toContainText('completion ← answer');
  await expect(page.getByTestId('dataset-skipped')).toHaveText('0');

  // Every registered method is listed by family, with its count and predicted memory before anything starts.
  const picker = page.getByTestId('method-picker');
  await expect(picker.locator('li[data-method]')).toHaveCount(listMethods().length);
  await expect(page.getByTestId('method-figures-full')).toContainText('trainable (100.00%)');
  await expect(page.getByTestId('method-figures-lora')).toContainText(/trainable \(\d.*predicted/);
  await expect(page.getByTestId('method-figures-prompt')).toContainText('predicted');
  // An option change is recomputed in the worker: LoRA r=4 trains half of what r=8 does.
  const r8 = await page.getByTestId('method-figures-lora').textContent();
  await picker.locator('li[data-method="lora"] button.link').click();
  await picker.locator('li[data-method="lora"] input[name="r"]').fill('4');
  await expect(page.getByTestId('method-figures-lora')).not.toHaveText(r8 ?? '');
  const count = async (m: string) =>
    Number((await page.getByTestId(`method-figures-${m}`).textContent())?.split(' ')[0].replace(/,/g, ''));
  expect(2 * (await count('lora'))).toBe(Number(r8?.split(' ')[0].replace(/,/g, '')));
  for (const m of ['lora', 'prompt'])
    await picker.locator(`li[data-method="${m}"] input[type=checkbox]`).first().check();
  await fillHyper(page, { steps: 4, batch: 2, seqLen: 16, evalEvery: 2, lr: 0.001 });
  const t0 = await page.evaluate(() => performance.now());
  await page.getByTestId('start-runs').click();
  const cards = page.getByTestId('run-card');
  await expect(cards).toHaveCount(2);
  // Not full-page: a full-page capture resizes the viewport, and a click right after can land elsewhere.
  await page.screenshot({ path: 'test-results/playground-started.png' });
  // Both curves grow while both runs are alive: a point of each before either finishes.
  await expect(page.getByTestId('loss-chart').locator('.recharts-line')).toHaveCount(4);
  await expect(page.getByTestId('schedule')).toHaveAttribute('data-mode', 'interleaved');
  await expect(cards.nth(0)).toHaveAttribute('data-state', 'done', { timeout: 240_000 });
  await expect(cards.nth(1)).toHaveAttribute('data-state', 'done', { timeout: 240_000 });
  const t1 = await page.evaluate(() => performance.now());

  // Train and eval points for each run (4 steps, eval at 2 and 4).
  await expect(page.getByTestId('loss-chart')).toHaveAttribute('data-points', String(2 * (4 + 2)));
  await expect(page.getByTestId('memory-chart')).toHaveAttribute('data-runs', '2');
  const table = page.getByTestId('comparison-table');
  for (const col of [
    'trainableParams',
    'peakBytes',
    'peakXWeights',
    'tokensPerS',
    'evalLoss',
    'exactMatch',
  ]) {
    const cells = table.locator(`tbody td[data-col="${col}"]`);
    await expect(cells).toHaveCount(2);
    for (const t of await cells.allTextContents())
      if (col === 'exactMatch') expect(Number(t), `${col}: "${t}"`).toBeGreaterThanOrEqual(0);
      else expect(Number(t), `${col}: "${t}"`).toBeGreaterThan(0);
  }
  const lora = table.locator('tbody tr', { hasText: 'lora' }).first();
  const prompt = table.locator('tbody tr', { hasText: 'prompt' }).first();
  const n = async (row: typeof lora, col: string) =>
    Number(await row.locator(`td[data-col="${col}"]`).textContent());
  expect(await n(lora, 'trainablePct')).toBeLessThan(100);
  expect(await n(prompt, 'trainablePct')).toBeLessThan(await n(lora, 'trainablePct'));
  await page.screenshot({ path: 'test-results/playground-trained.png', fullPage: true });

  const long = await page.evaluate(
    ([a, b]) =>
      (window as unknown as { __longTasks: { start: number; duration: number }[] }).__longTasks.filter(
        (t) => t.start >= a && t.start <= b,
      ),
    [t0, t1],
  );
  const over = long.filter((t) => t.duration > 50);
  test.info().annotations.push({
    type: 'long tasks > 50 ms during training',
    description: `${over.length} of ${long.length}, longest ${Math.round(Math.max(0, ...over.map((t) => t.duration)))} ms`,
  });
  // On SwiftShader the GPU work runs on the same CPU cores as the page, so the main thread is starved and
  // even tiny tasks stretch past 50 ms of wall time: the bound is asserted on hardware adapters only; on
  // software ones the figure is recorded (the annotation above) rather than asserted.
  const software = (await page.getByTestId('gpu-kind').textContent())?.startsWith('software');
  if (!software) expect(over, JSON.stringify(long)).toEqual([]);

  // Generation: the base model and each run, streamed into their own boxes.
  const gen = page.getByTestId('generate-panel');
  await gen.locator('input[name="maxNewTokens"]').fill('4');
  await page.getByTestId('generate').click();
  const outs = gen.getByTestId('gen-output');
  await expect(outs).toHaveCount(3);
  // Generous: the base model's first generation compiles its pipelines, slow on a loaded SwiftShader machine.
  for (let i = 0; i < 3; i++)
    await expect(outs.nth(i)).toHaveAttribute('data-done', 'true', { timeout: 180_000 });
  for (const t of await outs.locator('pre').allTextContents()) expect(t.length).toBeGreaterThan(0);
  await expect(gen.locator('.error')).toHaveCount(0);
  const greedyBefore = await outputsByTarget(page);

  // Inference latency on demand: base / unmerged / merged for LoRA (mergeable).
  const loraCard = cards.filter({ hasText: 'lora' }).first();
  await loraCard.getByTestId('measure-latency').click();
  for (const col of ['latencyBase', 'latencyUnmerged', 'latencyMerged'])
    await expect(lora.locator(`td[data-col="${col}"]`)).toHaveText(/^\d+\.\d\d$/, { timeout: 180_000 });

  // Export LoRA's adapter (one zip named after the run: PEFT's two files and a model card in a folder),
  // import the two files back: evaluated, the same eval loss.
  const adapterZip = await downloads(page, loraCard.getByTestId('export-adapter'), 1);
  expect(Object.keys(adapterZip)).toEqual(['lora-adapter.zip']);
  const folder = unzipStored(adapterZip['lora-adapter.zip']);
  expect([...folder.keys()]).toEqual([
    'lora/adapter_config.json',
    'lora/adapter_model.safetensors',
    'lora/README.md',
  ]);
  const files: Record<string, Buffer> = {
    'adapter_config.json': folder.get('lora/adapter_config.json') as Buffer,
    'adapter_model.safetensors': folder.get('lora/adapter_model.safetensors') as Buffer,
  };
  expect(JSON.parse(files['adapter_config.json'].toString()).peft_type).toBe('LORA');
  const card = folder.get('lora/README.md')?.toString() ?? '';
  expect(card).toContain('base_model: "tiny-llama-brown"');
  expect(card).toMatch(/- Final eval loss: \d+\.\d{4}/);
  await page
    .getByTestId('import-adapter')
    .locator('input[type=file]')
    .setInputFiles(
      Object.entries(files).map(([name, buffer]) => ({ name, mimeType: 'application/octet-stream', buffer })),
    );
  await expect(cards).toHaveCount(3);
  await expect(cards.nth(2)).toHaveAttribute('data-state', 'done');
  const imported = table.locator('tbody tr', { hasText: 'imported' }).first();
  // The row fills in from the run's results, which can render a moment after its card turns done.
  const loraEval = await n(lora, 'evalLoss');
  await expect.poll(() => n(imported, 'evalLoss')).toBeCloseTo(loraEval, 4);
  await page.screenshot({ path: 'test-results/playground-generated.png', fullPage: true });

  await page.reload();
  await expect(page.getByTestId('run-card')).toHaveCount(3);
  await expect(page.getByTestId('run-card').nth(0)).toHaveAttribute('data-state', 'done');
  await expect(page.getByTestId('loss-chart')).toHaveAttribute('data-points', String(2 * (4 + 2) + 1));
  await page.screenshot({ path: 'test-results/playground-reloaded.png', fullPage: true });

  // The finished runs come back into the new worker from their last checkpoint: greedy generation gives
  // the same text as before the reload, for the base model and every run.
  await expect(page.getByTestId('model-panel')).toHaveAttribute('data-state', 'ready');
  await gen.locator('input[name="maxNewTokens"]').fill('4');
  await page.getByTestId('generate').click();
  // The base model, the two trained runs and the imported one (it had no output before the reload).
  await expect(outs).toHaveCount(4);
  for (let i = 0; i < 4; i++)
    await expect(outs.nth(i)).toHaveAttribute('data-done', 'true', { timeout: 180_000 });
  await expect(gen.locator('.error')).toHaveCount(0);
  const greedyAfter = await outputsByTarget(page);
  for (const [target, text] of Object.entries(greedyBefore)) expect(greedyAfter[target], target).toBe(text);

  // Merged model (HF layout: the adapter folded in, no adapter tensors left) and the ONNX preview.
  const reloadedLora = page.getByTestId('run-card').filter({ hasText: 'lora' }).first();
  const mergedZip = await downloads(page, reloadedLora.getByTestId('export-merged'), 1);
  expect(Object.keys(mergedZip)).toEqual(['lora-merged.zip']);
  const merged = unzipStored(mergedZip['lora-merged.zip']);
  // The model's folder as transformers loads it: config, weights and the built-in model's tokenizer files.
  expect([...merged.keys()]).toEqual([
    'lora/config.json',
    'lora/model.safetensors',
    'lora/tokenizer.json',
    'lora/tokenizer_config.json',
  ]);
  expect(JSON.parse(merged.get('lora/config.json')?.toString() ?? '').model_type).toBe('llama');
  expect(JSON.parse(merged.get('lora/tokenizer.json')?.toString() ?? '').model).toBeTruthy();
  const st = merged.get('lora/model.safetensors') as Buffer;
  const header = JSON.parse(st.subarray(8, 8 + Number(st.readBigUInt64LE(0))).toString()) as Record<
    string,
    unknown
  >;
  expect(Object.keys(header)).toContain('model.layers.0.self_attn.q_proj.weight');
  expect(Object.keys(header).filter((k) => k.includes('lora'))).toEqual([]);
  const onnx = await downloads(page, reloadedLora.getByTestId('export-onnx'), 1);
  expect(Object.keys(onnx)).toEqual(['lora-model.onnx']);
  expect(onnx['lora-model.onnx'].length).toBeGreaterThan(st.length / 2);

  // Delete one run: LoRA's card, its row and its checkpoint go, and a reload does not bring it back.
  const loraId = (await reloadedLora.getAttribute('data-run')) ?? '';
  expect(await savedKeys(page, 'peft-playground-checkpoints', 'checkpoints')).toContain(loraId);
  await reloadedLora.getByTestId('delete-run').click();
  await expect(page.getByTestId('run-card')).toHaveCount(2);
  await expect(page.locator(`[data-run="${loraId}"]`)).toHaveCount(0);
  await expect
    .poll(() => savedKeys(page, 'peft-playground-checkpoints', 'checkpoints'))
    .not.toContain(loraId);
  await expect.poll(() => savedKeys(page, 'peft-playground', 'runs')).not.toContain(loraId);
  await page.reload();
  await expect(page.getByTestId('run-card')).toHaveCount(2);
  await expect(page.locator(`[data-run="${loraId}"]`)).toHaveCount(0);
  expect(await savedKeys(page, 'peft-playground', 'metrics')).not.toContain(loraId);
  expect(errors).toEqual([]);
});

/** The keys of one IndexedDB object store of the page's origin. */
function savedKeys(page: Page, db: string, storeName: string): Promise<string[]> {
  return page.evaluate(
    ([name, s]) =>
      new Promise<string[]>((resolve, reject) => {
        const req = indexedDB.open(name);
        req.onerror = () => reject(req.error);
        req.onsuccess = () => {
          const keys = req.result.transaction(s, 'readonly').objectStore(s).getAllKeys();
          keys.onsuccess = () => {
            resolve(keys.result.map(String));
            req.result.close();
          };
          keys.onerror = () => reject(keys.error);
        };
      }),
    [db, storeName] as const,
  );
}

/** The generation panel's texts by target (base or a run's label). */
async function outputsByTarget(page: Page): Promise<Record<string, string>> {
  const outs = page.getByTestId('generate-panel').getByTestId('gen-output');
  const got: Record<string, string> = {};
  for (let i = 0; i < (await outs.count()); i++) {
    const o = outs.nth(i);
    got[(await o.getAttribute('data-target')) ?? `#${i}`] = (await o.locator('pre').textContent()) ?? '';
  }
  return got;
}

/** Clicks `button` and collects the `count` downloads it starts, by file name. */
async function downloads(
  page: Page,
  button: ReturnType<Page['locator']>,
  count: number,
): Promise<Record<string, Buffer>> {
  const got: Record<string, Buffer> = {};
  const done = new Promise<void>((resolve) => {
    const onDownload = async (d: import('@playwright/test').Download) => {
      const path = await d.path();
      got[d.suggestedFilename()] = readFileSync(path);
      if (Object.keys(got).length === count) {
        page.off('download', onDownload);
        resolve();
      }
    };
    page.on('download', onDownload);
  });
  await button.click();
  await done;
  return got;
}

test('a run interrupted by a reload resumes from its last checkpoint', async ({ page }) => {
  test.setTimeout(300_000);
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await openFresh(page);
  await expect(page.getByTestId('method-figures-lora')).toContainText('predicted');
  await pickMethods(page, ['lora']);
  await fillHyper(page, { steps: 30, batch: 2, seqLen: 16, evalEvery: 0 });
  await page.getByTestId('start-runs').click();
  const card = page.getByTestId('run-card');
  await expect(card).toHaveCount(1);
  // Checkpoints every 5 steps: wait for one, then pull the page away mid-run.
  await expect(card).toHaveAttribute('data-checkpoint', /^(5|10|15|20|25)$/, { timeout: 200_000 });
  const ck = Number(await card.getAttribute('data-checkpoint'));
  await page.reload();
  await expect(card).toHaveAttribute('data-state', 'interrupted');
  await expect(page.getByTestId('model-panel')).toHaveAttribute('data-state', 'ready');
  await card.getByTestId('resume-interrupted').click();
  await expect(card).toContainText(/Resumed from the checkpoint at step \d+/);
  const resumed = Number((await card.textContent())?.match(/checkpoint at step (\d+)\./)?.[1]);
  expect(resumed).toBeGreaterThanOrEqual(ck);
  await expect(card).toHaveAttribute('data-state', 'done', { timeout: 240_000 });
  // One point per step (logged every step at 30 steps) and the final eval point: none twice, as the
  // points after the checkpoint were dropped and redone.
  await expect(page.getByTestId('loss-chart')).toHaveAttribute('data-points', '31');
  await page.screenshot({ path: 'test-results/playground-resumed.png', fullPage: true });
  expect(errors).toEqual([]);
});
