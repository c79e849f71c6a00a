// `npm run cli -- compare`: the fair comparison, headless. For each method: with --lr-sweep, one run per
// learning rate of a log grid around its default (train/compare/sweep.ts; seed 0, the same budget), the
// rate with the lowest final eval loss kept; then --seeds runs at that rate. Every run is the page's run
// (sftRunConfig over SFT_DEFAULTS, sftData, SftRunner, the runner's eval and exact match), stepped as the
// CLI's `train` steps it. Prints one JSON line per finished run, then `{"table": [...]}` (one row per method:
// mean ± sd over its seeds, train/compare/table.ts); --out DIR gets the Markdown report and its SVG charts
// (train/compare/report.ts), the same files the page's "Export report" gives.

import { join } from 'node:path';
import { PROMPT_TEMPLATES } from '../data/template';
import type { Example } from '../data/types';
import type { ModelConfig } from '../formats/model-config';
import type { GpuContext } from '../gpu/context';
import { acquireNodeGpu } from '../gpu/node';
import { generate } from '../model/generate';
import { checkModelFits, loadCheckpointSpecs } from '../model/load';
import { getMethod } from '../peft/registry';
import type { RawOptions } from '../peft/types';
import type { ParamSpec } from '../tensor/params';
import { type CompareSetup, reportFiles, type SideBySide } from '../train/compare/report';
import { DEFAULT_GRID_DECADES, lrGrid, parseDecades, pickLr } from '../train/compare/sweep';
import { type CompareRun, type CurvePoint, compareTable } from '../train/compare/table';
import { measureInferenceLatency } from '../train/latency';
import { SftRunner } from '../train/sft';
import { SFT_EVAL_FRACTION, sftRunConfig } from '../train/sft-config';
import { sftData } from '../train/sft-data';
import { specialIds } from '../train/tokenizer-adapter';
import type { Args, FlagSpecs } from './args';
import { noUsableExamples, prepareDataFile } from './data-file';
import { prepareOutDir, writeFileAtomic } from './files';
import { type ModelDir, nodeBudget, openModelDir } from './model-dir';

export const COMPARE_USAGE = `  compare --model DIR --data FILE --methods a,b,c [--lr-sweep] [--grid -1,0,1,2] [--seeds K]
        [--steps S] [--batch B] [--seq T] [--lr X] [--set method.key=value ...] [--eval-every E]
        [--eval-fraction F] [--template none|alpaca|chat] [--samples N] [--out DIR]
        the fair comparison: with --lr-sweep each method first trains once (seed 0) per learning rate of
        its default × 10^k (k from --grid, default ${DEFAULT_GRID_DECADES.join(',')}) and keeps the lowest
        eval loss; then K seeds (default 3) at that rate, all with the same steps × batch × seq budget; one
        JSON line per finished run, then {"table": [...]} with mean and sd over the seeds; --out DIR
        writes report.md, loss.svg, eval-loss.svg and runs.json`;

export const COMPARE_FLAGS: FlagSpecs = {
  model: 'string',
  data: 'string',
  methods: 'string',
  'lr-sweep': 'switch',
  grid: 'string',
  seeds: 'string',
  steps: 'string',
  batch: 'string',
  seq: 'string',
  lr: 'string',
  set: 'list',
  'eval-every': 'string',
  'eval-fraction': 'string',
  template: 'string',
  samples: 'string',
  out: 'string',
};

const print = (o: object) => process.stdout.write(`${JSON.stringify(o)}\n`);

/** `--set lora.r=16` → { lora: { r: '16' } }: options per method. */
function optionsByMethod(a: Args, methods: readonly string[]): Map<string, RawOptions> {
  const by = new Map<string, RawOptions>(methods.map((m) => [m, {}]));
  for (const [k, v] of a.sets()) {
    const dot = k.indexOf('.');
    const m = dot > 0 ? k.slice(0, dot) : '';
    const o = by.get(m);
    if (!o) throw new Error(`--set ${k}=${v}: expected method.key=value for one of ${methods.join(', ')}`);
    o[k.slice(dot + 1)] = v;
  }
  return by;
}

interface Shared {
  ctx: GpuContext;
  md: ModelDir;
  base: readonly ParamSpec[];
  examples: readonly Example[];
  steps: number;
  batch: number;
  seqLen: number;
  evalEvery: number;
  evalFraction: number;
  eosIds: readonly number[];
  samples: number;
}

interface Job {
  method: string;
  options: RawOptions;
  phase: CompareRun['phase'];
  lr: number;
  seed: number;
}

