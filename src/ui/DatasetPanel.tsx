// The dataset panel: drop or pick a file (or a built-in sample), then its detected shape and column
// mapping, skipped rows with the first problems, a preview and the token-length histogram, then what the
// model sees (ModelSees.tsx: the examples rendered as training tokenises them, the template chosen there).
// While the worker loads a file in chunks, its progress (bytes and rows) and a Cancel button that keeps the
// datasets loaded before.
import { useState } from 'react';
import { Bar, BarChart, CartesianGrid, Tooltip, XAxis, YAxis } from 'recharts';
import { cancelDataset, loadDatasetFiles, loadSample, SAMPLE_DATASETS } from '../app/engine';
import { useAppStore } from '../store';
import { BadRowsChoice, ColumnMappingForm } from './ColumnMappingForm';
import { ModelSees } from './ModelSees';

const mb = (n: number) => (n / 2 ** 20).toFixed(n < 10 * 2 ** 20 ? 1 : 0);

/** Files the worker is loading: how far each got, and a Cancel for each. */
function Loading() {
  const pending = useAppStore((s) => s.pendingDatasets);
  const loading = useAppStore((s) => s.datasetLoading);
  const ids = Object.keys(pending);
  if (ids.length === 0) return null;
  return (
    <ul className="dataset-loading" data-testid="dataset-loading">
      {ids.map((id) => {
        const p = loading[id];
        return (
          <li key={id}>
            {p ? (
              <>
                Loading {pending[id]}: <progress max={p.bytesTotal} value={p.bytesDone} />{' '}
                <span data-testid="dataset-progress">
                  {Math.floor((100 * p.bytesDone) / Math.max(1, p.bytesTotal))}% ({mb(p.bytesDone)} of{' '}
                  {mb(p.bytesTotal)} MB), {p.rows} rows, {p.skipped} skipped
                </span>
              </>
            ) : (
              <>Parsing {pending[id]}…</>
            )}{' '}
            <button type="button" data-testid="dataset-cancel" onClick={() => cancelDataset(id)}>
              Cancel
            </button>
          </li>
        );
      })}
    </ul>
  );
}

function Preview() {
  const ds = useAppStore((s) => s.datasets.find((d) => d.id === s.selectedDatasetId));
  if (!ds) return null;
  const cols = ds.columns.slice(0, 4);
  const cell = (v: unknown) => {
    const t = typeof v === 'string' ? v : JSON.stringify(v);
    return t && t.length > 80 ? `${t.slice(0, 80)}…` : t;
  };
  return (
    <div className="dataset-summary" data-testid="dataset-summary">
      <p>
        <strong>{ds.name}</strong> ({ds.format}): {ds.rows} rows → {ds.examples} examples, shape{' '}
        <code data-testid="dataset-shape">{ds.shape}</code>; mapping{' '}
        <code>
          {Object.entries(ds.mapping)
            .map(([role, col]) => `${role} ← ${Array.isArray(col) ? col.join(' + ') : col}`)
            .join(', ')}
        </code>
        ; <span data-testid="dataset-skipped">{ds.skipped}</span> skipped.
      </p>
      {ds.issues.length > 0 && (
        <ul className="issues">
          {ds.issues.slice(0, 3).map((i) => (
            <li key={i.message}>{i.message}</li>
          ))}
        </ul>
      )}
      <details>
        <summary>Change the column mapping</summary>
        <ColumnMappingForm
          key={`${ds.id}:${JSON.stringify(ds.mapping)}`}
          id={ds.id}
          name={ds.name}
          columns={ds.columns}
          shape={ds.shape}
          mapping={ds.mapping}
        />
      </details>
      <table className="preview">
        <thead>
          <tr>
            {cols.map((c) => (
              <th key={c}>{c}</th>
            ))}
          </tr>
        </thead>
        <tbody>
          {ds.preview.map((row, i) => (
            // biome-ignore lint/suspicious/noArrayIndexKey: preview rows have no identity of their own
            <tr key={i}>
              {cols.map((c) => (
                <td key={c}>{cell(row[c])}</td>
              ))}
            </tr>
          ))}
        </tbody>
      </table>
      <p>
        Token lengths: median {ds.histogram.median}, p95 {ds.histogram.p95}, max {ds.histogram.max};{' '}
        {ds.histogram.overMax} over {ds.truncatedAt} (truncated).
      </p>
      <BarChart width={360} height={120} data={ds.histogram.bins} data-testid="length-histogram">
        <CartesianGrid strokeDasharray="3 3" />
        <XAxis dataKey="from" fontSize={10} />
        <YAxis fontSize={10} width={30} />
        <Tooltip />
        <Bar dataKey="count" fill="#5b7fbd" isAnimationActive={false} />
      </BarChart>
    </div>
  );
}

export function DatasetPanel() {
  const datasets = useAppStore((s) => s.datasets);
  const selected = useAppStore((s) => s.selectedDatasetId);
  const select = useAppStore((s) => s.selectDataset);
  const error = useAppStore((s) => s.datasetError);
  const unmapped = useAppStore((s) => s.unmappedDataset);
  const [over, setOver] = useState(false);
  return (
    <section className="panel">
      <h2>Dataset</h2>
      <label
        className={over ? 'drop over' : 'drop'}
        data-testid="dataset-drop"
        onDragOver={(e) => {
          e.preventDefault();
          setOver(true);
        }}
        onDragLeave={() => setOver(false)}
        onDrop={(e) => {
          e.preventDefault();
          setOver(false);
          loadDatasetFiles(e.dataTransfer.files);
        }}
      >
        Drop a JSONL, JSON, CSV, Parquet or text file here, or click to pick one.
        <input
          type="file"
          multiple
          accept=".jsonl,.json,.csv,.parquet,.txt"
          onChange={(e) => {
            if (e.target.files) loadDatasetFiles(e.target.files);
            e.target.value = '';
          }}
        />
      </label>
      <BadRowsChoice />
      <p className="samples">
        Samples:{' '}
        {SAMPLE_DATASETS.map((n) => (
          <button type="button" key={n} onClick={() => void loadSample(n)}>
            {n}
          </button>
        ))}
      </p>
      <Loading />
      {error && (
        <p role="alert" className="error" data-testid="dataset-error">
          {error}
        </p>
      )}
      {unmapped && (
        <div className="unmapped">
          <p>
            Map the columns of <strong>{unmapped.name}</strong> ({unmapped.columns.join(', ')}) by hand:
          </p>
          <ColumnMappingForm
            key={unmapped.id}
            id={unmapped.id}
            name={unmapped.name}
            columns={unmapped.columns}
          />
        </div>
      )}
      {datasets.length > 0 && (
        <select data-testid="dataset-select" value={selected ?? ''} onChange={(e) => select(e.target.value)}>
          {datasets.map((d) => (
            <option key={d.id} value={d.id}>
              {d.name} ({d.examples} examples, {d.shape})
            </option>
          ))}
        </select>
      )}
      <Preview />
      <ModelSees />
    </section>
  );
}
