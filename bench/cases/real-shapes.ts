// Memory at real shapes, measured in Node (Dawn): fine-tuning runs of the SFT runner (the CLI's and the
// page's) on a random-weight checkpoint with a published model's exact shapes
// (scripts/make-random-checkpoint.ts), a few steps, the arena's measured peak by category against `plan`'s
// prediction from config.json alone (train/plan.ts, what `npm run cli -- plan` prints), and for one method
// the meter's step with the run's own specs beside it (train/memory.ts). Several methods (--methods a,b,c)
// train side by side on one frozen base, stepped one at a time as the page's scheduler steps them, so the
// base is held once. Not a timing benchmark; ms/step is for scale.
//
//   node --import tsx bench/cases/real-shapes.ts [--preset smollm2-135m [--layers N] | --model DIR]
//        [--method lora | --methods a,b,c] [--set k=v ...] [--batch 1] [--seq 32] [--steps 2]
//        [--base-dtype f32[,bf16,nf4...]] [--checkpointing off|on|both]
//
// A missing preset folder is generated first (bench/out/models/, gitignored). One JSON line per
// measurement, then a last line {"real_shapes": [...], "all_within_10pct": bool}; the exit code is 1 when
// any measurement is off its prediction by 10% or more.

import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import {
  defaultOutDir,
  isPresetName,
  PRESETS,
  writeRandomCheckpoint,
} from '../../scripts/make-random-checkpoint';
import { Args } from '../../src/cli/args';
import { openModelDir } from '../../src/cli/model-dir';
import { planRuns } from '../../src/cli/plan';
import type { ModelConfig } from '../../src/formats/model-config';
import { type ByCategory, MEMORY_CATEGORIES, zeroByCategory } from '../../src/gpu/arena';
import type { GpuContext } from '../../src/gpu/context';
import { acquireNodeGpu } from '../../src/gpu/node';
import { checkpointBaseSource } from '../../src/model/load';
import { Adapter } from '../../src/peft/adapter';
import { getMethod } from '../../src/peft/registry';
import { FrozenBase } from '../../src/tensor/frozen-base';
import { gpuBackend } from '../../src/tensor/gpu-backend';
import type { MeterStore } from '../../src/tensor/meter-backend';
import type { ParamSet } from '../../src/tensor/params';
import { type BaseDtype, isBaseDtype } from '../../src/tensor/weight-format';
import { predictTrainingMemory } from '../../src/train/memory';
import { PLAN_DEFAULTS, type PlanRun, planTraining } from '../../src/train/plan';
import { SftRunner } from '../../src/train/sft';
import { sftRunConfig } from '../../src/train/sft-config';

export interface RealShapeRun {
  /** The model folder (HF layout). */
  model: string;
  /** Short name for the tables (the preset and slice, or the folder). */
  label: string;
  /** One method, or several side by side on one base. */
  methods: PlanRun[];
  B: number;
  T: number;
  steps: number;
  baseDtype: BaseDtype;
  checkpointing: boolean;
}

export interface RealShapeResult {
  run: RealShapeRun;
  params: number;
  trainable: number;
  measuredPeak: number;
  /** `plan`'s figure (train/plan.ts): from config.json alone, before any weight is read. */
  predictedPeak: number;
  /** measured / predicted − 1. */
  error: number;
  /** One method: the meter's step with this very run's specs and hooks; null side by side. */
  meterPeak: number | null;
  /** Measured: the breakdown when the total peaked; plan: its by-category figures. */
  measuredAtPeak: ByCategory;
  predictedAtPeak: ByCategory;
  sharedFrozenBytes: number;
  msPerStep: number;
  /** The last step's loss of each run. */
  losses: number[];
}

/** Fixed rows, every token a target, ids spread over the vocabulary: each step one full [B, T] batch. */
function rows(c: ModelConfig, B: number, T: number) {
  return Array.from({ length: B }, (_, b) => {
    const ids = Array.from({ length: T }, (_, t) => ((b * T + t) * 7919 + 5) % c.vocabSize);
    return { inputIds: ids, labels: ids };
  });
}

const minus = (a: ByCategory, b: ByCategory): ByCategory => {
  const out = zeroByCategory();
  for (const k of MEMORY_CATEGORIES) out[k] = a[k] - b[k];
  return out;
};

