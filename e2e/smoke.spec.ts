// Smoke test in real Chromium: the page finds a WebGPU adapter and shows it, and the engine's kernels run
// in the page (through Vite's dev server, which serves the TypeScript sources) and agree with their CPU
// twins. The adapter box is saved as test-results/smoke-gpu-status.png.
import { expect, test } from '@playwright/test';
import { addRef } from '../src/gpu/kernels/add.ref';
import { type MatmulDims, matmulRef } from '../src/gpu/kernels/matmul.ref';
import { randnList, worstRelError } from './compare';

// f32 kernels against float64 twins.
const RTOL = 1e-4;

test('the page shows a WebGPU adapter', async ({ page }) => {
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto('/');
  await expect(page).toHaveTitle('PEFT Playground');
  await expect(page.getByRole('heading', { level: 1 })).toHaveText('PEFT Playground');
  const box = page.getByTestId('gpu-status');
  // Either state ends the wait; an error state fails below with the page's own explanation.
  await expect(box).toHaveAttribute('data-state', /ready|error/);
  const state = await box.getAttribute('data-state');
  if (state === 'error') throw new Error(`no adapter: ${await page.getByTestId('gpu-error').textContent()}`);
  await expect(page.getByTestId('gpu-description')).not.toBeEmpty();
  await expect(page.getByTestId('gpu-kind')).toHaveText(/software|hardware/);
  await expect(box.locator('[data-feature="shader-f16"]')).toBeVisible();
  await page.screenshot({ path: 'test-results/smoke-gpu-status.png', fullPage: true });
  expect(errors).toEqual([]);
});

test('?gpu_without=subgroups withholds the feature and says so; an unknown name is the device error', async ({
  page,
}) => {
  await page.goto('/?gpu_without=subgroups');
  const box = page.getByTestId('gpu-status');
  await expect(box).toHaveAttribute('data-state', 'ready');
  await expect(box.locator('[data-feature="subgroups"]')).toHaveAttribute('data-on', 'false');
  await expect(box).toContainText('not asked for: subgroups');
  await page.goto('/?gpu_without=subgroup');
  await expect(box).toHaveAttribute('data-state', 'error');
  await expect(page.getByTestId('gpu-error')).toContainText('"subgroup"');
});

test('kernels in the page match their CPU twins', async ({ page }) => {
  await page.goto('/');
  const n = 1031; // not a multiple of the 256-wide workgroup
  const a = randnList(n, 1);
  const b = randnList(n, 2);
  const sum = await page.evaluate(
    async ({ a, b }) => {
      // Module paths are variables so TypeScript checks the types, not the (server-side) URLs.
      const deviceUrl = '/src/gpu/device.ts';
      const addUrl = '/src/gpu/kernels/add.ts';
      const { acquireBrowserGpu } = (await import(deviceUrl)) as typeof import('../src/gpu/device');
      const { add } = (await import(addUrl)) as typeof import('../src/gpu/kernels/add');
      const ctx = await acquireBrowserGpu();
      try {
        const ga = ctx.upload(Float32Array.from(a), 'workspace', 'a');
        const gb = ctx.upload(Float32Array.from(b), 'workspace', 'b');
        const out = ctx.arena.alloc(a.length * 4, 'workspace', 'out');
        add(ctx, { out, a: ga, b: gb, n: a.length });
        return Array.from(await ctx.readF32(out, a.length));
      } finally {
        ctx.destroy();
      }
    },
    { a, b },
  );
  const addErr = worstRelError(sum, addRef(a, b), 1e-6);
  expect(addErr.lengthOk).toBe(true);
  expect(addErr.worst, `add: worst at ${addErr.index}: ${addErr.got} vs ${addErr.want}`).toBeLessThan(RTOL);
});

test('matmul in the page matches its CPU twin, every variant', async ({ page }) => {
  await page.goto('/');
  // Odd sizes that are not multiples of any tile; one case per transpose flag.
  const cases: MatmulDims[] = [
    { M: 37, N: 29, K: 53 },
    { M: 17, N: 70, K: 33, transA: true },
    { M: 65, N: 9, K: 40, transB: true },
    { M: 1, N: 1, K: 1 },
  ];
  for (const dims of cases) {
    const a = randnList(dims.M * dims.K, 3);
    const b = randnList(dims.K * dims.N, 4);
    const byVariant = await page.evaluate(
      async ({ a, b, dims }) => {
        const deviceUrl = '/src/gpu/device.ts';
        const matmulUrl = '/src/gpu/kernels/matmul.ts';
        const { acquireBrowserGpu } = (await import(deviceUrl)) as typeof import('../src/gpu/device');
        const { matmul, MATMUL_VARIANTS } = (await import(
          matmulUrl
        )) as typeof import('../src/gpu/kernels/matmul');
        const ctx = await acquireBrowserGpu();
        try {
          const ga = ctx.upload(Float32Array.from(a), 'workspace', 'a');
          const gb = ctx.upload(Float32Array.from(b), 'workspace', 'b');
          const out = ctx.arena.alloc(dims.M * dims.N * 4, 'workspace', 'out');
          const results: Record<string, number[]> = {};
          for (const variant of MATMUL_VARIANTS) {
            ctx.clear(out);
            matmul(ctx, { out, a: ga, b: gb, ...dims, variant });
            results[variant] = Array.from(await ctx.readF32(out, dims.M * dims.N));
          }
          return results;
        } finally {
          ctx.destroy();
        }
      },
      { a, b, dims },
    );
    const want = matmulRef(a, b, dims);
    expect(Object.keys(byVariant).length).toBeGreaterThan(0);
    for (const [variant, got] of Object.entries(byVariant)) {
      // Entries of a product of unit normals are ~√K in size; that is the floor for cancellation.
      const err = worstRelError(got, want, Math.sqrt(dims.K));
      const tag = `matmul ${variant} ${JSON.stringify(dims)}`;
      expect(err.lengthOk, tag).toBe(true);
      expect(err.worst, `${tag}: worst at ${err.index}: ${err.got} vs ${err.want}`).toBeLessThan(RTOL);
    }
  }
});
