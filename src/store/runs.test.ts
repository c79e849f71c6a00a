// Deleting one run in the store (its record and its points, the others untouched), which saved dataset copy
// may go with it, the figures an export's model card gets from a run's record and points, and which runs
// Resume continues from a checkpoint.
import { describe, expect, it } from 'vitest';
import type { MetricPoint } from '../train/sft-config';
import { useAppStore } from '.';
import { canResumeFromCheckpoint, datasetCopyToDrop, exportFactsOf, type RunRecord } from './runs';

const run = (id: string, datasetId: string, state: RunRecord['state'] = 'done'): RunRecord =>
  ({
    spec: { id, label: 'lora', datasetId },
    method: 'lora',
    methodLabel: 'LoRA',
    state,
    predicted: null,
    weightBytes: 0,
    createdAt: 0,
    memory: null,
    etaS: null,
  }) as unknown as RunRecord;

const point = (step: number, loss: number | null, evalLoss: number | null): MetricPoint =>
  ({ step, tokens: 0, timeMs: 0, loss, evalLoss, lr: 0, tokensPerS: 0 }) as MetricPoint;

describe('deleting one run', () => {
  it('removeRun and dropMetrics take that run out and leave the others as they were', () => {
    const s = useAppStore.getState();
    s.setRuns([run('a', 'd1'), run('b', 'd1')]);
    s.setMetrics({ a: [point(1, 2, null)], b: [point(1, 3, null)] });
    const bBefore = useAppStore.getState().metrics.b;
    useAppStore.getState().removeRun('a');
    useAppStore.getState().dropMetrics('a');
    const after = useAppStore.getState();
    expect(after.runs.map((r) => r.spec.id)).toEqual(['b']);
    expect(Object.keys(after.metrics)).toEqual(['b']);
    expect(after.metrics.b).toBe(bBefore);
  });

  it('the dataset copy goes only when no other run trained on it and the page no longer holds it', () => {
    const runs = [run('a', 'd1'), run('b', 'd1'), run('c', 'd2')];
    expect(datasetCopyToDrop(runs, 'a', [])).toBeUndefined();
    expect(datasetCopyToDrop(runs, 'c', [])).toBe('d2');
    expect(datasetCopyToDrop(runs, 'c', ['d2'])).toBeUndefined();
    expect(datasetCopyToDrop(runs, 'missing', [])).toBeUndefined();
  });
});

describe('exportFactsOf', () => {
  it('the last logged train and eval loss, the last step, and the measured results first', () => {
    const r = run('a', 'd1');
    const pts = [point(1, 5, 6), point(2, 4, null), point(3, null, 3.5)];
    expect(exportFactsOf(r, pts, 'lora-2', 'plurals.jsonl')).toEqual({
      name: 'lora-2',
      dataset: 'plurals.jsonl',
      steps: 3,
      trainLoss: 4,
      evalLoss: 3.5,
      exactMatch: null,
    });
    const measured = { ...r, results: { evalLoss: 3.25, exactMatch: 0.5 } };
    expect(exportFactsOf(measured, pts, 'lora')).toMatchObject({ evalLoss: 3.25, exactMatch: 0.5 });
  });
});

describe('resuming from a checkpoint', () => {
  it('is offered for a run interrupted by a reload or ended by a lost device, and no other', () => {
    const states: RunRecord['state'][] = [
      'queued',
      'loading',
      'running',
      'paused',
      'done',
      'stopped',
      'error',
      'interrupted',
      'elsewhere',
    ];
    const offered = states.filter((state) => canResumeFromCheckpoint({ state }));
    expect(offered).toEqual(['interrupted']);
    const lost = states.filter((state) => canResumeFromCheckpoint({ state, resumable: true }));
    expect(lost).toEqual(['error', 'interrupted']);
  });
});
