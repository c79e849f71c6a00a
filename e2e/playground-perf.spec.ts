// The playground's main thread stays responsive while two runs train: a production build (vite build to a
// temp dir, served by vite preview on its own port) trains LoRA and prompt tuning on the built-in model and
// the plurals sample for ~25 s while a Chromium trace (CDP) records every main-thread task.
//
// What is asserted, and why not wall time: on this 2-core machine SwiftShader runs the GPU work on CPU
// threads of the GPU process, and they take the cores from the page's main thread. The trace shows it:
// a task's wall time (`dur`) is often 2-20× its thread CPU time (`tdur`) — e.g. a 111 ms React render that
// used 24 ms of CPU, a 48 ms worker-message handler that used 2 ms — the thread was runnable but not
// running. So the test asserts the main thread's own work: no task spends more than 50 ms of CPU (our
// code: message handling, store updates, React renders, recharts, and the garbage collections they cause,
// which are marked `gc` in the listing), chart redraws included. Wall-clock long tasks (the long-task
// observer's view) are recorded as annotations with their CPU time, for the README's figures.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, test } from '@playwright/test';
import { build, type PreviewServer, preview } from 'vite';
import { flowUrl } from './page';

const PORT = 5191;
const URL_ = `http://127.0.0.1:${PORT}/`;
/** Seconds of training observed. */
const OBSERVE_S = 25;
/** The budget: no main-thread task of ours may take more CPU than this (ms). */
const BUDGET_MS = 50;

interface TraceEvent {
  name: string;
  ph: string;
  pid: number;
  tid: number;
  ts: number;
  dur?: number;
  tdur?: number;
  args?: { name?: string; data?: { functionName?: string; url?: string } };
}

let outDir = '';
let server: PreviewServer | null = null;

test.beforeAll(async () => {
  test.setTimeout(180_000);
  outDir = mkdtempSync(join(tmpdir(), 'playground-perf-'));
  await build({ logLevel: 'error', build: { outDir, emptyOutDir: true } });
  server = await preview({ build: { outDir }, preview: { port: PORT, strictPort: true, host: '127.0.0.1' } });
});

test.afterAll(async () => {
  await server?.close();
  if (outDir) rmSync(outDir, { recursive: true, force: true });
});

const isGc = (name: string) => name === 'MajorGC' || name === 'MinorGC' || name.startsWith('V8.GC');

