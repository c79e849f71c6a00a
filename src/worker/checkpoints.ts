// Checkpoints in IndexedDB, written and read by the training worker: per run, the flat trainable values,
// AdamW's moments, the step and counters (SftCheckpoint), plus a copy of the dataset file each run trained
// on, so a run interrupted by a reload can continue on a page whose datasets have new ids. A database of
// its own (not the page's): the two sides never contend over a version upgrade.
import { type DBSchema, type IDBPDatabase, openDB } from 'idb';
import type { PromptTemplate } from '../data/template';
import type { ColumnMapping } from '../data/types';
import type { SftCheckpoint } from '../train/sft-config';
import type { RunSpec } from './protocol';

export interface SavedDataset {
  name: string;
  /** The file: a Blob (IndexedDB keeps it as one, without reading it into memory), or its bytes. */
  bytes: Uint8Array | Blob;
  mapping?: ColumnMapping;
  onError: 'skip' | 'stop';
  /** The prompt template the page chose (absent in copies saved before templates: the mapping's default). */
  template?: PromptTemplate;
}

interface CheckpointDb extends DBSchema {
  /** spec: what the run was started with, so a finished run can be brought back after a reload. */
  checkpoints: { key: string; value: SftCheckpoint & { runId: string; savedAt: number; spec?: RunSpec } };
  datasets: { key: string; value: SavedDataset & { id: string } };
}

export const CHECKPOINT_DB = 'peft-playground-checkpoints';
let db: Promise<IDBPDatabase<CheckpointDb>> | null = null;

function open(): Promise<IDBPDatabase<CheckpointDb>> {
  db ??= openDB<CheckpointDb>(CHECKPOINT_DB, 1, {
    upgrade(d) {
      d.createObjectStore('checkpoints', { keyPath: 'runId' });
      d.createObjectStore('datasets', { keyPath: 'id' });
    },
  }).catch((e: unknown) => {
    // A refused open (storage off, a blocked upgrade) is tried again next time, not remembered forever;
    // the caller (the scheduler) reports the failed save and keeps the run in memory.
    db = null;
    throw e;
  });
  return db;
}

export async function saveCheckpoint(runId: string, ck: SftCheckpoint, spec?: RunSpec): Promise<void> {
  await (await open()).put('checkpoints', { ...ck, runId, savedAt: Date.now(), spec });
}

/** A run's spec and last checkpoint, for bringing a finished run back into a new worker; null if none. */
export async function loadSavedRun(runId: string): Promise<{ spec: RunSpec; ck: SftCheckpoint } | null> {
  const v = await (await open()).get('checkpoints', runId);
  if (!v?.spec) return null;
  const { step, tokens, activeMs, params, m, v: vv } = v;
  return { spec: v.spec, ck: { step, tokens, activeMs, params, m, v: vv } };
}

export async function loadCheckpoint(runId: string): Promise<SftCheckpoint | null> {
  const v = await (await open()).get('checkpoints', runId);
  if (!v) return null;
  const { step, tokens, activeMs, params, m, v: vv } = v;
  return { step, tokens, activeMs, params, m, v: vv };
}

export async function deleteCheckpoint(runId: string): Promise<void> {
  await (await open()).delete('checkpoints', runId);
}

export async function saveDatasetBytes(id: string, d: SavedDataset): Promise<void> {
  await (await open()).put('datasets', {
    id,
    name: d.name,
    bytes: d.bytes,
    mapping: d.mapping,
    onError: d.onError,
    template: d.template,
  });
}

export async function loadDatasetBytes(id: string): Promise<SavedDataset | null> {
  return (await (await open()).get('datasets', id)) ?? null;
}

/** Drops a run's saved dataset copy (the page asks once no run it keeps trained on that dataset). */
export async function deleteDatasetBytes(id: string): Promise<void> {
  await (await open()).delete('datasets', id);
}
