// What the model sees: the selected dataset's first examples as training tokenises them (the worker
// renders them with the tokenisation training uses, data/tokenize.ts), with the prompt template applied,
// the tokens the loss trains on highlighted against the prompt's, token boundaries marked, and where the
// sequence length cuts an example. The template is chosen here (Alpaca's is the default for instruction +
// input columns); choosing one renders the examples again, and the runs started after it train on them.
import { memo } from 'react';
import { previewDataset } from '../app/engine';
import { PROMPT_TEMPLATES, type PromptTemplate } from '../data/template';
import type { PreviewSequence } from '../data/tokenize';
import { useAppStore } from '../store';

/** Control characters shown visibly (a newline as ↵ followed by the break itself). */
const shown = (t: string) => t.replace(/\n/g, '↵\n').replace(/\t/g, '⇥');

function Sequence({ seq }: { seq: PreviewSequence }) {
  const trained = seq.pieces.filter((p) => p.trained).length;
  return (
    <div className="rendered-seq" data-testid="rendered-seq" data-label={seq.label ?? ''}>
      <div className="rendered-head">
        {seq.label && <strong>{seq.label}</strong>} {seq.pieces.length} tokens, {trained} trained
        {seq.truncated && (
          <span className="cut" data-testid="rendered-cut">
            {' '}
            · cut: {seq.fullLength - seq.pieces.length} of {seq.fullLength} tokens dropped
          </span>
        )}
      </div>
      <pre className="rendered">
        {seq.pieces.map((p, i) => (
          // biome-ignore lint/suspicious/noArrayIndexKey: token positions are the identity here
          <span key={i} className={p.trained ? 'tok trained' : 'tok prompt'} data-trained={p.trained}>
            {shown(p.text)}
          </span>
        ))}
        {seq.truncated && <span className="tok cutmark">✂</span>}
      </pre>
      {seq.problem && <p className="note">{seq.problem}</p>}
    </div>
  );
}

export const ModelSees = memo(function ModelSees() {
  const ds = useAppStore((s) => s.datasets.find((d) => d.id === s.selectedDatasetId));
  const seqLen = useAppStore((s) => s.hyper.seqLen);
  if (!ds) return null;
  const rendered = ds.rendered ?? [];
  return (
    <details className="model-sees" data-testid="model-sees" data-template={ds.template ?? ''} open>
      <summary>What the model sees</summary>
      <div className="hyper">
        <label>
          prompt template{' '}
          <select
            data-testid="template-select"
            value={ds.template ?? 'none'}
            onChange={(e) => previewDataset(ds.id, e.target.value as PromptTemplate)}
          >
            {PROMPT_TEMPLATES.map((t) => (
              <option key={t.name} value={t.name}>
                {t.label}
              </option>
            ))}
          </select>
        </label>
        {seqLen !== ds.truncatedAt && (
          <button type="button" onClick={() => previewDataset(ds.id, ds.template ?? 'none')}>
            Render at seq len {seqLen}
          </button>
        )}
      </div>
      <p className="note">
        <span className="tok trained">trained</span> tokens (the loss) ·{' '}
        <span className="tok prompt">prompt</span> tokens (label -100) · cut at {ds.truncatedAt} tokens
      </p>
      {rendered.map((seqs, i) => (
        // biome-ignore lint/suspicious/noArrayIndexKey: the first examples, in order
        <div key={i} className="rendered-example" data-testid="rendered-example">
          {seqs.map((s) => (
            <Sequence key={s.label ?? 'seq'} seq={s} />
          ))}
        </div>
      ))}
    </details>
  );
});
