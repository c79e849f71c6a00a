// The comparison table: one row per run with the measured columns, sortable by any column, exported as
// CSV or Markdown. It reads a throttled snapshot of runs and metrics (at most two redraws a second): a row's
// figures only change at an eval or the end of a run, not on every streamed point. Offset from the charts'
// redraws (120 ms) so they do not share a task.
import { useMemo } from 'react';
import { useAppStore } from '../store';
import { COLUMNS, type CompareRow, compareRows, formatCell, sortRows, toCsv, toMarkdown } from './compare';
import { useThrottledStore } from './throttled';

function download(name: string, text: string, type: string): void {
  const url = URL.createObjectURL(new Blob([text], { type }));
  const a = document.createElement('a');
  a.href = url;
  a.download = name;
  a.click();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}

export function ComparisonTable() {
  const { runs, metrics } = useThrottledStore((s) => ({ runs: s.runs, metrics: s.metrics }), 500, 120);
  const sort = useAppStore((s) => s.sort);
  const setSort = useAppStore((s) => s.setSort);
  const rows = useMemo(
    () => sortRows(compareRows(runs, metrics), sort.key as keyof CompareRow, sort.dir),
    [runs, metrics, sort],
  );
  return (
    <section className="panel wide" data-testid="comparison-table">
      <h2>Comparison</h2>
      <table className="compare">
        <thead>
          <tr>
            {COLUMNS.map((c) => (
              <th key={c.key} onClick={() => setSort(c.key)} className="sortable" data-col={c.key}>
                {c.label}
                {sort.key === c.key ? (sort.dir === 1 ? ' ▲' : ' ▼') : ''}
              </th>
            ))}
          </tr>
        </thead>
        <tbody>
          {rows.map((r) => (
            <tr key={r.id} data-run={r.id}>
              {COLUMNS.map((c) => (
                <td key={c.key} data-col={c.key}>
                  {formatCell(c.key, r[c.key])}
                </td>
              ))}
            </tr>
          ))}
        </tbody>
      </table>
      <button type="button" onClick={() => download('comparison.csv', toCsv(rows), 'text/csv')}>
        Export CSV
      </button>{' '}
      <button type="button" onClick={() => download('comparison.md', toMarkdown(rows), 'text/markdown')}>
        Export Markdown
      </button>
    </section>
  );
}
