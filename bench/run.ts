// `npm run bench`: starts Vite on a free port, opens bench/index.html in headless system Chromium (WebGPU
// on; SwiftShader where there is no GPU), runs the cases there and prints a GFLOP/s table, then as the very
// last line one JSON object of speed ratios ours / peer keyed by case and peer (e.g.
// {"matmul_512_vs_tfjs": 4.1, "matmul_512_vs_jaxjs": 1.2}). Results are
// also written to bench/out/latest.json. Flags: see USAGE.
import { mkdirSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { chromium } from '@playwright/test';
import { createServer } from 'vite';
import { CHROMIUM_ARGS, CHROMIUM_PATH } from '../playwright.config';
import type { BenchOptions, BenchReport, BlockConfig, CaseResult, TimingOptions } from './types';

const USAGE = `npm run bench -- [flags]
  --quick               matmul at 256 and 512, fewer runs (about a minute on SwiftShader)
  --sizes 256,512,...   square matmul sizes (default 256,512,1024, and 2048 on a hardware GPU)
  --variants a,b        our matmul variants to time besides the autotuned one (default naive,regblock,tiled)
  --cases a,b           case families (default matmul,lora_mlp,attention,block): lora_mlp = LoRA MLP
                        training step, attention = causal attention fwd+bwd with 4 projections,
                        block = GPT-2 block forward+backward
  --block d=256,t=128[,b=1,heads=4]   a block shape; repeat for several (default d=256,t=128)
  --runs N              at most N timed runs per measurement (default 10; the median is reported)
  --headed              show the browser window
Environment: CHROMIUM_PATH (default /usr/bin/chromium).`;

const CASES = ['matmul', 'lora_mlp', 'attention', 'block'];

const ROOT = fileURLToPath(new URL('..', import.meta.url));

function parseBlock(spec: string): BlockConfig {
  const kv = Object.fromEntries(
    spec.split(',').map((p) => {
      const [k, v] = p.split('=');
      const n = Number(v);
      if (!k || !Number.isInteger(n) || n <= 0)
        throw new Error(`--block ${spec}: "${p}" is not key=positive integer`);
      return [k.toLowerCase(), n];
    }),
  ) as Record<string, number>;
  const d = kv.d ?? 256;
  return { d, T: kv.t ?? 128, B: kv.b ?? 1, heads: kv.heads ?? Math.max(1, Math.round(d / 64)) };
}

function parseArgs(argv: string[]): { options: BenchOptions; headed: boolean } {
  const timing: TimingOptions = { warmup: 1, minRuns: 3, maxRuns: 10, budgetMs: 2000 };
  // Empty: the page picks (256…1024, plus 2048 on a hardware adapter).
  let sizes: number[] = [];
  let variants = ['naive', 'regblock', 'tiled'];
  let cases = [...CASES];
  const blocks: BlockConfig[] = [];
  let headed = false;
  const list = (v: string | undefined, flag: string) => {
    if (!v) throw new Error(`${flag} needs a value`);
    return v.split(',').filter(Boolean);
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--quick') {
      sizes = [256, 512];
      Object.assign(timing, { minRuns: 2, maxRuns: 5, budgetMs: 500 });
    } else if (a === '--sizes') {
      sizes = list(argv[++i], a).map(Number);
      if (sizes.some((s) => !Number.isInteger(s) || s <= 0))
        throw new Error(`--sizes: positive integers only`);
    } else if (a === '--variants') variants = list(argv[++i], a);
    else if (a === '--cases') cases = list(argv[++i], a);
    else if (a === '--block') blocks.push(parseBlock(argv[++i] ?? ''));
    else if (a === '--runs') {
      timing.maxRuns = Number(argv[++i]);
      timing.minRuns = Math.min(timing.minRuns, timing.maxRuns);
      if (!(timing.maxRuns >= 1)) throw new Error('--runs needs a positive integer');
    } else if (a === '--headed') headed = true;
    else if (a === '--help' || a === '-h') {
      console.log(USAGE);
      process.exit(0);
    } else throw new Error(`unknown flag ${a}\n${USAGE}`);
  }
  for (const c of cases)
    if (!CASES.includes(c)) throw new Error(`--cases: unknown case "${c}" (${CASES.join(', ')})`);
  if (!blocks.length) blocks.push(parseBlock('d=256,t=128'));
  return { options: { cases, sizes, variants, blocks, timing }, headed };
}

const fmt = (v: number | null | undefined) => (v == null ? '—' : v >= 100 ? v.toFixed(0) : v.toFixed(2));

