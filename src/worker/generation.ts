// Generation on the page's request: the base model (on the page's shared device, borrowing the shared frozen
// base of the asked dtype: no copy of its own) and each asked-for run's adapted model in turn, streamed token
// by token. A run's steps wait while its adapter generates; a run of an earlier page is brought back from its
// checkpoint first.
import type { GpuContext } from '../gpu/context';
import { gpuDecodeAccel } from '../gpu/decode-accel';
import { type DecodeAccel, generate } from '../model/generate';
import { gpuBackend } from '../tensor/gpu-backend';
import { ParamSet } from '../tensor/params';
import type { BaseDtype } from '../tensor/weight-format';
import { dataTokenizer } from '../train/tokenizer-adapter';
import type { DeviceLease, SharedDevice } from './device';
import { eosIdsOf, errorMessage, type LoadedModel } from './model';
import type { FromWorker, SamplingSettings, ToWorker } from './protocol';
import type { TrainingRunner } from './rl-runs';
import type { Run, Scheduler } from './scheduler';

type AnyParamSet = ParamSet<unknown, unknown>;

export class Generation {
  /** The base model's parameters for generation: a lease on the shared base, kept for the next request. */
  private baseGen: {
    model: LoadedModel;
    dtype: BaseDtype;
    made: Promise<{ lease: DeviceLease; ps: AnyParamSet }>;
  } | null = null;

  constructor(
    private readonly post: (m: FromWorker) => void,
    private readonly model: () => Promise<LoadedModel>,
    private readonly scheduler: Scheduler<DeviceLease, TrainingRunner>,
    private readonly device: SharedDevice,
  ) {}

  /** The base model in `dtype` (made again for another model or dtype, or after the device was lost). */
  private async baseModel(dtype: BaseDtype): Promise<{ ps: AnyParamSet; ctx: GpuContext }> {
    const m = await this.model();
    const held = this.baseGen;
    if (held && held.model === m && held.dtype === dtype) {
      const got = await held.made.catch(() => null);
      if (got && !got.lease.ctx.lost) return { ps: got.ps, ctx: got.lease.ctx };
    }
    if (held) this.dropBase(held.made);
    const made = (async () => {
      const lease = await this.device.lease();
      try {
        const base = this.device.base(lease.ctx, m, dtype);
        const specs = await m.base;
        const shared = await base.lease(specs.map((s) => s.name));
        const ps = new ParamSet(gpuBackend(lease.ctx), specs, { base: shared }) as unknown as AnyParamSet;
        this.device.report();
        return { lease, ps };
      } catch (e) {
        lease.destroy();
        throw e;
      }
    })();
    this.baseGen = { model: m, dtype, made };
    const got = await made;
    return { ps: got.ps, ctx: got.lease.ctx };
  }

  private dropBase(made: Promise<{ lease: DeviceLease; ps: AnyParamSet }>): void {
    void made.then(
      ({ lease, ps }) => {
        try {
          ps.dispose();
        } catch {
          // A lost device cannot free buffers.
        }
        lease.destroy();
      },
      () => undefined,
    );
  }

  /** The dtype of the first asked-for run still in the worker, else f32. */
  private dtypeOf(runIds: readonly string[]): BaseDtype {
    for (const id of runIds) {
      const d = this.scheduler.get(id)?.spec.config.baseDtype;
      if (d) return d;
    }
    return 'f32';
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
      let run: Run<DeviceLease, TrainingRunner> | null = null;
      try {
        if (ids.length === 0) throw new Error('the prompt encodes to no tokens');
        let ps: AnyParamSet;
        let hooks = {};
        let ctx: GpuContext;
        if (target === 'base')
          ({ ps, ctx } = await this.baseModel(msg.baseDtype ?? this.dtypeOf(msg.runIds)));
        else {
          const r = await this.scheduler.idleRunner(target);
          run = r.run;
          run.busy = true;
          ps = r.runner.ps as unknown as AnyParamSet;
          hooks = r.runner.adapter.hooks;
          ctx = r.runner.ctx;
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
          // The decode step's GEMV kernels on the device the parameters live on.
          accel: gpuDecodeAccel(ctx) as DecodeAccel<unknown>,
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