/** Trains `run` on `ctx` and returns the arena's peak over it beside the predictions of the same runs. */
export async function measureRealShapes(ctx: GpuContext, run: RealShapeRun): Promise<RealShapeResult> {
  const md = await openModelDir(run.model);
  const configs = run.methods.map((m) =>
    sftRunConfig({
      method: m.method,
      options: m.options,
      lr: 1e-4,
      schedule: 'constant',
      steps: run.steps,
      batch: run.B,
      seqLen: run.T,
      logEvery: 1,
      evalEvery: 0,
      checkpointing: run.checkpointing,
      baseDtype: run.baseDtype,
    }),
  );
  // What the device already holds (pooled buffers of an earlier measurement, the tuner's) is not this run's.
  const before = ctx.arena.stats();
  ctx.arena.resetPeak();
  // One frozen base for every run, as the page's worker and the CLI hold it.
  const base = new FrozenBase(
    gpuBackend(ctx),
    checkpointBaseSource(md.config, md.reader, run.baseDtype),
    run.baseDtype,
  );
  const runners: SftRunner[] = [];
  for (const [i, cfg] of configs.entries())
    runners.push(
      await SftRunner.create(
        ctx,
        md.config,
        md.reader,
        { train: rows(md.config, run.B, run.T), eval: [], padId: 0 },
        cfg,
        {
          base,
          // An owner per run keeps the runner from resetting the device's peak window under the others.
          owner: `real-shapes.${i}.${cfg.method}`,
          methodCtx: { tokenizer: { encode: (t: string) => md.tokenizer.encode(t) } },
        },
      ),
    );
  const t0 = performance.now();
  // One step of each run in turn, as the scheduler interleaves them.
  for (let i = 0; i < run.steps; i++)
    for (const r of runners) {
      r.stepOnce();
      await r.settle(0);
    }
  const ms = (performance.now() - t0) / run.steps;
  const losses: number[] = [];
  for (const r of runners) losses.push((await r.flush()).at(-1)?.loss ?? Number.NaN);
  const s = ctx.arena.stats();
  const measuredPeak = s.peakTotal - before.currentTotal;
  const measuredAtPeak = minus(s.atPeak, before.current);
  // `plan`'s prediction from config.json alone (what `npm run cli -- plan` prints)...
  const planned = planTraining(md.config, run.methods, {
    ...PLAN_DEFAULTS,
    batch: run.B,
    seqLen: run.T,
    checkpointing: run.checkpointing,
    baseDtype: run.baseDtype,
  });
  // ...and for one run the meter's step with the run's own plan (its base specs and the method's tensors),
  // which separates a config-only discrepancy from a meter one.
  let meterPeak: number | null = null;
  if (runners.length === 1) {
    const plan = runners[0].adapter.plan;
    const method = getMethod(configs[0].method);
    const hooks = (ps: ParamSet<MeterStore, MeterStore>) => new Adapter(method, plan, md.config, ps).hooks;
    meterPeak = predictTrainingMemory(
      md.config,
      plan.specs,
      hooks,
      { B: run.B, T: run.T },
      { maxGradNorm: configs[0].maxGradNorm, checkpointing: run.checkpointing },
    ).peakTotal;
  }
  const result: RealShapeResult = {
    run,
    params: runners[0].totalParams,
    trainable: runners.reduce((n, r) => n + r.trainableParams, 0),
    measuredPeak,
    predictedPeak: planned.predictedPeakBytes,
    error: measuredPeak / planned.predictedPeakBytes - 1,
    meterPeak,
    measuredAtPeak,
    predictedAtPeak: planned.byCategory,
    sharedFrozenBytes: planned.sharedFrozenBytes,
    msPerStep: ms,
    losses,
  };
  for (const r of runners) r.dispose();
  base.dispose();
  return result;
}

const MIB = 2 ** 20;
const mib = (b: number) => Math.round((b / MIB) * 10) / 10;

export function resultJson(r: RealShapeResult): Record<string, unknown> {
  const byCat: Record<string, { measured_mib: number; predicted_mib: number }> = {};
  for (const k of MEMORY_CATEGORIES)
    if (r.measuredAtPeak[k] || r.predictedAtPeak[k])
      byCat[k] = { measured_mib: mib(r.measuredAtPeak[k]), predicted_mib: mib(r.predictedAtPeak[k]) };
  const { run } = r;
  return {
    bench: 'real_shapes',
    model: run.label,
    methods: run.methods,
    B: run.B,
    T: run.T,
    steps: run.steps,
    base_dtype: run.baseDtype,
    checkpointing: run.checkpointing,
    params: r.params,
    trainable_params: r.trainable,
    measured_peak_bytes: r.measuredPeak,
    predicted_peak_bytes: r.predictedPeak,
    meter_peak_bytes: r.meterPeak,
    shared_frozen_bytes: r.sharedFrozenBytes,
    measured_over_predicted: Math.round((1 + r.error) * 1000) / 1000,
    within_10pct: Math.abs(r.error) < 0.1,
    at_peak_by_category: byCat,
    ms_per_step: Math.round(r.msPerStep),
    losses: r.losses.map((l) => Math.round(l * 1e4) / 1e4),
  };
}

