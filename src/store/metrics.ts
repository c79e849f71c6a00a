// The metrics slice: every logged point per run. Points arrive from the worker in batches; one batch is
// one store update (points appended, and each run's latest memory and time left patched in the same set()),
// so a worker message notifies subscribers once. Only the runs that changed get new arrays, so a selector
// for one run re-renders only when its data changed. The per-run arrays are arrays of references; copying
// one per batch (a few hundred pointers) is far below anything the page can feel.
import type { StateCreator } from 'zustand';
import type { ByCategory } from '../gpu/arena';
import type { MetricPoint } from '../train/sft-config';
import type { RunsSlice } from './runs';

export interface MetricsBatchItem {
  runId: string;
  points: MetricPoint[];
  /** When given, the run record's `memory` and `etaS` are updated in the same store update. */
  memory?: ByCategory | null;
  etaS?: number | null;
}

export interface MetricsSlice {
  metrics: Record<string, MetricPoint[]>;
  appendMetrics: (batch: readonly MetricsBatchItem[]) => void;
  setMetrics: (m: Record<string, MetricPoint[]>) => void;
  /** Drops one run's points (the run was deleted). */
  dropMetrics: (runId: string) => void;
}

export const createMetricsSlice: StateCreator<MetricsSlice & RunsSlice, [], [], MetricsSlice> = (set) => ({
  metrics: {},
  appendMetrics: (batch) =>
    set((s) => {
      const next = { ...s.metrics };
      const live = new Map<string, MetricsBatchItem>();
      for (const b of batch) {
        next[b.runId] = (next[b.runId] ?? []).concat(b.points);
        if (b.memory !== undefined || b.etaS !== undefined) live.set(b.runId, b);
      }
      if (live.size === 0) return { metrics: next };
      const runs = s.runs.map((r) => {
        const b = live.get(r.spec.id);
        if (!b) return r;
        return {
          ...r,
          memory: b.memory !== undefined ? b.memory : r.memory,
          etaS: b.etaS !== undefined ? b.etaS : r.etaS,
        };
      });
      return { metrics: next, runs };
    }),
  setMetrics: (metrics) => set({ metrics }),
  dropMetrics: (runId) =>
    set((s) => {
      const { [runId]: _, ...rest } = s.metrics;
      return { metrics: rest };
    }),
});
