// Method plans before a run starts: the trainable and total parameter counts, the all-reduce bytes of one
// data-parallel step, and the predicted memory of
// one training step (predictTrainingMemory) for the options the form holds. Only the newest request per
// method is answered; older ones still waiting on the model are dropped.
import { countParameters } from '../formats/model-config';
import { Adapter, planAdapter } from '../peft/adapter';
import { allreduceBytes } from '../peft/allreduce';
import { getMethod } from '../peft/registry';
import { predictTrainingMemory } from '../train/memory';
import { errorMessage, type LoadedModel, methodCtxOf } from './model';
import type { FromWorker, ToWorker } from './protocol';

export class Planner {
  /** The newest plan asked for per method: older requests still queued are skipped. */
  private readonly latest = new Map<string, string>();

  constructor(
    private readonly post: (m: FromWorker) => void,
    private readonly model: () => Promise<LoadedModel>,
  ) {}

  async plan(msg: Extract<ToWorker, { type: 'plan' }>): Promise<void> {
    const out = {
      method: msg.method,
      key: msg.key,
      trainable: 0,
      allreduceBytes: 0,
      total: 0,
      predicted: null,
    };
    this.latest.set(msg.method, msg.key);
    try {
      const m = await this.model();
      const base = await m.base;
      if (this.latest.get(msg.method) !== msg.key) return;
      const method = getMethod(msg.method);
      const p = planAdapter(method, msg.options, m.config, base, 0, methodCtxOf(m));
      const stats = predictTrainingMemory(
        m.config,
        p.specs,
        (mps) => new Adapter(method, p, m.config, mps).hooks,
        { B: msg.batch, T: msg.seqLen, pack: msg.pack },
      );
      this.post({
        type: 'planResult',
        plan: {
          ...out,
          trainable: p.count,
          allreduceBytes: allreduceBytes(method, p.options, m.config),
          total: countParameters(m.config),
          predicted: { peak: { ...stats.peak }, peakTotal: stats.peakTotal },
        },
      });
    } catch (e) {
      this.post({ type: 'planResult', plan: { ...out, error: errorMessage(e) } });
    }
  }
}