/** One run to its end (the runner's own steps, evals and task metric); its figures, or why it failed. */
async function runOne(
  s: Shared,
  job: Job,
): Promise<{ run: CompareRun; samples: Omit<SideBySide, 'outputs'>[]; outputs: string[] }> {
  const config = sftRunConfig({
    method: job.method,
    options: job.options,
    lr: job.lr,
    steps: s.steps,
    batch: s.batch,
    seqLen: s.seqLen,
    seed: job.seed,
    evalEvery: s.evalEvery,
  });
  const data = sftData(s.md.tokenizer, s.md.config, s.examples, {
    seqLen: s.seqLen,
    evalFraction: s.evalFraction,
    seed: job.seed,
  });
  const curve: CurvePoint[] = [];
  const run: CompareRun = {
    ...job,
    steps: s.steps,
    tokens: 0,
    evalLoss: null,
    exactMatch: null,
    trainableParams: 0,
    peakBytes: 0,
    tokensPerS: 0,
    latencyMs: null,
    curve,
  };
  delete (run as Partial<Job>).options;
  const runner = await SftRunner.create(s.ctx, s.md.config, s.md.reader, data, config, {
    baseSpecs: s.base,
    methodCtx: { tokenizer: { encode: (t: string) => s.md.tokenizer.encode(t) }, tokenizerName: s.md.dir },
  });
  run.trainableParams = runner.trainableParams;
  const take = (ps: ReturnType<SftRunner['takePoints']>) => {
    for (const p of ps) {
      curve.push({ step: p.step, loss: p.loss, evalLoss: p.evalLoss });
      run.tokens = p.tokens;
      run.tokensPerS = p.tokensPerS;
    }
  };
  const samples: Omit<SideBySide, 'outputs'>[] = [];
  const outputs: string[] = [];
  try {
    while (!runner.done) {
      runner.stepOnce();
      await runner.settle(2);
      take(runner.takePoints());
      if (!runner.done && s.evalEvery > 0 && runner.step % s.evalEvery === 0) {
        take(await runner.flush());
        const e = await runner.evalPoint();
        if (e) curve.push({ step: e.step, loss: null, evalLoss: e.evalLoss });
      }
    }
    take(await runner.flush());
    const e = await runner.evalPoint();
    if (e) curve.push({ step: e.step, loss: null, evalLoss: e.evalLoss });
    run.evalLoss = e?.evalLoss ?? null;
    run.exactMatch = await runner.exactMatch(s.eosIds);
    run.peakBytes = s.ctx.arena.stats().peakTotal;
    if (job.phase === 'seed') {
      const lat = await measureInferenceLatency(s.ctx, s.md.config, runner.ps, runner.adapter, {
        B: 1,
        T: s.seqLen,
      });
      run.latencyMs = lat.mergedMs ?? lat.unmergedMs;
    }
    if (s.samples > 0) {
      const items = promptsOf(data.eval, s.samples);
      const res = await generate(
        runner.ps.be,
        s.md.config,
        runner.ps,
        items.map((x) => x.prompt),
        {
          maxNewTokens: Math.max(1, ...items.map((x) => x.want.length)),
          eosIds: s.eosIds,
          hooks: runner.adapter.hooks,
        },
      );
      const dec = (ids: readonly number[]) => s.md.tokenizer.decode(ids.filter((t) => !s.eosIds.includes(t)));
      for (const [i, x] of items.entries()) {
        samples.push({ prompt: dec(x.prompt), reference: dec(x.want) });
        outputs.push(dec(res.rows[i].tokens));
      }
    }
  } catch (err) {
    run.error = err instanceof Error ? err.message : String(err);
    run.peakBytes = s.ctx.arena.stats().peakTotal;
  } finally {
    runner.dispose();
  }
  return { run, samples, outputs };
}

/** The first `n` eval rows that are a prompt then a completion (what exact match scores). */
function promptsOf(rows: readonly { inputIds: ArrayLike<number>; labels: ArrayLike<number> }[], n: number) {
  const out: { prompt: number[]; want: number[] }[] = [];
  for (const r of rows) {
    const labels = Array.from(r.labels);
    const cut = labels.findIndex((l) => l !== -100);
    if (cut <= 0) continue;
    const ids = Array.from(r.inputIds);
    out.push({ prompt: ids.slice(0, cut), want: ids.slice(cut) });
    if (out.length >= n) break;
  }
  return out;
}

/** The JSON line of one finished run. */
export function runLine(r: CompareRun): Record<string, unknown> {
  return {
    method: r.method,
    phase: r.phase,
    lr: r.lr,
    seed: r.seed,
    steps: r.steps,
    tokens: r.tokens,
    eval_loss: r.evalLoss,
    exact_match: r.exactMatch,
    trainable_params: r.trainableParams,
    peak_bytes: r.peakBytes,
    tokens_per_s: Math.round(r.tokensPerS * 10) / 10,
    latency_ms: r.latencyMs,
    ...(r.error ? { error: r.error } : {}),
  };
}

