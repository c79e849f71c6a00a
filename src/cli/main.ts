// The headless door to the engine: `npm run cli -- <command> [flags]`. The same code as the page, run in
// Node through Dawn (falling back to SwiftShader, and saying so). Commands: info, train (SFT with any
// registered method; --out writes the PEFT files), and those registered below.

import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { type Batch, Batcher } from '../data/batch';
import { packSequences } from '../data/pack';
import { prepareDataset } from '../data/prepare';
import { splitTrainEval } from '../data/split';
import { tokenizeForSft } from '../data/tokenize';
import type { GpuRegion } from '../gpu/arena';
import { formatBytes } from '../gpu/errors';
import { acquireNodeGpu } from '../gpu/node';
import { checkModelFits, loadCheckpointSpecs } from '../model/load';
import { shiftLabels } from '../model/loss';
import { forward } from '../model/transformer';
import { Adapter, planAdapter } from '../peft/adapter';
import { getMethod } from '../peft/registry';
import { gpuBackend } from '../tensor/gpu-backend';
import * as op from '../tensor/ops';
import { ParamSet } from '../tensor/params';
import { Tape } from '../tensor/tape';
import { predictTrainingMemory } from '../train/memory';
import { AdamW } from '../train/optimizer';
import { dataTokenizer } from '../train/tokenizer-adapter';
import { Args } from './args';
import { BENCH_USAGE } from './bench';
import { EVAL_USAGE, evalCommand } from './eval';
import { GENERATE_USAGE, generateCommand } from './generate';
import { registryGradsMethods } from './grads-methods';
import { MERGE_USAGE } from './merge';
import { openModelDir } from './model-dir';
import { RL_USAGE, rlTrain } from './rl';

const USAGE = `usage: npm run cli -- <command> [flags]
  info                                   adapter, limits, features, chosen kernel variants
  train --model DIR --data FILE [--method NAME] [--set key=value ...] [--out DIR]
        [--steps N] [--batch B] [--seq T] [--lr X] [--seed S] [--log-every K] [--eval-fraction F] [--pack]
        --pack: several examples per row, attention blocked across them (eval stays unpacked)
        one JSON line of metrics per logging step, then a summary line with "done": true
${RL_USAGE}`;

const print = (o: object) => process.stdout.write(`${JSON.stringify(o)}\n`);

async function info(): Promise<void> {
  const ctx = await acquireNodeGpu({ tune: true });
  const l = ctx.limits;
  print({
    adapter: ctx.adapter,
    features: ctx.features,
    limits: {
      maxBufferSize: l.maxBufferSize,
      maxStorageBufferBindingSize: l.maxStorageBufferBindingSize,
      maxComputeWorkgroupStorageSize: l.maxComputeWorkgroupStorageSize,
      maxComputeInvocationsPerWorkgroup: l.maxComputeInvocationsPerWorkgroup,
      maxComputeWorkgroupsPerDimension: l.maxComputeWorkgroupsPerDimension,
    },
    variants: Object.fromEntries(ctx.variants),
  });
  ctx.destroy();
}

