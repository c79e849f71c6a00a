// Inference latency of a paused or finished run on the page's device: ms per forward of [1, seqLen] for the
// base model, the model with the adapter unmerged, and merged where the method merges
// (measureInferenceLatency), sent as the run's results.
import type { DeviceLease } from './device';
import { errorMessage } from './model';
import type { FromWorker } from './protocol';
import type { TrainingRunner } from './rl-runs';
import type { Scheduler } from './scheduler';

export async function measureLatency(
  runId: string,
  scheduler: Scheduler<DeviceLease, TrainingRunner>,
  post: (m: FromWorker) => void,
): Promise<void> {
  try {
    const { measureInferenceLatency } = await import('../train/latency');
    const lat = await scheduler.exclusive(runId, (run, r) =>
      measureInferenceLatency(r.ctx, r.config, r.ps, r.adapter, { B: 1, T: run.spec.config.seqLen }, 5),
    );
    post({
      type: 'runResults',
      runId,
      results: { latency: { baseMs: lat.baseMs, unmergedMs: lat.unmergedMs, mergedMs: lat.mergedMs } },
    });
  } catch (e) {
    post({ type: 'runError', runId, message: `latency: ${errorMessage(e)}` });
  }
}
