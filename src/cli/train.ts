// `npm run cli -- train` (SFT, the default algorithm): the page's run, driven from flags. The flags become
// an SftRunConfig through sftRunConfig (train/sft-config.ts, the function the page's form goes through,
// over the same SFT_DEFAULTS), the dataset becomes rows through sftData, and SftRunner trains them, so the
// same settings and seed give the CLI and the playground the same losses. The steps are driven as the
// worker drives them: a step, at most two loss reads in flight, an eval every evalEvery steps, a last eval.
//
// Output: one JSON line before training (counts, padding, predicted memory), one per logged step (`step`,
// `loss`, `lr` as scheduled, `tokens_per_s`, `mem_peak_bytes`, `ms_per_step`), one per periodic eval
// (`step`, `eval_loss`), then a summary line with `"done": true`.

import { mkdtempSync } from 'node:fs';
import { join } from 'node:path';
import { PROMPT_TEMPLATES } from '../data/template';
import { formatBytes } from '../gpu/errors';
import { acquireNodeGpu } from '../gpu/node';
import { checkModelFits } from '../model/load';
import { Adapter } from '../peft/adapter';
import { allreduceBytes, allreduceBytesOf } from '../peft/allreduce';
import { getMethod } from '../peft/registry';
import { predictTrainingMemory } from '../train/memory';
import { type MetricPoint, NonFiniteLossError, SftRunner } from '../train/sft';
import {
  LR_SCHEDULES,
  SFT_DEFAULTS,
  SFT_EVAL_FRACTION,
  type SftRunConfig,
  type SftRunSettings,
  sftRunConfig,
} from '../train/sft-config';
import { type SftDataResult, sftData, sftDataFromArena } from '../train/sft-data';
import { dataTokenizer, specialIds } from '../train/tokenizer-adapter';
import { writeAdapterFolder } from './adapter-dir';
import { type Args, baseDtypeFlag, type FlagSpecs } from './args';
import { ingestDataFile, noUsableExamples, prepareDataFile } from './data-file';
import { prepareOutDir } from './files';
import { nodeBudget, openModelDir } from './model-dir';
import { interruptible, loadTrainState, saveTrainState } from './train-state';

const D = SFT_DEFAULTS;

export const TRAIN_USAGE = `  train --model DIR --data FILE [--method NAME] [--set key=value ...] [--out DIR]
        [--steps N] [--batch B] [--seq T] [--lr X] [--schedule ${LR_SCHEDULES.join('|')}] [--grad-accum K]
        [--weight-decay W] [--max-grad-norm G] [--seed S] [--log-every K] [--eval-every E]
        [--eval-fraction F] [--pack] [--template none|alpaca|chat] [--save-every N] [--resume DIR]
        [--base-dtype f32|f16|bf16|int8|nf4] [--checkpointing]
        defaults as the playground's (SFT_DEFAULTS): ${D.steps} steps, batch ${D.batch}, seq ${D.seqLen}, ${D.schedule}
        after a warm-up of a tenth of the run, the method's learning rate, max grad norm ${D.maxGradNorm}, weight
        decay ${D.weightDecay}, eval every ${D.evalEvery} steps (0: at the end only) on ${SFT_EVAL_FRACTION} of the data,
        the loss read every few steps; --pack: several examples per row, attention blocked across them (eval
        stays unpacked); --template: the prompt template, as the page's "what the model sees" (default:
        Alpaca's for instruction + input columns, none otherwise)
        --out is checked before training and written atomically; --save-every N keeps the resumable state
        there (training_state.safetensors) every N steps, as Ctrl-C does before ending; --resume DIR goes on;
        --base-dtype: how the frozen base is held on the GPU (default f32; a method that trains base weights
        needs f32); --checkpointing: recompute each block in backward instead of keeping its activations
        one JSON line of metrics per logging step, then a summary line with "done": true`;

/** train's flags (util.parseArgs-strict once declared: an unknown one is an error naming the nearest). */
export const TRAIN_FLAGS: FlagSpecs = {
  algo: 'string',
  model: 'string',
  data: 'string',
  method: 'string',
  set: 'list',
  out: 'string',
  steps: 'string',
  batch: 'string',
  seq: 'string',
  lr: 'string',
  schedule: 'string',
  'grad-accum': 'string',
  'weight-decay': 'string',
  'max-grad-norm': 'string',
  seed: 'string',
  'log-every': 'string',
  'eval-every': 'string',
  'eval-fraction': 'string',
  pack: 'switch',
  template: 'string',
  'save-every': 'string',
  resume: 'string',
  'base-dtype': 'string',
  checkpointing: 'switch',
};