const USAGE = `node --import tsx bench/cases/real-shapes.ts [--preset ${Object.keys(PRESETS).join('|')} [--layers N] | --model DIR]
  [--method lora | --methods a,b,c] [--set k=v ...] [--batch B] [--seq T] [--steps N]
  [--base-dtype f32,bf16,...] [--checkpointing off|on|both]`;

function parse(argv: string[]): RealShapeRun[] {
  const { values: v } = parseArgs({
    args: argv,
    strict: true,
    options: {
      preset: { type: 'string' },
      layers: { type: 'string' },
      model: { type: 'string' },
      method: { type: 'string' },
      methods: { type: 'string' },
      set: { type: 'string', multiple: true, default: [] },
      batch: { type: 'string', default: '1' },
      seq: { type: 'string', default: '32' },
      steps: { type: 'string', default: '2' },
      'base-dtype': { type: 'string', default: 'f32' },
      checkpointing: { type: 'string', default: 'off' },
      help: { type: 'boolean' },
    },
  });
  if (v.help) {
    console.log(USAGE);
    process.exit(0);
  }
  const int = (name: string, s: string) => {
    const n = Number(s);
    if (!Number.isInteger(n) || n < 1) throw new Error(`--${name} ${s}: a whole number ≥ 1`);
    return n;
  };
  let model = v.model;
  let label = model ?? '';
  if (!model) {
    const preset = v.preset ?? 'smollm2-135m';
    if (!isPresetName(preset))
      throw new Error(`--preset ${preset}: one of ${Object.keys(PRESETS).join(', ')}`);
    const layers = v.layers === undefined ? undefined : int('layers', v.layers);
    model = defaultOutDir(preset, { layers });
    label = layers === undefined ? preset : `${preset}-L${layers}`;
    if (!existsSync(model)) {
      console.error(`writing ${model}`);
      writeRandomCheckpoint(model, preset, { layers });
    }
  }
  // The methods and their --set options exactly as `plan` reads them (each method takes the keys it has).
  const methodFlags = [
    ...(v.method !== undefined ? ['--method', v.method] : []),
    ...(v.methods !== undefined ? ['--methods', v.methods] : []),
    ...v.set.flatMap((s) => ['--set', s]),
  ];
  const methods = planRuns(new Args(methodFlags));
  const dtypes = v['base-dtype'].split(',').filter(Boolean);
  for (const d of dtypes) if (!isBaseDtype(d)) throw new Error(`--base-dtype ${d}: not a base dtype`);
  const ck = v.checkpointing;
  if (ck !== 'off' && ck !== 'on' && ck !== 'both') throw new Error(`--checkpointing ${ck}: off, on or both`);
  const cks = ck === 'both' ? [false, true] : [ck === 'on'];
  const shape = { B: int('batch', v.batch), T: int('seq', v.seq), steps: int('steps', v.steps) };
  return dtypes.flatMap((d) =>
    cks.map((checkpointing) => ({
      model: model!,
      label,
      methods,
      ...shape,
      baseDtype: d as BaseDtype,
      checkpointing,
    })),
  );
}

async function main(): Promise<void> {
  const runs = parse(process.argv.slice(2));
  const ctx = await acquireNodeGpu({ quiet: true });
  const summary: Record<string, unknown>[] = [];
  let ok = true;
  for (const run of runs) {
    const r = await measureRealShapes(ctx, run);
    const j = resultJson(r);
    console.log(JSON.stringify(j));
    ok &&= j.within_10pct === true;
    summary.push({
      model: run.label,
      methods: run.methods.map((m) => m.method).join('+'),
      B: run.B,
      T: run.T,
      base_dtype: run.baseDtype,
      checkpointing: run.checkpointing,
      measured_peak_bytes: r.measuredPeak,
      predicted_peak_bytes: r.predictedPeak,
      measured_over_predicted: j.measured_over_predicted,
    });
  }
  ctx.destroy();
  console.log(JSON.stringify({ real_shapes: summary, all_within_10pct: ok }));
  if (!ok) process.exitCode = 1;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  main().catch((e: unknown) => {
    console.error(e instanceof Error ? (e.stack ?? e.message) : String(e));
    process.exit(1);
  });
}
