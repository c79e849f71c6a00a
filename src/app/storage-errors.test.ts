// A failed save of runs or metrics (a full quota) becomes a sentence on the runs it concerns; a save that
// works says nothing; neither rejects (no unhandled rejection reaches the page). The messages of a refused
// save (a checkpoint, a record, metrics) are known as such, so the run's card offers the adapter's download.
import { describe, expect, it } from 'vitest';
import { checkpointNotSaved } from '../worker/scheduler';
import { notSavedMessage, reportSaveFailure, saveWasRefused } from './storage-errors';

describe('saves that fail are told, not thrown', () => {
  it('a quota error on the runs it concerns; success silent', async () => {
    const told: [string, string][] = [];
    const tell = (id: string, m: string) => told.push([id, m]);
    await reportSaveFailure(
      Promise.reject(new DOMException('q', 'QuotaExceededError')),
      ['a', 'b'],
      'the metrics',
      tell,
    );
    const m =
      "Could not save the metrics in the browser (the browser's storage for this site is full): it is kept on this page, but a reload would lose it; export the adapter to keep the trained weights.";
    expect(told).toEqual([
      ['a', m],
      ['b', m],
    ]);
    told.length = 0;
    await reportSaveFailure(Promise.resolve(), ['a'], 'the run', tell);
    expect(told).toEqual([]);
    await expect(
      reportSaveFailure(Promise.reject(new Error('closed')), ['c'], 'the run', tell),
    ).resolves.toBeUndefined();
    expect(told[0][1]).toMatch(/^Could not save the run in the browser \(closed\)/);
  });

  it('knows the messages of a refused save, and only those', () => {
    const quota = new DOMException('q', 'QuotaExceededError');
    expect(saveWasRefused(checkpointNotSaved(12, quota))).toBe(true);
    expect(saveWasRefused(checkpointNotSaved(3, new Error('the database is closed')))).toBe(true);
    expect(saveWasRefused(notSavedMessage('this run', quota))).toBe(true);
    expect(saveWasRefused(notSavedMessage("this run's metrics", new Error('x')))).toBe(true);
    for (const other of [
      undefined,
      '',
      'Resumed from the checkpoint at step 4.',
      'export: the run is no longer held',
      'The GPU device was lost (destroyed: x). Work finished before this point is kept.',
    ])
      expect(saveWasRefused(other)).toBe(false);
  });
});
