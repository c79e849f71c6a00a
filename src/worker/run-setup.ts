// How the worker builds a run's runner on the page's shared device: the model loaded now, its frozen base in
// the run's dtype (one per model and dtype, device.ts), the run's dataset, then sftDataFromArena(...) (the
// rows read from the dataset's token arena, the same rows sftData gives: no copy of a large dataset's
// tokens) and SftRunner.create(...) for SFT (the pair the CLI uses, so page and CLI train on the same rows
// with the same losses), or createRlRun for an RL run (src/worker/rl-runs.ts). The run's allocations are counted under
// its id, so its memory figures leave the shared base out. The scheduler gets this as its createRunner effect.
import type { FrozenBase } from '../tensor/frozen-base';
import { SftRunner } from '../train/sft';
import { sftData, sftDataFromArena } from '../train/sft-data';
import type { Datasets } from './datasets';
import type { DeviceLease, SharedDevice } from './device';
import { eosIdsOf, type LoadedModel, methodCtxOf } from './model';
import type { FromWorker, RunSpec } from './protocol';
import { createRlRun, type TrainingRunner } from './rl-runs';
import type { CreatedRunner } from './scheduler';

export function runnerFactory(
  model: () => Promise<LoadedModel>,
  datasets: Datasets,
  post: (m: FromWorker) => void,
  device: SharedDevice,
): (spec: RunSpec, lease: DeviceLease) => Promise<CreatedRunner<TrainingRunner>> {
  return async (spec, lease) => {
    const ctx = lease.ctx;
    const m = await model();
    const base = device.base(ctx, m, spec.config.baseDtype ?? 'f32');
    const eosIds = eosIdsOf(m);
    if (spec.rl) {
      const ds = await datasets.forRun(spec);
      const runner = await createRlRun(
        spec,
        ctx,
        { ...m, baseSpecs: await m.base, base: base as FrozenBase<unknown, unknown> },
        ds.prepared.examples,
        post,
      );
      device.report();
      return { runner, trainExamples: runner.counts.train, evalExamples: runner.counts.eval, eosIds };
    }
    const c = spec.config;
    const o = { seqLen: c.seqLen, evalFraction: spec.evalFraction, seed: c.seed };
    const arena = await datasets.tokensForRun(spec);
    const data = arena
      ? sftDataFromArena(m.tokenizer, m.config, arena, o)
      : sftData(m.tokenizer, m.config, (await datasets.forRun(spec)).prepared.examples, o);
    const runner = await SftRunner.create(ctx, m.config, m.reader, data, c, {
      methodCtx: methodCtxOf(m),
      base,
      owner: spec.id,
      adapterConfig: spec.initAdapter?.config,
      adapterWeights: spec.initAdapter ? new Uint8Array(spec.initAdapter.weights) : undefined,
    });
    device.report();
    return { runner, trainExamples: data.train.length, evalExamples: data.eval.length, eosIds };
  };
}
