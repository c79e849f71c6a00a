// Generation on the page's request: the base model (its own device and one copy of the weights, made on
// first use) and each asked-for run's adapted model in turn, streamed token by token. A run's steps wait
// while its adapter generates; a run of an earlier page is brought back from its checkpoint first.
import type { GpuContext } from '../gpu/context';
import { acquireBrowserGpu } from '../gpu/device';
import { generate } from '../model/generate';
import { gpuBackend } from '../tensor/gpu-backend';
import { ParamSet } from '../tensor/params';
import { dataTokenizer } from '../train/tokenizer-adapter';
import { eosIdsOf, errorMessage, type LoadedModel } from './model';
import type { FromWorker, SamplingSettings, ToWorker } from './protocol';
import type { TrainingRunner } from './rl-runs';
import type { Run, Scheduler } from './scheduler';

type AnyParamSet = ParamSet<unknown, unknown>;

export class Generation {
  private baseGen: Promise<{ ctx: GpuContext; ps: AnyParamSet }> | null = null;

  constructor(
    private readonly post: (m: FromWorker) => void,
    private readonly model: () => Promise<LoadedModel>,
    private readonly scheduler: Scheduler<GpuContext, TrainingRunner>,
  ) {}

  private baseModel() {
    this.baseGen ??= (async () => {
      const m = await this.model();
      const ctx = await acquireBrowserGpu();
      const ps = new ParamSet(gpuBackend(ctx), await m.base) as unknown as AnyParamSet;
      return { ctx, ps };
    })();
    return this.baseGen;
  }

  async generateAll(msg: Extract<ToWorker, { type: 'generate' }>): Promise<void> {
    const m = await this.model().catch(() => null);
    if (!m) {
      this.post({ type: 'genDone', reqId: msg.reqId, target: 'base', error: 'no model is loaded yet' });
      return;
    }
    const tok = dataTokenizer(m.tokenizer, m.config);
    const ids = m.tokenizer.encode(msg.prompt);
    if (tok.bosId !== null && ids[0] !== tok.bosId) ids.unshift(tok.bosId);
    const eosIds = eosIdsOf(m);
    const s: SamplingSettings = msg.sampling;
    const decode = (x: readonly number[]) => m.tokenizer.decode(x, { skipSpecialTokens: true });
    for (const target of ['base', ...msg.runIds]) {
      let run: Run<GpuContext, TrainingRunner> | null = null;
      try {
        if (ids.length === 0) throw new Error('the prompt encodes to no tokens');
        let ps: AnyParamSet;
        let hooks = {};
        if (target === 'base') ps = (await this.baseModel()).ps;
        else {
          const r = await this.scheduler.idleRunner(target);
          run = r.run;
          run.busy = true;
          ps = r.runner.ps as unknown as AnyParamSet;
          hooks = r.runner.adapter.hooks;
        }
        await generate(ps.be, m.config, ps, [ids], {
          maxNewTokens: s.maxNewTokens,
          temperature: s.temperature,
          topK: s.topK,
          topP: s.topP,
          seed: s.seed,
          eosIds,
          hooks,
          decode,
          onToken: (e) => {
            if (e.text) this.post({ type: 'genToken', reqId: msg.reqId, target, text: e.text });
          },
        });
        this.post({ type: 'genDone', reqId: msg.reqId, target });
      } catch (e) {
        this.post({ type: 'genDone', reqId: msg.reqId, target, error: errorMessage(e) });
      } finally {
        if (run) run.busy = false;
      }
    }
  }
}
