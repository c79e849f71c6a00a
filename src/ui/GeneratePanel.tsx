// The generation panel: one prompt, the base model's output beside every run's, streamed token by token
// from the worker (generate() with each run's adapter hooks; the base on its own copy of the weights),
// with the sampling controls (temperature 0 = greedy, top-k, top-p, max new tokens, seed).
import { memo } from 'react';
import { generateAll } from '../app/engine';
import { useAppStore } from '../store';
import type { SamplingSettings } from '../worker/protocol';

const FIELDS: { key: keyof SamplingSettings; label: string; step: string }[] = [
  { key: 'temperature', label: 'temperature', step: 'any' },
  { key: 'topK', label: 'top-k', step: '1' },
  { key: 'topP', label: 'top-p', step: 'any' },
  { key: 'maxNewTokens', label: 'max new tokens', step: '1' },
  { key: 'seed', label: 'seed', step: '1' },
];

const Output = memo(function Output({ target }: { target: string }) {
  const out = useAppStore((s) => s.genOutputs[target]);
  const label = useAppStore((s) =>
    target === 'base' ? 'base model' : (s.runs.find((r) => r.spec.id === target)?.spec.label ?? target),
  );
  if (!out) return null;
  return (
    <div className="gen-output" data-testid="gen-output" data-target={target} data-done={out.done}>
      <h4>{label}</h4>
      <pre>{out.text}</pre>
      {out.error && <p className="error">{out.error}</p>}
    </div>
  );
});

export function GeneratePanel() {
  const prompt = useAppStore((s) => s.genPrompt);
  const setPrompt = useAppStore((s) => s.setGenPrompt);
  const sampling = useAppStore((s) => s.sampling);
  const setSampling = useAppStore((s) => s.setSampling);
  const targets = useAppStore((s) => Object.keys(s.genOutputs).join(' '));
  const ready = useAppStore((s) => s.model.state === 'ready');
  return (
    <section className="panel wide" data-testid="generate-panel">
      <h2>Generate</h2>
      <textarea name="prompt" rows={2} cols={60} value={prompt} onChange={(e) => setPrompt(e.target.value)} />
      <div className="hyper">
        {FIELDS.map((f) => (
          <label key={f.key}>
            {f.label}{' '}
            <input
              name={f.key}
              type="number"
              step={f.step}
              value={sampling[f.key]}
              onChange={(e) => setSampling({ [f.key]: Number(e.target.value) })}
            />
          </label>
        ))}
      </div>
      <button type="button" data-testid="generate" disabled={!ready} onClick={generateAll}>
        Generate with the base model and every run
      </button>
      <div className="gen-outputs">
        {targets ? targets.split(' ').map((t) => <Output key={t} target={t} />) : null}
      </div>
    </section>
  );
}