async function train(a: Args): Promise<void> {
  // RLHF algorithms (reward, ppo, rs, dpo, grpo) live in rl.ts; sft (the default) is below.
  const algo = a.opt('algo');
  if (algo !== undefined && algo !== 'sft') return rlTrain(a);
  const md = await openModelDir(a.str('model'));
  const method = a.str('method', 'full');
  const steps = a.int('steps', 20);
  const B = a.int('batch', 4);
  const T = a.int('seq', 64);
  const peft = getMethod(method);
  const lr = a.num('lr', peft.info.defaultLr);
  const seed = a.int('seed', 0);
  const logEvery = Math.max(1, a.int('log-every', 5));
  const dataPath = a.str('data');
  const ctx = await acquireNodeGpu({ tune: true });
  checkModelFits(
    md.config,
    { maxBufferBytes: ctx.limits.maxStorageBufferBindingSize, budgetBytes: 8 * 2 ** 30 },
    md.dir,
  );
  const prepared = await prepareDataset(basename(dataPath), new Uint8Array(readFileSync(dataPath)), {
    onError: 'skip',
  });
  for (const issue of prepared.issues.slice(0, 5)) process.stderr.write(`skipped: ${issue.message}\n`);
  const tok = dataTokenizer(md.tokenizer, md.config);
  const tokenized = tokenizeForSft(tok, prepared.examples, { maxLength: T });
  const { train: trainRows, eval: evalRows } = splitTrainEval(tokenized.examples, {
    evalFraction: a.num('eval-fraction', 0.1),
    seed,
  });
  if (trainRows.length === 0) throw new Error(`${dataPath}: no usable training examples`);
  const padId = md.tokenizer.padId ?? md.tokenizer.eosId ?? 0;
  const pack = a.opt('pack') !== undefined && a.opt('pack') !== 'false';
  const rows = pack ? packSequences(trainRows, { seqLen: T, padId }) : trainRows;
  const batcher = new Batcher(rows, { batchSize: B, seqLen: T, padId, seed });
  // Padding share of the training rows at this seqLen (what packing saves).
  const realTokens = trainRows.reduce((n, r) => n + Math.min(r.inputIds.length, T), 0);
  const be = gpuBackend(ctx);
  const baseSpecs = await loadCheckpointSpecs(md.config, md.reader);
  const plan = planAdapter(peft, Object.fromEntries(a.sets()), md.config, baseSpecs, seed, {
    tokenizer: { encode: (text: string) => md.tokenizer.encode(text) },
    tokenizerName: md.dir,
  });
  const predicted = predictTrainingMemory(
    md.config,
    plan.specs,
    (mps) => new Adapter(peft, plan, md.config, mps).hooks,
    { B, T, pack },
  );
  print({
    method,
    pack,
    train_examples: trainRows.length,
    train_rows: rows.length,
    padding_fraction: 1 - realTokens / (rows.length * T),
    trainable_params: plan.count,
    predicted_peak_bytes: predicted.peakTotal,
    predicted_by_category: predicted.peak,
  });
  ctx.arena.resetPeak();
  const ps = new ParamSet(be, plan.specs);
  const adapter = new Adapter(peft, plan, md.config, ps);
  const opt = new AdamW(ps, { lr, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0, maxGradNorm: 1 });
  const V = md.config.vocabSize;
  // Packed training batches carry their positions and segment ids; eval batches are never packed.
  const lossOf = (tp: Tape<GpuRegion, GpuRegion>, b: Batch, packed: boolean) => {
    const seg = packed ? { positions: b.positionIds, segments: b.segmentIds } : {};
    const { logits, virtual } = forward(tp, md.config, ps, { ids: b.inputIds, B, T, ...seg }, adapter.hooks);
    const Tt = T + virtual;
    return op.crossEntropy(tp, tp.reshape(logits, [B * Tt, V]), shiftLabels(b.labels, B, T, virtual), 'loss');
  };
  const t0 = performance.now();
  let tokens = 0;
  let last = Number.NaN;
  for (let step = 1; step <= steps; step++) {
    const batch = batcher.batchAt(step - 1);
    const tp = new Tape(be, true);
    ps.zeroGrads();
    const loss = lossOf(tp, batch, pack);
    tp.backward();
    opt.update(lr * Math.min(1, step / Math.max(1, Math.floor(steps / 10))));
    tokens += batch.tokens;
    if (step % logEvery === 0 || step === steps) {
      last = (await be.read(loss.store, 1))[0];
      if (!Number.isFinite(last)) throw new Error(`step ${step}: the loss is ${last}; lower --lr`);
      const secs = (performance.now() - t0) / 1000;
      print({
        step,
        loss: last,
        lr,
        tokens_per_s: Math.round(tokens / secs),
        mem_peak_bytes: ctx.arena.stats().peakTotal,
      });
    }
    tp.dispose();
  }
  let evalLoss: number | null = null;
  if (evalRows.length) {
    const eb = new Batcher(evalRows, { batchSize: B, seqLen: T, padId, seed, shuffle: false });
    let sum = 0;
    for (let i = 0; i < eb.batchesPerEpoch; i++) {
      const b = eb.batchAt(i);
      const tp = new Tape(be, false);
      sum += (await be.read(lossOf(tp, b, false).store, 1))[0];
      tp.dispose();
    }
    evalLoss = sum / eb.batchesPerEpoch;
  }
  const out = a.opt('out');
  if (out) {
    const saved = await adapter.save(md.dir);
    mkdirSync(out, { recursive: true });
    writeFileSync(join(out, 'adapter_config.json'), saved.files.config);
    writeFileSync(join(out, 'adapter_model.safetensors'), saved.files.weights);
  }
  const s = ctx.arena.stats();
  print({
    done: true,
    method,
    steps,
    loss: last,
    eval_loss: evalLoss,
    trainable_params: ps.trainableCount,
    total_params: ps.totalCount,
    tokens_per_s: Math.round(tokens / ((performance.now() - t0) / 1000)),
    mem_peak_bytes: s.peakTotal,
    mem_peak_by_category: s.atPeak,
    mem_peak: formatBytes(s.peakTotal),
  });
  ctx.destroy();
}

async function main(argv: string[]): Promise<void> {
  const [command, ...rest] = argv;
  const a = new Args(rest);
  if (command === 'info') return info();
  if (command === 'train') return train(a);
  if (command === 'generate') return generateCommand(a);
  if (command === 'eval') return evalCommand(a);
  if (command === 'bench') return (await import('./bench')).benchCommand(a);
  if (command === 'merge') return (await import('./merge')).mergeCommand(a);
  if (command === 'grads') return (await import('./grads')).gradsCommand(a, registryGradsMethods());
  process.stderr.write(`${USAGE}\n${GENERATE_USAGE}\n${EVAL_USAGE}\n${MERGE_USAGE}\n${BENCH_USAGE}\n`);
  process.exitCode = command ? 2 : 0;
}

main(process.argv.slice(2)).then(
  () => process.exit(process.exitCode ?? 0),
  (e: unknown) => {
    process.stderr.write(`error: ${e instanceof Error ? e.message : String(e)}\n`);
    process.exit(1);
  },
);
