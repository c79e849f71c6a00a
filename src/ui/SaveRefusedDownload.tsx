// The download offered on a run whose checkpoint (or record) the browser refused to store, a full quota
// say: the run lives only in this page's worker, so its trained adapter is one click away as adapter.zip
// (the worker builds it from the run in memory, as Export adapter does). Shown while this tab's worker holds
// the run: not for a run interrupted by a reload (its weights are gone with the old worker) or trained in
// another tab.
import { exportAdapter } from '../app/engine';
import { saveWasRefused } from '../app/storage-errors';
import type { RunRecord } from '../store/runs';

export function SaveRefusedDownload({ run, name }: { run: RunRecord; name?: string }) {
  if (!saveWasRefused(run.message)) return null;
  if (run.state === 'interrupted' || run.state === 'elsewhere') return null;
  return (
    <p className="save-refused" role="alert" data-testid="save-refused">
      Not saved in this browser: the run is kept in memory only.{' '}
      <button
        type="button"
        data-testid="save-refused-download"
        onClick={() => exportAdapter(run.spec.id, name)}
      >
        Download its adapter now
      </button>
    </p>
  );
}