function table(results: CaseResult[]): string {
  const extraCols = [...new Set(results.flatMap((r) => Object.keys(r.extra ?? {})))];
  const header = [
    'case',
    ...extraCols.map((c) => `ours ${c}`),
    'ours',
    'TF.js',
    'jax-js',
    'ours/TF.js',
    'ours/jax-js',
    'ms ours/TF.js/jax-js',
  ];
  const ratio = (a: number | null, b: number | null) => (a == null || !b ? '—' : (a / b).toFixed(2));
  const rows = results.map((r) => [
    r.name,
    ...extraCols.map((c) => fmt(r.extra?.[c])),
    fmt(r.ours_gflops),
    fmt(r.tfjs_gflops),
    fmt(r.jaxjs_gflops),
    ratio(r.ours_gflops, r.tfjs_gflops),
    ratio(r.ours_gflops, r.jaxjs_gflops),
    r.ms ? [r.ms.ours, r.ms.tfjs, r.ms.jaxjs].map(fmt).join(' / ') : '',
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]) =>
    cells.map((c, i) => (i ? c.padStart(widths[i]) : c.padEnd(widths[i]))).join('  ');
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}

/** Speed ratios ours / peer (>1: ours is faster), three significant digits; missing sides are left out. */
function ratios(results: CaseResult[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const r of results) {
    if (r.ours_gflops == null) continue;
    if (r.tfjs_gflops > 0) out[`${r.name}_vs_tfjs`] = Number((r.ours_gflops / r.tfjs_gflops).toPrecision(3));
    if (r.jaxjs_gflops) out[`${r.name}_vs_jaxjs`] = Number((r.ours_gflops / r.jaxjs_gflops).toPrecision(3));
  }
  return out;
}

async function main(): Promise<void> {
  const { options, headed } = parseArgs(process.argv.slice(2));
  const t0 = Date.now();
  const server = await createServer({
    root: ROOT,
    logLevel: 'warn',
    // Port 0: any free port, so a running dev server or e2e run does not collide.
    // No watcher and no HMR: a source file saved during a run must not reload the page mid-measurement.
    server: { port: 0, strictPort: false, host: '127.0.0.1', hmr: false, watch: null },
    // Let the dependency scan see the bench page's imports, so Vite does not re-bundle TF.js and reload
    // the page in the middle of a run.
    // A cache of its own keeps this server's pre-bundles apart from `npm run dev` and the e2e server.
    optimizeDeps: {
      entries: ['bench/index.html'],
      // register_all_gradients too, so it shares tfjs-core's pre-bundled registry instead of loading a
      // second copy of the core that tf.grads would never consult.
      include: [
        '@tensorflow/tfjs-core',
        '@tensorflow/tfjs-core/dist/register_all_gradients',
        '@tensorflow/tfjs-backend-webgpu',
        '@jax-js/jax',
      ],
    },
    cacheDir: 'node_modules/.vite-bench',
  });
  await server.listen();
  const url = server.resolvedUrls?.local[0];
  if (!url) throw new Error('Vite did not report a local URL');
  const browser = await chromium.launch({
    executablePath: CHROMIUM_PATH,
    args: CHROMIUM_ARGS,
    headless: !headed,
  });
  let report: BenchReport;
  try {
    const page = await browser.newPage();
    page.on('console', (m) => console.log(`[page] ${m.text()}`));
    page.on('pageerror', (e) => console.error(`[page error] ${e.message}`));
    await page.goto(new URL('bench/index.html', url).href);
    await page.waitForFunction(() => window.peftBench !== undefined, undefined, { timeout: 120_000 });
    report = await page.evaluate((o) => window.peftBench!.run(o), options);
  } finally {
    await browser.close();
    await server.close();
  }
  const outDir = new URL('out/', import.meta.url);
  mkdirSync(outDir, { recursive: true });
  writeFileSync(new URL('latest.json', outDir), `${JSON.stringify({ options, ...report }, null, 2)}\n`);
  console.log('');
  console.log(
    `ours:  ${report.adapter}${report.software ? ' (software: absolute numbers mean little, ratios more)' : ''}`,
  );
  console.log(`TF.js: ${report.tfjsAdapter}`);
  console.log(`jax-js: ${report.jaxjs}`);
  console.log(
    `GFLOP/s (training steps: matmul flops only; ms too), median of up to ${options.timing.maxRuns} runs after ${options.timing.warmup} warm-up; each run ends in a full device sync, no readback`,
  );
  console.log('');
  console.log(table(report.results));
  console.log('');
  for (const r of report.results) for (const n of r.notes ?? []) console.log(`note: ${n}`);
  console.log(`total ${((Date.now() - t0) / 1000).toFixed(0)} s`);
  console.log(JSON.stringify(ratios(report.results)));
}

main().catch((e: unknown) => {
  console.error(e instanceof Error ? (e.stack ?? e.message) : String(e));
  process.exit(1);
});
