// The built-in model loads in the page through its URL source (Vite serves public/models/), and a second
// load is served from the Cache API: no request reaches the network for it, even with the browser offline.
import { expect, test } from '@playwright/test';

interface LoadSummary {
  modelType: string;
  tensors: number;
  firstValues: number[];
  progress: { file: string; cached: boolean; loadedBytes: number; totalBytes: number | null }[];
}

test('the built-in model loads, then loads again from the cache with no network', async ({
  page,
  context,
}) => {
  // A blank page on the dev server's origin: the app's own page would load the model itself and muddle
  // the request count; module imports still go through Vite.
  await page.route('**/model-cache-blank', (r) =>
    r.fulfill({ contentType: 'text/html', body: '<!doctype html><title>blank</title>' }),
  );
  await page.goto('/model-cache-blank');
  const modelRequests: string[] = [];
  page.on('request', (r) => {
    if (r.url().includes('/models/tiny-llama-brown/')) modelRequests.push(r.url());
  });
  const load = (clear: boolean) =>
    page.evaluate(async (clear) => {
      // A variable path so TypeScript checks types, not the dev server's URL.
      const url = '/src/model/sources/index.ts';
      const m = (await import(url)) as typeof import('../src/model/sources/index');
      if (clear) await caches.delete(m.MODEL_CACHE_NAME);
      const progress: LoadSummary['progress'] = [];
      const opened = await m.builtinModelSource().open({
        onProgress: (p) => {
          if (p.done)
            progress.push({
              file: p.file,
              cached: p.cached,
              loadedBytes: p.loadedBytes,
              totalBytes: p.totalBytes,
            });
        },
      });
      const first = await opened.reader.readF32('model.norm.weight');
      return {
        modelType: opened.config.modelType,
        tensors: opened.match.keyMap.size,
        firstValues: Array.from(first.subarray(0, 4)),
        progress,
      } satisfies LoadSummary;
    }, clear);

  const first = await load(true);
  expect(first.modelType).toBe('llama');
  expect(first.progress.find((p) => p.file === 'model.safetensors')).toMatchObject({ cached: false });
  // config, tokenizer.json, tokenizer_config.json, the index probe (404), model.safetensors.
  expect(modelRequests.length).toBe(5);

  modelRequests.length = 0;
  await context.setOffline(true);
  try {
    const second = await load(false);
    expect(modelRequests).toEqual([]);
    expect(second.progress.every((p) => p.cached)).toBe(true);
    expect(second.tensors).toBe(first.tensors);
    expect(second.firstValues).toEqual(first.firstValues);
    const weights = second.progress.find((p) => p.file === 'model.safetensors')!;
    expect(weights.loadedBytes).toBe(first.progress.find((p) => p.file === 'model.safetensors')!.loadedBytes);
  } finally {
    await context.setOffline(false);
  }
});