/**
 * The run settings the flags give (absent flags left out, so SFT_DEFAULTS fill them): the common flags of
 * every training command, exported for the other `train` algorithms.
 */
export function runSettingsFromFlags(a: Args): SftRunSettings {
  const method = a.str('method', 'full');
  const s: SftRunSettings = {
    method,
    options: Object.fromEntries(a.sets()),
    lr: a.num('lr', getMethod(method).info.defaultLr),
    schedule: a.choice('schedule', LR_SCHEDULES),
    steps: a.optInt('steps'),
    batch: a.optInt('batch'),
    seqLen: a.optInt('seq'),
    gradAccum: a.optInt('grad-accum'),
    weightDecay: a.optNum('weight-decay'),
    maxGradNorm: a.optNum('max-grad-norm'),
    seed: a.optInt('seed'),
    logEvery: a.optInt('log-every'),
    evalEvery: a.optInt('eval-every'),
    pack: a.bool('pack'),
    baseDtype: baseDtypeFlag(a),
    checkpointing: a.bool('checkpointing'),
  };
  if (s.logEvery === 0) throw new Error('--log-every must be at least 1');
  return s;
}

/** The runner's step-1 message (the weights, not the learning rate), naming the model folder. */
function firstStepNaN(e: unknown, modelDir: string): unknown {
  return e instanceof NonFiniteLossError && e.step <= 1 ? new NonFiniteLossError(1, e.value, modelDir) : e;
}

const print = (o: object) => process.stdout.write(`${JSON.stringify(o)}\n`);

const stepLine = (p: MetricPoint) => ({
  step: p.step,
  loss: p.loss,
  lr: p.lr,
  tokens_per_s: Math.round(p.tokensPerS),
  mem_peak_bytes: p.peakBytes,
  ms_per_step: p.msPerStep === undefined ? null : Math.round(p.msPerStep * 10) / 10,
});

/** Between steps: save every `every` steps, and whether to stop (SIGINT) after saving. */
interface Keep {
  every: number;
  save(): Promise<void>;
  stopped(): boolean;
}

/**
 * Steps `runner` to its end as the page's worker does, printing its points; returns the last one logged
 * and whether a stop was asked (the state then saved).
 */
async function drive(
  runner: SftRunner,
  run: SftRunConfig,
  keep: Keep,
): Promise<{ last: MetricPoint | null; interrupted: boolean }> {
  const logged: MetricPoint[] = [];
  const emit = (points: MetricPoint[]) => {
    for (const p of points) print(stepLine(p));
    logged.push(...points);
  };
  while (!runner.done) {
    runner.stepOnce();
    await runner.settle(2);
    emit(runner.takePoints());
    const stop = keep.stopped();
    if (stop || (keep.every > 0 && runner.step % keep.every === 0 && !runner.done)) {
      emit(await runner.flush());
      await keep.save();
      if (stop) return { last: logged.at(-1) ?? null, interrupted: true };
    }
    if (runner.done) break;
    if (run.evalEvery > 0 && runner.step % run.evalEvery === 0) {
      emit(await runner.flush());
      const e = await runner.evalPoint();
      if (e) print({ step: e.step, eval_loss: e.evalLoss });
    }
  }
  emit(await runner.flush());
  return { last: logged.at(-1) ?? null, interrupted: false };
}