test('main-thread tasks stay within 50 ms of CPU while two runs train (production build)', async ({
  page,
}) => {
  test.setTimeout(240_000);
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.addInitScript(() => {
    const w = window as unknown as { __longTasks: { start: number; duration: number }[] };
    w.__longTasks = [];
    new PerformanceObserver((list) => {
      for (const e of list.getEntries()) w.__longTasks.push({ start: e.startTime, duration: e.duration });
    }).observe({ type: 'longtask', buffered: true });
  });
  await page.goto(flowUrl(URL_)); // portable kernels: what is measured is the main thread
  await page.evaluate(() => indexedDB.deleteDatabase('peft-playground'));
  await page.reload();
  await expect(page.getByTestId('model-panel')).toHaveAttribute('data-state', 'ready', { timeout: 120_000 });
  await expect(page.getByTestId('dataset-summary')).toBeVisible();
  const picker = page.getByTestId('method-picker');
  for (const m of ['lora', 'prompt'])
    await picker.locator(`li[data-method="${m}"] input[type=checkbox]`).first().check();
  // Small batches: more steps (so more metric messages and chart redraws) in the observed window.
  const hyper = page.getByTestId('hyperparameters');
  for (const [k, v] of [
    ['steps', '40'],
    ['batch', '2'],
    ['seqLen', '16'],
    ['evalEvery', '4'],
  ])
    await hyper.locator(`input[name="${k}"]`).fill(v);

  const cdp = await page.context().newCDPSession(page);
  const events: TraceEvent[] = [];
  cdp.on('Tracing.dataCollected', (e) => events.push(...(e.value as unknown as TraceEvent[])));
  await cdp.send('Tracing.start', {
    categories: 'devtools.timeline,disabled-by-default-devtools.timeline,v8',
    transferMode: 'ReportEvents',
  });
  const t0 = await page.evaluate(() => performance.now());
  await page.getByTestId('start-runs').click();
  await expect(page.getByTestId('run-card')).toHaveCount(2);
  // The window starts at the first streamed point, not at the click: on a loaded machine the first
  // steps (pipelines compiling) can take most of a fixed window, and then no redraw would be observed.
  const chart = page.getByTestId('loss-chart');
  const pointsNow = async () => Number(await chart.getAttribute('data-points'));
  await expect.poll(pointsNow, { timeout: 150_000 }).toBeGreaterThan(0);
  const pointsAtStart = await pointsNow();
  await page.waitForTimeout(OBSERVE_S * 1000);
  const done = new Promise((r) => cdp.once('Tracing.tracingComplete', r));
  await cdp.send('Tracing.end');
  await done;

  // Training really streamed points into the charts during the window (so redraws were exercised).
  const points = await pointsNow();
  expect(points, 'loss points streamed while observed').toBeGreaterThan(pointsAtStart);

  const main = events.find((e) => e.name === 'thread_name' && e.args?.name === 'CrRendererMain');
  expect(main, 'the trace has the renderer main thread').toBeTruthy();
  const onMain = events.filter((e) => e.pid === main?.pid && e.tid === main?.tid && e.ph === 'X');
  const tasks = onMain.filter((e) => e.name === 'RunTask');
  expect(tasks.length).toBeGreaterThan(100);
  const describe = (t: TraceEvent) => {
    const end = t.ts + (t.dur ?? 0);
    const kids = onMain.filter((e) => e !== t && e.ts >= t.ts && e.ts + (e.dur ?? 0) <= end);
    const gcUs = kids
      .filter((e) => e.name === 'MajorGC' || e.name === 'MinorGC')
      .reduce((a, e) => a + (e.dur ?? 0), 0);
    const top = kids
      .filter(
        (e) => e.name === 'FunctionCall' || e.name === 'FireAnimationFrame' || e.name === 'HandlePostMessage',
      )
      .sort((a, b) => (b.dur ?? 0) - (a.dur ?? 0))[0];
    return {
      wallMs: Math.round((t.dur ?? 0) / 1000),
      cpuMs: Math.round((t.tdur ?? 0) / 1000),
      gc: gcUs > 0.5 * (t.dur ?? 0) || kids.every((e) => isGc(e.name)) ? true : undefined,
      what: top
        ? `${top.name}${top.args?.data?.functionName ? `:${top.args.data.functionName}` : ''}`
        : undefined,
    };
  };
  const longWall = tasks.filter((t) => (t.dur ?? 0) > BUDGET_MS * 1000).map(describe);
  const heavy = tasks.filter((t) => (t.tdur ?? 0) > BUDGET_MS * 1000).map(describe);
  const longTasks = await page.evaluate(
    (a) =>
      (window as unknown as { __longTasks: { start: number; duration: number }[] }).__longTasks.filter(
        (t) => t.start >= a,
      ),
    t0,
  );
  test.info().annotations.push(
    {
      type: 'long-task observer (wall > 50 ms) during training',
      description: `${longTasks.length}, longest ${Math.round(Math.max(0, ...longTasks.map((t) => t.duration)))} ms`,
    },
    {
      type: 'trace tasks over 50 ms wall (wall/cpu ms, gc, top call)',
      description: JSON.stringify(longWall),
    },
    { type: 'loss points', description: String(points) },
  );
  console.log(`perf: ${tasks.length} main-thread tasks; wall > 50 ms: ${JSON.stringify(longWall)}`);
  console.log(`perf: long-task observer: ${longTasks.map((t) => Math.round(t.duration)).join(', ')}`);
  // Every task of ours, chart redraws included (page-computed ticks and an HTML legend keep recharts from
  // forcing layouts: 20-34 ms of CPU here, from 20-65 before), stays within 50 ms of CPU.
  expect(heavy, `main-thread tasks over ${BUDGET_MS} ms of CPU`).toEqual([]);
  expect(errors).toEqual([]);
});
