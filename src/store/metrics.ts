// The metrics slice: every logged point per run. Points arrive from the worker in batches and are
// appended in one update; only the runs that changed get new arrays, so a chart's selector for one run
// (or the table's) re-renders only when its data changed.
import type { StateCreator } from 'zustand';
import type { MetricPoint } from '../train/sft-config';

export interface MetricsSlice {
  metrics: Record<string, MetricPoint[]>;
  appendMetrics: (batch: { runId: string; points: MetricPoint[] }[]) => void;
  setMetrics: (m: Record<string, MetricPoint[]>) => void;
}

export const createMetricsSlice: StateCreator<MetricsSlice, [], [], MetricsSlice> = (set) => ({
  metrics: {},
  appendMetrics: (batch) =>
    set((s) => {
      const next = { ...s.metrics };
      for (const { runId, points } of batch) next[runId] = [...(next[runId] ?? []), ...points];
      return { metrics: next };
    }),
  setMetrics: (metrics) => set({ metrics }),
});
