// The model panel: the built-in model by default (cached by the browser after the first load), a dropped
// Hugging Face folder's files, or a model from the Hub by its id (ORG/NAME and an optional revision): its
// config.json first, with the plan, then its files with progress per file on the user's word. Every model is
// opened in the worker; one that fails to load (a Hub error, a bad file, a model that does not fit) shows
// its message beside the model that stays loaded.
import { useState } from 'react';
import { loadModelFiles } from '../app/engine';
import { cancelHubModel, checkHubModel, downloadHubModel } from '../app/hub';
import { estimateWeightBytes, parseModelConfig } from '../formats/model-config';
import { formatBytes } from '../gpu/errors';
import { useAppStore } from '../store';
import type { HubStatus } from '../store/model';
import { PlanPanel } from './PlanPanel';

export function ModelPanel() {
  const model = useAppStore((s) => s.model);
  return (
    <section className="panel" data-testid="model-panel" data-state={model.state}>
      <h2>Model</h2>
      {model.state === 'ready' && (
        <p data-testid="model-summary">
          <strong>{model.summary.name}</strong>: {model.summary.modelType}, {model.summary.layers} layers, d=
          {model.summary.hiddenSize}, vocab {model.summary.vocabSize},{' '}
          {model.summary.totalParams.toLocaleString('en')} weights ({formatBytes(model.summary.weightBytes)}{' '}
          f32)
        </p>
      )}
      {model.state === 'ready' && model.notice && (
        <p role="alert" className="error">
          {model.notice} ({model.summary.name} stays loaded.)
        </p>
      )}
      {(model.state === 'loading' || model.state === 'none') && <p>Loading the model…</p>}
      {model.state === 'error' && (
        <p role="alert" className="error">
          {model.message}
        </p>
      )}
      <HubModelForm />
      <label className="drop" data-testid="model-drop">
        Another model: pick config.json, model.safetensors and tokenizer.json together.
        <input
          type="file"
          multiple
          accept=".json,.safetensors"
          onChange={(e) => {
            if (e.target.files) loadModelFiles(e.target.files);
            e.target.value = '';
          }}
        />
      </label>
    </section>
  );
}

/** The Hub field: the repo id and revision, then the checked model's plan and its download. */
function HubModelForm() {
  const hub = useAppStore((s) => s.hub);
  const [repo, setRepo] = useState('');
  const [revision, setRevision] = useState('');
  const busy = hub.state === 'checking' || hub.state === 'downloading';
  return (
    <div data-testid="hub-model" data-state={hub.state}>
      <form
        className="hub-form"
        onSubmit={(e) => {
          e.preventDefault();
          void checkHubModel(repo, revision);
        }}
      >
        <label>
          From the Hugging Face Hub{' '}
          <input
            name="hub-repo"
            placeholder="HuggingFaceTB/SmolLM2-135M"
            value={repo}
            onChange={(e) => setRepo(e.target.value)}
            spellCheck={false}
          />
        </label>{' '}
        <label>
          revision{' '}
          <input
            name="hub-revision"
            placeholder="main"
            size={10}
            value={revision}
            onChange={(e) => setRevision(e.target.value)}
            spellCheck={false}
          />
        </label>{' '}
        <button type="submit" disabled={busy || repo.trim() === ''}>
          Check
        </button>
      </form>
      {hub.state === 'checking' && <p>Reading {hub.name}'s config.json…</p>}
      {(hub.state === 'planned' || hub.state === 'downloading') && <HubPlan hub={hub} />}
    </div>
  );
}

function HubPlan({ hub }: { hub: Extract<HubStatus, { state: 'planned' | 'downloading' }> }) {
  const config = parseModelConfig(hub.configJson, `${hub.name}/config.json`);
  return (
    <div data-testid="hub-plan">
      <p>
        <strong>{hub.name}</strong> at commit <code title={hub.commit}>{hub.commit.slice(0, 10)}</code>
        {hub.offline && ' (offline: from the cache)'}: {config.modelType}, {config.numLayers} layers, d=
        {config.hiddenSize}, vocab {config.vocabSize}, about {formatBytes(estimateWeightBytes(config, 'F32'))}{' '}
        of f32 weights.
      </p>
      <PlanPanel configJson={hub.configJson} modelName={hub.name} />
      {hub.state === 'planned' && (
        <p>
          <button type="button" onClick={() => void downloadHubModel()}>
            Download and load
          </button>{' '}
          <button type="button" onClick={cancelHubModel}>
            Cancel
          </button>
        </p>
      )}
      {hub.state === 'downloading' && (
        <ul data-testid="hub-progress" className="hub-progress">
          {Object.entries(hub.files).map(([file, p]) => (
            <li key={file} data-file={file} data-done={p.done}>
              {file}: {p.cached ? 'from the cache' : formatBytes(p.loadedBytes)}
              {!p.cached && p.totalBytes !== null && ` of ${formatBytes(p.totalBytes)}`}{' '}
              {p.totalBytes ? <progress value={p.loadedBytes} max={p.totalBytes} /> : null}
            </li>
          ))}
        </ul>
      )}
    </div>
  );
}
