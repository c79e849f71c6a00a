// The throttled-read helpers (pure parts) and the metrics slice's one-update-per-batch append.
import { describe, expect, it } from 'vitest';
import { useAppStore } from '../store';
import type { RunRecord } from '../store/runs';
import type { MetricPoint } from '../train/sft-config';
import { downsample, shallowEqual } from './throttled';

describe('downsample', () => {
  it('keeps short series whole and caps long ones, first and last kept', () => {
    expect(downsample([1, 2, 3], 300)).toEqual([1, 2, 3]);
    const long = Array.from({ length: 1001 }, (_, i) => i);
    const d = downsample(long, 300);
    expect(d.length).toBeLessThanOrEqual(300);
    expect(d[0]).toBe(0);
    expect(d[d.length - 1]).toBe(1000);
    // Evenly strided: every gap but the last is the same.
    const gaps = d.slice(1).map((v, i) => v - d[i]);
    expect(new Set(gaps.slice(0, -1)).size).toBe(1);
  });
});

describe('shallowEqual', () => {
  it('compares values by identity, key by key', () => {
    const m = {};
    expect(shallowEqual({ a: m, b: 'x' }, { a: m, b: 'x' })).toBe(true);
    expect(shallowEqual({ a: m }, { a: {} })).toBe(false);
    expect(shallowEqual({ a: 1 }, { a: 1, b: 2 } as { a: number })).toBe(false);
  });
});

describe('appendMetrics', () => {
  it('appends points and patches memory and time left in a single store update', () => {
    const run = { spec: { id: 'r1' }, memory: null, etaS: null } as unknown as RunRecord;
    useAppStore.setState({ runs: [run], metrics: {} });
    let notified = 0;
    const unsub = useAppStore.subscribe(() => notified++);
    const p = { step: 1 } as MetricPoint;
    const memory = { frozen: 1 } as unknown as RunRecord['memory'];
    useAppStore.getState().appendMetrics([{ runId: 'r1', points: [p], memory, etaS: 3 }]);
    unsub();
    const s = useAppStore.getState();
    expect(notified).toBe(1);
    expect(s.metrics.r1).toEqual([p]);
    expect(s.runs[0].memory).toBe(memory);
    expect(s.runs[0].etaS).toBe(3);
  });
});
