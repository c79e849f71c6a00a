// Runs and their metrics in IndexedDB (through `idb`), so they come back after a reload. A run that was
// still training when the page went away comes back as "interrupted"; the worker keeps its checkpoints
// (src/worker/checkpoints.ts), so it can resume from the last one.
import { type DBSchema, type IDBPDatabase, openDB } from 'idb';
import type { MetricPoint } from '../train/sft-config';
import type { RunState } from '../worker/protocol';
import type { RunRecord } from './runs';

interface PlaygroundDb extends DBSchema {
  runs: { key: string; value: RunRecord };
  metrics: { key: string; value: { runId: string; points: MetricPoint[] } };
}

let db: Promise<IDBPDatabase<PlaygroundDb>> | null = null;

function open(): Promise<IDBPDatabase<PlaygroundDb>> {
  db ??= openDB<PlaygroundDb>('peft-playground', 1, {
    upgrade(d) {
      d.createObjectStore('runs', { keyPath: 'spec.id' });
      d.createObjectStore('metrics', { keyPath: 'runId' });
    },
  });
  return db;
}

export async function saveRuns(runs: readonly RunRecord[]): Promise<void> {
  const d = await open();
  const tx = d.transaction('runs', 'readwrite');
  // A run another tab trains is written by that tab only (this tab's copy is stale).
  const mine = runs.filter((r) => r.state !== 'elsewhere');
  await Promise.all([...mine.map((r) => tx.store.put(r)), tx.done]);
}

export async function saveMetrics(runId: string, points: MetricPoint[]): Promise<void> {
  await (await open()).put('metrics', { runId, points });
}

/** States in which a run is being trained by some tab's worker. */
export const LIVE_STATES: ReadonlySet<RunState> = new Set<RunState>([
  'queued',
  'loading',
  'running',
  'paused',
]);

/** Everything saved, oldest run first; live runs marked interrupted. */
export async function loadSaved(): Promise<{ runs: RunRecord[]; metrics: Record<string, MetricPoint[]> }> {
  const d = await open();
  const runs = (await d.getAll('runs')).sort((a, b) => a.createdAt - b.createdAt);
  const metrics: Record<string, MetricPoint[]> = {};
  for (const m of await d.getAll('metrics')) metrics[m.runId] = m.points;
  return {
    runs: runs.map((r) =>
      LIVE_STATES.has(r.state)
        ? {
            ...r,
            state: 'interrupted',
            message:
              'Interrupted by a page reload; its metrics are kept. Resume continues from its last checkpoint.',
            etaS: null,
          }
        : r,
    ),
    metrics,
  };
}

export async function clearSaved(): Promise<void> {
  const d = await open();
  await Promise.all([d.clear('runs'), d.clear('metrics')]);
}

/** Deletes one run's record and points, so a reload does not bring it back. */
export async function deleteSaved(runId: string): Promise<void> {
  const d = await open();
  const tx = d.transaction(['runs', 'metrics'], 'readwrite');
  await Promise.all([tx.objectStore('runs').delete(runId), tx.objectStore('metrics').delete(runId), tx.done]);
}
