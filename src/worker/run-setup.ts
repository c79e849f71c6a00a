// How the worker builds a run's runner on its own device: the model loaded now, the run's dataset, then
// sftData(...) and SftRunner.create(...) for SFT (the same pair the CLI uses, so page and CLI train on the
// same rows with the same losses), or createRlRun for an RL run (src/worker/rl-runs.ts). The scheduler gets
// this as its createRunner effect.
import type { GpuContext } from '../gpu/context';
import { SftRunner } from '../train/sft';
import { sftData } from '../train/sft-data';
import type { Datasets } from './datasets';
import { eosIdsOf, type LoadedModel, methodCtxOf } from './model';
import type { FromWorker, RunSpec } from './protocol';
import { createRlRun, type TrainingRunner } from './rl-runs';
import type { CreatedRunner } from './scheduler';

export function runnerFactory(
  model: () => Promise<LoadedModel>,
  datasets: Datasets,
  post: (m: FromWorker) => void,
): (spec: RunSpec, ctx: GpuContext) => Promise<CreatedRunner<TrainingRunner>> {
  return async (spec, ctx) => {
    const m = await model();
    const ds = await datasets.forRun(spec);
    const eosIds = eosIdsOf(m);
    if (spec.rl) {
      const runner = await createRlRun(
        spec,
        ctx,
        { ...m, baseSpecs: await m.base },
        ds.prepared.examples,
        post,
      );
      return { runner, trainExamples: runner.counts.train, evalExamples: runner.counts.eval, eosIds };
    }
    const c = spec.config;
    const data = sftData(m.tokenizer, m.config, ds.prepared.examples, {
      seqLen: c.seqLen,
      evalFraction: spec.evalFraction,
      seed: c.seed,
    });
    const runner = await SftRunner.create(ctx, m.config, m.reader, data, c, {
      methodCtx: methodCtxOf(m),
      baseSpecs: await m.base,
      adapterConfig: spec.initAdapter?.config,
      adapterWeights: spec.initAdapter ? new Uint8Array(spec.initAdapter.weights) : undefined,
    });
    return { runner, trainExamples: data.train.length, evalExamples: data.eval.length, eosIds };
  };
}
