// The model panel: the built-in model by default (cached by the browser after the first load), or a dropped
// Hugging Face folder's files, opened in the worker; a model that does not fit shows the fit check's message.
import { loadModelFiles } from '../app/engine';
import { formatBytes } from '../gpu/errors';
import { useAppStore } from '../store';

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
