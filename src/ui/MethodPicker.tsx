// Methods (rendered from the method list's data: name, label, options with defaults), each with its
// trainable count and predicted memory for the current model and batch, the hyperparameters, and start.
import { useState } from 'react';
import { startRuns } from '../app/engine';
import { formatBytes } from '../gpu/errors';
import { useAppStore } from '../store';
import type { Hyper } from '../store/ui';
import {
  countTrainable,
  LOCAL_METHODS,
  type MethodSpec,
  predictMemory,
  withDefaults,
} from '../train/local-methods';

function MethodRow({ m }: { m: MethodSpec }) {
  const choice = useAppStore((s) => s.methods[m.name]);
  const setMethod = useAppStore((s) => s.setMethod);
  const model = useAppStore((s) => s.model);
  const batch = useAppStore((s) => s.hyper.batch);
  const seqLen = useAppStore((s) => s.hyper.seqLen);
  const options = withDefaults(m, choice?.options);
  let figures = '';
  if (model.state === 'ready') {
    try {
      const c = countTrainable(model.config, m.name, options);
      const p = predictMemory(model.config, m.name, options, batch, seqLen);
      figures = `${c.trainable.toLocaleString('en')} trainable (${((100 * c.trainable) / c.total).toFixed(1)}%), ~${formatBytes(p.total)} predicted`;
    } catch (e) {
      figures = e instanceof Error ? e.message : String(e);
    }
  }
  return (
    <li data-method={m.name}>
      <label>
        <input
          type="checkbox"
          checked={choice?.enabled ?? false}
          onChange={(e) => setMethod(m.name, { enabled: e.target.checked })}
        />{' '}
        {m.label} <code>{m.name}</code>
      </label>
      {m.options.map((o) => (
        <label key={o.key} className="opt">
          {o.label}{' '}
          <input
            type="number"
            value={options[o.key]}
            min={o.min}
            max={model.state === 'ready' ? o.max?.(model.config) : undefined}
            step={o.kind === 'int' ? 1 : 'any'}
            onChange={(e) => setMethod(m.name, { options: { [o.key]: Number(e.target.value) } })}
          />
        </label>
      ))}
      <span className="figures" data-testid={`method-figures-${m.name}`}>
        {figures}
      </span>
    </li>
  );
}

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
          <option value="cosine">cosine</option>
          <option value="linear">linear</option>
          <option value="constant">constant</option>
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
    </div>
  );
}

export function MethodPicker() {
  const [problem, setProblem] = useState<string | null>(null);
  return (
    <section className="panel" data-testid="method-picker">
      <h2>Methods</h2>
      <ul className="methods">
        {LOCAL_METHODS.map((m) => (
          <MethodRow key={m.name} m={m} />
        ))}
      </ul>
      <Hyperparameters />
      <button
        type="button"
        data-testid="start-runs"
        onClick={() => {
          try {
            setProblem(startRuns());
          } catch (e) {
            setProblem(e instanceof Error ? e.message : String(e));
          }
        }}
      >
        Start runs
      </button>
      {problem && (
        <span role="alert" className="error">
          {' '}
          {problem}
        </span>
      )}
    </section>
  );
}
