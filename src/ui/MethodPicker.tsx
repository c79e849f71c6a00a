// Methods from the registry (the worker lists them as plain data), grouped by each one's family in the
// order METHOD_FAMILIES gives (a newly registered method appears without a change here), each with its
// options form (MethodOptions.tsx, generated from the method's OptionSpecs), its trainable count and share
// of the model, and its predicted memory by category — figures the worker computes (planAdapter,
// predictTrainingMemory) and recomputes when options or the batch shape change. Then the hyperparameters and
// the memory budget that decides between interleaved and one-after-another runs (Start is in StartBar.tsx).
import { memo, useState } from 'react';
import { MEMORY_CATEGORIES } from '../gpu/arena';
import { formatBytes } from '../gpu/errors';
import { METHOD_FAMILIES, type MethodInfo } from '../peft/types';
import { useAppStore } from '../store';
import type { Hyper } from '../store/ui';
import { BASE_DTYPES, type BaseDtype } from '../tensor/weight-format';
import { LR_SCHEDULES } from '../train/sft-config';
import { MethodOptions } from './MethodOptions';

const MethodRow = memo(function MethodRow({ m }: { m: MethodInfo }) {
  const enabled = useAppStore((s) => s.methods[m.name]?.enabled ?? false);
  const setMethod = useAppStore((s) => s.setMethod);
  const plan = useAppStore((s) => s.plans[m.name]);
  const [open, setOpen] = useState(false);
  let figures = 'computing…';
  let breakdown = '';
  if (plan?.error) figures = plan.error;
  else if (plan) {
    figures = `${plan.trainable.toLocaleString('en')} trainable (${((100 * plan.trainable) / plan.total).toFixed(2)}%)`;
    // What a data-parallel step would all-reduce: the communication cost the seed credits PEFT with.
    figures += `, ${formatBytes(plan.allreduceBytes)} all-reduce/step`;
    if (plan.predicted) {
      figures += `, ${formatBytes(plan.predicted.peakTotal)} predicted`;
      breakdown = MEMORY_CATEGORIES.filter((c) => plan.predicted!.peak[c] > 0)
        .map((c) => `${c} ${formatBytes(plan.predicted!.peak[c])}`)
        .join(' · ');
    }
  }
  return (
    <li data-method={m.name}>
      <label>
        <input
          type="checkbox"
          checked={enabled}
          onChange={(e) => setMethod(m.name, { enabled: e.target.checked })}
        />{' '}
        {m.label} <code>{m.name}</code>
      </label>{' '}
      <span className="figures" data-testid={`method-figures-${m.name}`} title={breakdown}>
        {figures}
      </span>
      {m.options.length > 0 && (
        <button type="button" className="link" onClick={() => setOpen(!open)}>
          {open ? 'hide options' : `options (${m.options.length})`}
        </button>
      )}
      {breakdown && <div className="breakdown">{breakdown}</div>}
      {open && <MethodOptions m={m} />}
    </li>
  );
});

const NUMBER_FIELDS: { key: keyof Hyper; label: string; step?: string }[] = [
  { key: 'steps', label: 'steps' },
  { key: 'batch', label: 'batch' },
  { key: 'seqLen', label: 'seq len' },
  { key: 'gradAccum', label: 'grad accum' },
  { key: 'weightDecay', label: 'weight decay', step: 'any' },
  { key: 'maxGradNorm', label: 'clip norm', step: 'any' },
  { key: 'seed', label: 'seed' },
  { key: 'evalEvery', label: 'eval every' },
];

function Hyperparameters() {
  const h = useAppStore((s) => s.hyper);
  const set = useAppStore((s) => s.setHyper);
  const budget = useAppStore((s) => s.budgetBytes);
  const setBudget = useAppStore((s) => s.setBudget);
  return (
    <div className="hyper" data-testid="hyperparameters">
      <label>
        lr{' '}
        <input
          name="lr"
          type="number"
          step="any"
          placeholder="method default"
          value={h.lr ?? ''}
          onChange={(e) => set({ lr: e.target.value === '' ? null : Number(e.target.value) })}
        />
      </label>
      <label>
        schedule{' '}
        <select value={h.schedule} onChange={(e) => set({ schedule: e.target.value as Hyper['schedule'] })}>
          {LR_SCHEDULES.map((v) => (
            <option key={v} value={v}>
              {v}
            </option>
          ))}
        </select>
      </label>
      {NUMBER_FIELDS.map((f) => (
        <label key={f.key}>
          {f.label}{' '}
          <input
            name={f.key}
            type="number"
            step={f.step ?? 1}
            value={h[f.key] as number}
            onChange={(e) => set({ [f.key]: Number(e.target.value) } as Partial<Hyper>)}
          />
        </label>
      ))}
      <label title="Several training examples per row, each attending only to itself (less padding); eval rows are not packed">
        <input
          name="pack"
          type="checkbox"
          checked={!!h.pack}
          onChange={(e) => set({ pack: e.target.checked })}
        />{' '}
        Pack examples
      </label>
      <label title="How the frozen base is held on the GPU: f16/bf16 halve it, int8 quarters it, nf4 (QLoRA's 4-bit) takes about an eighth; methods that train base weights need f32">
        base{' '}
        <select
          name="baseDtype"
          value={h.baseDtype}
          onChange={(e) => set({ baseDtype: e.target.value as BaseDtype })}
        >
          {BASE_DTYPES.map((v) => (
            <option key={v} value={v}>
              {v}
            </option>
          ))}
        </select>
      </label>
      <label title="Keep only each block's input and recompute the block in backward: much less activation memory, about a third more compute">
        <input
          name="checkpointing"
          type="checkbox"
          checked={h.checkpointing}
          onChange={(e) => set({ checkpointing: e.target.checked })}
        />{' '}
        Checkpointing
      </label>
      <label title="Runs whose predicted memory together exceeds this go one after another">
        memory budget (MiB){' '}
        <input
          name="budget"
          type="number"
          min={1}
          value={Math.round(budget / 2 ** 20)}
          onChange={(e) => setBudget(Math.max(1, Number(e.target.value)) * 2 ** 20)}
        />
      </label>
    </div>
  );
}

export function MethodPicker() {
  const infos = useAppStore((s) => s.methodInfos);
  const lrOf = (n: string) => infos.find((m) => m.name === n)?.defaultLr;
  return (
    <section className="panel" data-testid="methods">
      <h2>Methods</h2>
      {infos.length === 0 && <p>Loading the method registry…</p>}
      {METHOD_FAMILIES.map((f) => (
        <div key={f.key} className="family" data-family={f.key}>
          <h3>{f.label}</h3>
          <ul className="methods">
            {infos
              .filter((m) => m.family === f.key)
              .map((m) => (
                <MethodRow key={m.name} m={m} />
              ))}
          </ul>
        </div>
      ))}
      <p className="note">
        Default learning rate per method (lr left empty):{' '}
        {infos.map((m) => `${m.name} ${lrOf(m.name)}`).join(', ')}
      </p>
      <Hyperparameters />
    </section>
  );
}