export async function compareCommand(a: Args, argv: readonly string[] = []): Promise<void> {
  a.declare(COMPARE_FLAGS, 'compare');
  const methods = a
    .str('methods')
    .split(',')
    .map((m) => m.trim())
    .filter((m) => m !== '');
  if (methods.length === 0) throw new Error('--methods names no method');
  for (const m of methods) getMethod(m); // an unknown name fails here, naming the registry's
  const options = optionsByMethod(a, methods);
  const sweep = a.bool('lr-sweep') ?? false;
  const decades = a.opt('grid') === undefined ? DEFAULT_GRID_DECADES : parseDecades(a.str('grid'));
  const seeds = a.int('seeds', 3);
  if (seeds < 1) throw new Error('--seeds must be at least 1');
  const fixedLr = a.optNum('lr');
  const outFlag = a.opt('out');
  const out = outFlag === undefined ? undefined : prepareOutDir(outFlag);
  const md = await openModelDir(a.str('model'));
  const dataPath = a.str('data');
  const template = a.choice(
    'template',
    PROMPT_TEMPLATES.map((t) => t.name),
  );
  const prepared = await prepareDataFile(dataPath, '--data', undefined, template);
  const first = sftRunConfig({
    method: methods[0],
    options: {},
    lr: 1,
    steps: a.optInt('steps'),
    batch: a.optInt('batch'),
    seqLen: a.optInt('seq'),
    evalEvery: a.optInt('eval-every'),
  });
  const evalFraction = a.num('eval-fraction', SFT_EVAL_FRACTION);
  const check = sftData(md.tokenizer, md.config, prepared.examples, {
    seqLen: first.seqLen,
    evalFraction,
    seed: 0,
  });
  if (check.train.length === 0)
    throw new Error(noUsableExamples(dataPath, prepared.examples.length, check, check.eval.length));
  const ctx = await acquireNodeGpu({ tune: true });
  try {
    checkModelFits(md.config as ModelConfig, nodeBudget(ctx), md.dir);
    const s: Shared = {
      ctx,
      md,
      base: await loadCheckpointSpecs(md.config, md.reader),
      examples: prepared.examples,
      steps: first.steps,
      batch: first.batch,
      seqLen: first.seqLen,
      evalEvery: first.evalEvery,
      evalFraction,
      eosIds: specialIds(md.tokenizer, md.config).eosIds,
      samples: a.int('samples', 4),
    };
    const runs: CompareRun[] = [];
    const side: SideBySide[] = [];
    const finish = (r: CompareRun) => {
      runs.push(r);
      print(runLine(r));
    };
    for (const method of methods) {
      const o = options.get(method) ?? {};
      const dflt = fixedLr ?? getMethod(method).info.defaultLr;
      let lr = dflt;
      if (sweep) {
        const points: { lr: number; evalLoss: number | null }[] = [];
        for (const x of lrGrid(dflt, decades)) {
          const { run } = await runOne(
            { ...s, samples: 0 },
            { method, options: o, phase: 'sweep', lr: x, seed: 0 },
          );
          finish(run);
          points.push({ lr: x, evalLoss: run.evalLoss });
        }
        lr = pickLr(points) ?? dflt;
      }
      // Fresh seeds after a sweep: the sweep's winner is not averaged in (it was chosen for its loss).
      const seed0 = sweep ? 1 : 0;
      for (let k = 0; k < seeds; k++) {
        const { run, samples, outputs } = await runOne(
          { ...s, samples: k === 0 ? s.samples : 0 },
          { method, options: o, phase: 'seed', lr, seed: seed0 + k },
        );
        finish(run);
        samples.forEach((x, i) => {
          side[i] ??= { ...x, outputs: {} };
          side[i].outputs[method] = outputs[i];
        });
      }
    }
    const table = compareTable(runs);
    print({ table });
    if (out) {
      const setup: CompareSetup = {
        model: md.name,
        data: dataPath,
        methods,
        steps: s.steps,
        batch: s.batch,
        seqLen: s.seqLen,
        seeds,
        gridDecades: sweep ? decades : null,
        command: argv.length ? `npm run cli -- compare ${argv.join(' ')}` : undefined,
      };
      for (const f of reportFiles(setup, runs, side)) writeFileAtomic(join(out, f.path), f.text);
    }
  } finally {
    ctx.destroy();
  }
}