export async function trainCommand(a: Args): Promise<void> {
  a.declare(TRAIN_FLAGS, 'train');
  const md = await openModelDir(a.str('model'));
  const run = sftRunConfig(runSettingsFromFlags(a));
  // The output folder is checked (created, written to) before any work, not after the last step.
  const outFlag = a.opt('out');
  const out = outFlag === undefined ? undefined : prepareOutDir(outFlag);
  const saveEvery = a.optInt('save-every') ?? 0;
  if (saveEvery > 0 && out === undefined) throw new Error('--save-every needs --out (where the state goes)');
  const resume = a.opt('resume');
  const dataPath = a.str('data');
  const templateName = a.choice(
    'template',
    PROMPT_TEMPLATES.map((t) => t.name),
  );
  const dataOpts = {
    seqLen: run.seqLen,
    evalFraction: a.num('eval-fraction', SFT_EVAL_FRACTION),
    seed: run.seed,
  };
  // The file streams into a compact token arena, as in the page: a 200 MB dataset is never held as
  // rows or per-example arrays, only as tokens. Prompt-only data keeps the example path (its prompts are
  // what the arena stores, and SFT reports them as unusable there).
  const ing = await ingestDataFile(dataPath, dataTokenizer(md.tokenizer, md.config), {
    template: templateName,
  });
  for (const issue of ing.issues.slice(0, 5)) process.stderr.write(`skipped: ${issue.message}\n`);
  let data: SftDataResult;
  let examples: number;
  if (ing.shape.kind === 'prompt_only') {
    const prepared = await prepareDataFile(dataPath, '--data', undefined, templateName);
    data = sftData(md.tokenizer, md.config, prepared.examples, dataOpts);
    examples = prepared.examples.length;
  } else {
    data = sftDataFromArena(md.tokenizer, md.config, ing.tokens, dataOpts);
    examples = ing.tokens.count;
  }
  if (data.train.length === 0) throw new Error(noUsableExamples(dataPath, examples, data, data.eval.length));
  const ctx = await acquireNodeGpu({ tune: true });
  try {
    // Full fine-tuning trains every base tensor whole in f32: one above the buffer limit is refused here, not split.
    checkModelFits(md.config, nodeBudget(ctx), md.dir, run.baseDtype, {
      trainable: run.method === 'full' ? () => true : undefined,
    });
    // The runner streams the base onto the GPU in --base-dtype, one tensor at a time.
    const runner = await SftRunner.create(ctx, md.config, md.reader, data, run, {
      methodCtx: {
        tokenizer: { encode: (text: string) => md.tokenizer.encode(text) },
        tokenizerName: md.dir,
      },
    });
    const { method, plan } = runner.adapter;
    const T = run.seqLen;
    const predicted = predictTrainingMemory(
      md.config,
      plan.specs,
      (mps) => new Adapter(method, plan, md.config, mps).hooks,
      { B: run.batch, T, pack: run.pack },
      { maxGradNorm: run.maxGradNorm, checkpointing: run.checkpointing },
    );
    // Padding share of the training rows at this seqLen (what packing saves).
    const realTokens = data.train.reduce((n, r) => n + Math.min(r.inputIds.length, T), 0);
    print({
      method: run.method,
      pack: !!run.pack,
      train_examples: data.train.length,
      train_rows: runner.trainRows,
      padding_fraction: 1 - realTokens / (runner.trainRows * T),
      trainable_params: plan.count,
      allreduce_bytes: allreduceBytes(method, plan.options, md.config),
      predicted_peak_bytes: predicted.peakTotal,
      predicted_by_category: predicted.peak,
    });
    if (resume !== undefined) {
      runner.restore(loadTrainState(resume, run));
      print({ resumed_from: resume, step: runner.step });
    }
    // Ctrl-C saves the state (to --out, or a fresh folder named in the message) before ending.
    const sig = interruptible();
    let stateDir = out;
    const save = async () => {
      stateDir ??= mkdtempSync(join(process.cwd(), 'train-interrupted-'));
      saveTrainState(stateDir, (await runner.adapter.save(md.dir)).files, await runner.checkpoint(), run);
    };
    const { last, interrupted } = await drive(runner, run, {
      every: saveEvery,
      save,
      stopped: sig.stopped,
    }).catch((e: unknown) => {
      throw firstStepNaN(e, md.dir);
    });
    sig.release();
    if (interrupted) {
      print({ interrupted: true, step: runner.step, saved: stateDir, resume_with: `--resume ${stateDir}` });
      runner.dispose();
      process.exitCode = 130;
      return;
    }
    const e = await runner.evalPoint();
    const exactMatch = await runner.exactMatch(specialIds(md.tokenizer, md.config).eosIds);
    if (out) writeAdapterFolder(out, (await runner.adapter.save(md.dir)).files);
    const s = ctx.arena.stats();
    print({
      done: true,
      method: run.method,
      steps: run.steps,
      loss: last?.loss ?? null,
      eval_loss: e?.evalLoss ?? null,
      exact_match: exactMatch,
      trainable_params: runner.trainableParams,
      allreduce_bytes: allreduceBytesOf(runner.trainableParams),
      total_params: runner.totalParams,
      tokens_per_s: Math.round(last?.tokensPerS ?? 0),
      mem_peak_bytes: s.peakTotal,
      mem_peak_by_category: s.atPeak,
      mem_peak: formatBytes(s.peakTotal),
    });
    runner.dispose();
  } finally {
    ctx.destroy();
  }
}
