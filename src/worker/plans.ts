// Method plans before a run starts: the trainable and total parameter counts, the all-reduce bytes of one
// data-parallel step, and the predicted memory of
// one training step (predictTrainingMemory) for the options the form holds. Only the newest request per
// method is answered; older ones still waiting on the model are dropped.
import { countParameters, frozenTensorPlan } from '../formats/model-config';
import { Adapter, checkTrainableDtypes, planAdapter } from '../peft/adapter';
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
      // The base as the run will hold it: the chosen dtype on the tensors that take it (norms stay f32).
      const held = frozenTensorPlan(m.config, msg.baseDtype ?? 'f32');
      const specs = base.map((s) => {
        const h = held.get(s.name);
        return h ? { ...s, dtype: h.dtype, layout: h.layout } : s;
      });
      const p = planAdapter(method, msg.options, m.config, specs, 0, methodCtxOf(m));
      checkTrainableDtypes(p, msg.method);
      const stats = predictTrainingMemory(
        m.config,
        p.specs,
        (mps) => new Adapter(method, p, m.config, mps).hooks,
        { B: msg.batch, T: msg.seqLen, pack: msg.pack },
        { checkpointing: msg.checkpointing },
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
