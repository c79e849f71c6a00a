// ONNX export in real Chromium: in a blank page (e2e/onnx.html, through Vite's dev server) our engine runs a model's forward
// on WebGPU, the same weights are exported to ONNX and run in onnxruntime-web (wasm backend, its files
// served by Vite from node_modules, no network), and the logits must agree within 1e-4 relative — for
// tiny random GPT-2 and Qwen2 (GQA, biases) models and for the built-in model on a short prompt.
import { readFileSync } from 'node:fs';
import { expect, type Page, test } from '@playwright/test';
import { worstRelError } from './compare';
import type { OnnxPageResult } from './onnx-page';

const RTOL = 1e-4;
/** Logits near zero carry no relative meaning: below this size the error is judged as absolute·RTOL. */
const FLOOR = 0.1;

function check(r: OnnxPageResult, tag: string): void {
  expect(r.onnx.length, `${tag}: ONNX logits length`).toBe(r.engine.length);
  const err = worstRelError(r.onnx, r.engine, FLOOR);
  expect(err.lengthOk).toBe(true);
  expect(err.worst, `${tag}: worst at ${err.index}: onnx ${err.got} vs engine ${err.want}`).toBeLessThan(
    RTOL,
  );
  console.log(
    `${tag}: worst rel ${err.worst.toExponential(2)}, ${r.onnxBytes} bytes, ` +
      `ms engine ${r.ms.engine.toFixed(0)} export ${r.ms.export.toFixed(0)} ` +
      `session ${r.ms.session.toFixed(0)} run ${r.ms.run.toFixed(0)}`,
  );
}

async function inPage(page: Page, which: 'gpt2' | 'qwen2' | 'builtin', ids: number[], B: number) {
  return page.evaluate(
    async ({ which, ids, B }) => {
      // A variable path, so TypeScript checks the module's types rather than resolving the server URL.
      const url = '/e2e/onnx-page.ts';
      const m = (await import(url)) as typeof import('./onnx-page');
      return which === 'builtin' ? m.builtin(ids) : m.tinyRandom(which, ids, B);
    },
    { which, ids, B },
  );
}

test('tiny GPT-2 and Qwen2: onnxruntime-web logits equal the engine on WebGPU', async ({ page }) => {
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto('/e2e/onnx.html');
  const ids = [3, 1, 4, 1, 5, 9, 2, 6, 5, 3, 5, 8, 9, 7, 9, 3]; // B=2, T=8
  for (const family of ['gpt2', 'qwen2'] as const) {
    const r = await inPage(page, family, ids, 2);
    expect(r.engine.length).toBe(ids.length * r.vocab);
    check(r, family);
  }
  expect(errors).toEqual([]);
});

test('the built-in model: onnxruntime-web logits equal the engine on a short prompt', async ({ page }) => {
  await page.goto('/e2e/onnx.html');
  const ref = JSON.parse(readFileSync('test/fixtures/builtin-model-reference.json', 'utf8')) as {
    input_ids: number[];
  };
  const r = await inPage(page, 'builtin', ref.input_ids.slice(0, 12), 1);
  expect(r.vocab).toBe(4096);
  expect(r.opCounts.Softmax).toBe(4);
  check(r, 'tiny-llama-brown');
});
