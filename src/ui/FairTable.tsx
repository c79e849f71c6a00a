// The fair comparison's table on the page: one row per method of each comparison, over its finished
// seeded runs: the rate the sweep picked, seeds done of started, eval loss and exact match as mean ± sd
// (sample sd), trained parameters, peak memory, steady-state tokens/s and deployed latency (merged where
// the method merges; measured from a run's card). "Export report" downloads the files `cli compare --out`
// writes (train/compare/report.ts: report.md, loss.svg, eval-loss.svg, runs.json) as one zip.
import { type CSSProperties, memo, useMemo } from 'react';
import { zipFiles } from '../formats/zip';
import { useAppStore } from '../store';
import { reportFiles } from '../train/compare/report';
import { COLORS } from './Charts';
import { type FairGroup, fairGroups, meanSd } from './compare';
import { useThrottledStore } from './throttled';

function downloadBytes(name: string, bytes: Uint8Array): void {
  const url = URL.createObjectURL(new Blob([bytes as BlobPart], { type: 'application/zip' }));
  const a = document.createElement('a');
  a.href = url;
  a.download = name;
  a.click();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}

function exportReport(g: FairGroup): void {
  const s = useAppStore.getState();
  const first = s.runs.find((r) => r.fair?.group === g.group);
  if (!first) return;
  const c = first.spec.config;
  const model = s.model.state === 'ready' ? s.model.summary.name : 'model';
  const data = s.datasets.find((d) => d.id === first.spec.datasetId)?.name ?? first.spec.datasetId;
  const files = reportFiles(
    {
      model,
      data,
      methods: g.rows.map((r) => r.method),
      steps: c.steps,
      batch: c.batch,
      seqLen: c.seqLen,
      seeds: Math.max(0, ...Object.values(g.started)),
      gridDecades: first.fair?.decades ?? null,
      command: `the page: Fair comparison${first.fair?.decades ? `, LR sweep k = ${first.fair.decades.join(',')}` : ''}, ${c.steps} steps × batch ${c.batch} × ${c.seqLen} tokens, ${data}`,
    },
    g.runs,
  );
  downloadBytes(`${g.group}-report.zip`, zipFiles(files, g.group));
}

export const FairTable = memo(function FairTable() {
  const { runs, metrics } = useThrottledStore((s) => ({ runs: s.runs, metrics: s.metrics }), 500, 120);
  const groups = useMemo(() => fairGroups(runs, metrics), [runs, metrics]);
  if (groups.length === 0) return null;
  return (
    <div className="fair-tables">
      {groups.map((g) => (
        <div key={g.group} data-testid="fair-table" data-group={g.group} data-live={g.live}>
          <h3 className="chart-title">
            Fair comparison: mean ± sd over seeds{g.live ? ' (running)' : ''}{' '}
            <button
              type="button"
              className="small"
              data-testid="export-report"
              onClick={() => exportReport(g)}
            >
              Export report
            </button>
          </h3>
          <table className="compare fair">
            <thead>
              <tr>
                <th title="PEFT method (its colour: its first run's)">method</th>
                <th title="The learning rate of the seeded runs: the sweep's pick (lowest final eval loss)">
                  lr
                </th>
                <th title="Seeded runs finished of those started">seeds</th>
                <th title="Final eval loss, mean ± sample sd over the seeds">eval loss</th>
                <th title="Greedy completions equal to the reference, end-of-sequence included, mean ± sd over the seeds">
                  exact match %
                </th>
                <th title="Parameters the method trains">trained params</th>
                <th title="Largest peak GPU memory over the seeds">peak (MiB)</th>
                <th title="Training tokens per second, steady state, mean over the seeds">tokens /s</th>
                <th title="Forward of batch 1 × seq len as deployed (merged where possible), mean of the runs measured on their cards">
                  latency (ms)
                </th>
              </tr>
            </thead>
            <tbody>
              {g.rows.map((r) => (
                <tr
                  key={r.method}
                  data-method={r.method}
                  style={
                    { '--run-color': COLORS[(g.firstIndex[r.method] ?? 0) % COLORS.length] } as CSSProperties
                  }
                >
                  <td>
                    <span className="swatch-run" aria-hidden="true" />
                    {r.method}
                  </td>
                  <td>{r.lr}</td>
                  <td>
                    {r.seeds}/{g.started[r.method] ?? 0}
                  </td>
                  <td data-col="evalLoss">{meanSd(r.eval_loss_mean, r.eval_loss_sd, 3)}</td>
                  <td data-col="exactMatch">
                    {meanSd(
                      r.exact_match_mean === null ? null : 100 * r.exact_match_mean,
                      r.exact_match_sd === null ? null : 100 * r.exact_match_sd,
                      1,
                    )}
                  </td>
                  <td>{r.trainable_params.toLocaleString('en-US')}</td>
                  <td>{(r.peak_bytes / 2 ** 20).toFixed(1)}</td>
                  <td>{r.tokens_per_s === null ? '' : r.tokens_per_s.toFixed(0)}</td>
                  <td>{r.latency_ms === null ? '' : r.latency_ms.toFixed(1)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      ))}
    </div>
  );
});
