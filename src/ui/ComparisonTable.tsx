// The comparison table: one row per run with the measured columns, sortable by any column, exported as
// CSV or Markdown. It reads a throttled snapshot of runs and metrics (at most two redraws a second): a row's
// figures only change at an eval or the end of a run, not on every streamed point. Offset from the charts'
// redraws (120 ms) so they do not share a task. It fits its column (fixed layout, short headers that wrap,
// each with its unit and a tooltip saying what it measures; the three latencies under one heading), and
// each row is marked with its run's colour, as in the charts and the run cards. A fair comparison's
// mean ± sd table (FairTable.tsx) sits above the per-run rows.
import { type CSSProperties, useMemo } from 'react';
import { useAppStore } from '../store';
import { COLORS } from './Charts';
import {
  COLUMNS,
  type CompareRow,
  compareRows,
  formatCell,
  LATENCY_KEYS,
  sortRows,
  toCsv,
  toMarkdown,
} from './compare';
import { FairTable } from './FairTable';
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
  const colorOf = useMemo(() => new Map(runs.map((r, i) => [r.spec.id, COLORS[i % COLORS.length]])), [runs]);
  const head = (c: (typeof COLUMNS)[number], rowSpan?: number) => (
    <th
      key={c.key}
      rowSpan={rowSpan}
      onClick={() => setSort(c.key)}
      className="sortable"
      data-col={c.key}
      title={`${c.help} (click to sort)`}
      aria-sort={sort.key === c.key ? (sort.dir === 1 ? 'ascending' : 'descending') : undefined}
    >
      {c.short}
      {sort.key === c.key ? (sort.dir === 1 ? ' ▲' : ' ▼') : ''}
    </th>
  );
  // The page leaves out method and state (the run's name and its card say them); the exports keep them.
  const plain = COLUMNS.filter(
    (c) => !LATENCY_KEYS.includes(c.key) && c.key !== 'method' && c.key !== 'state',
  );
  const latency = COLUMNS.filter((c) => LATENCY_KEYS.includes(c.key));
  return (
    <section className="panel" data-testid="comparison-table">
      <h2>
        Comparison{' '}
        <span className="table-actions">
          <button type="button" onClick={() => download('comparison.csv', toCsv(rows), 'text/csv')}>
            Export CSV
          </button>{' '}
          <button type="button" onClick={() => download('comparison.md', toMarkdown(rows), 'text/markdown')}>
            Export Markdown
          </button>
        </span>
      </h2>
      <FairTable />
      <table className="compare">
        <thead>
          <tr>
            {plain.map((c) => head(c, 2))}
            <th
              colSpan={latency.length}
              className="group"
              title="Forward latency, batch 1 × seq len: Measure latency on a run's card"
            >
              forward latency (ms)
            </th>
          </tr>
          <tr>{latency.map((c) => head(c))}</tr>
        </thead>
        <tbody>
          {rows.map((r) => (
            <tr key={r.id} data-run={r.id} style={{ '--run-color': colorOf.get(r.id) } as CSSProperties}>
              {plain.concat(latency).map((c) => (
                <td key={c.key} data-col={c.key}>
                  {c.key === 'run' && <span className="swatch-run" aria-hidden="true" />}
                  {formatCell(c.key, r[c.key])}
                </td>
              ))}
            </tr>
          ))}
        </tbody>
      </table>
    </section>
  );
}
