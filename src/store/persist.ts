// Runs and their metrics in IndexedDB (through `idb`), so they come back after a reload. A run that was
// still training when the page went away comes back as "interrupted"; the worker keeps its checkpoints
// (src/worker/checkpoints.ts), so it can resume from the last one.
import { type DBSchema, type IDBPDatabase, openDB } from 'idb';
import type { MetricPoint } from '../train/sft-config';
import type { RunState } from '../worker/protocol';
import type { RunRecord } from './runs';

/** A dataset file the user dropped, kept so a reload offers it again (the Blob stays on disk, not in memory). */
export interface SavedDatasetFile {
  id: string;
  name: string;
  file: Blob;
  addedAt: number;
}

interface PlaygroundDb extends DBSchema {
  runs: { key: string; value: RunRecord };
  metrics: { key: string; value: { runId: string; points: MetricPoint[] } };
  datasets: { key: string; value: SavedDatasetFile };
}

let db: Promise<IDBPDatabase<PlaygroundDb>> | null = null;

function open(): Promise<IDBPDatabase<PlaygroundDb>> {
  db ??= openDB<PlaygroundDb>('peft-playground', 2, {
    upgrade(d, oldVersion) {
      if (oldVersion < 1) {
        d.createObjectStore('runs', { keyPath: 'spec.id' });
        d.createObjectStore('metrics', { keyPath: 'runId' });
      }
      // Version 2: dropped dataset files survive a reload.
      if (oldVersion < 2) d.createObjectStore('datasets', { keyPath: 'id' });
    },
  });
  return db;
}

/** Keeps `d`; an older file of the same name is replaced (dropping a file again does not pile up copies). */
export async function saveDatasetFile(d: SavedDatasetFile): Promise<void> {
  const tx = (await open()).transaction('datasets', 'readwrite');
  const older = (await tx.store.getAll()).filter((x) => x.name === d.name && x.id !== d.id);
  await Promise.all([...older.map((x) => tx.store.delete(x.id)), tx.store.put(d), tx.done]);
}

/** Every dropped dataset file kept, oldest first. */
export async function loadDatasetFiles(): Promise<SavedDatasetFile[]> {
  return (await (await open()).getAll('datasets')).sort((a, b) => a.addedAt - b.addedAt);
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

// ---- settings: the form's choices, kept across reloads ---------------------------------------------------

/**
 * The store's fields that are the user's settings (methods ticked with their options, hyperparameters, the
 * fair comparison's settings, the algorithm and its forms, the memory budget, generation settings, the
 * chart's x axis and the table's sort), saved in localStorage (small, read synchronously before the first
 * render, so the page opens with them). Runs, metrics and datasets are IndexedDB's.
 */
export const SETTINGS_KEYS = [
  'methods',
  'hyper',
  'fair',
  'algorithm',
  'rlForm',
  'rewardForm',
  'budgetBytes',
  'sampling',
  'genPrompt',
  'xAxis',
  'sort',
] as const;
export type SettingsKey = (typeof SETTINGS_KEYS)[number];

const SETTINGS_ITEM = 'peft-playground.settings.v1';

/** Where settings go; localStorage in the page, a Map in tests. */
export interface SettingsStorage {
  getItem(key: string): string | null;
  setItem(key: string, value: string): void;
}

function defaultStorage(): SettingsStorage | null {
  try {
    return typeof localStorage === 'undefined' ? null : localStorage;
  } catch {
    return null; // storage disabled (a sandboxed frame, a privacy setting)
  }
}

/** The settings part of `state` as saved. */
export function pickSettings(state: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(SETTINGS_KEYS.filter((k) => k in state).map((k) => [k, state[k]]));
}

export function saveSettings(
  state: Record<string, unknown>,
  storage: SettingsStorage | null = defaultStorage(),
): void {
  try {
    storage?.setItem(SETTINGS_ITEM, JSON.stringify(pickSettings(state)));
  } catch (e) {
    console.warn('settings not saved:', e); // quota: the page works on, the next change tries again
  }
}

/**
 * The saved settings, merged over `defaults` one level deep (a field added since the save keeps its default,
 * a field of the wrong type is dropped), so an old or hand-edited save cannot break the form.
 */
export function loadSettings<T extends Record<string, unknown>>(
  defaults: T,
  storage: SettingsStorage | null = defaultStorage(),
): Partial<T> {
  let saved: unknown;
  try {
    saved = JSON.parse(storage?.getItem(SETTINGS_ITEM) ?? 'null');
  } catch {
    return {};
  }
  if (!saved || typeof saved !== 'object') return {};
  const out: Record<string, unknown> = {};
  for (const k of SETTINGS_KEYS) {
    const v = (saved as Record<string, unknown>)[k];
    const d = defaults[k];
    if (v === undefined || d === undefined) continue;
    if (typeof v !== typeof d || Array.isArray(v) !== Array.isArray(d) || v === null) continue;
    out[k] =
      typeof d === 'object' && d !== null && !Array.isArray(d) && k !== 'methods'
        ? { ...(d as object), ...sameTypes(d as Record<string, unknown>, v as Record<string, unknown>) }
        : v;
  }
  return out as Partial<T>;
}

/** The fields of `v` whose type matches the default's (null defaults take numbers: hyper.lr). */
function sameTypes(d: Record<string, unknown>, v: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(
    Object.entries(v).filter(
      ([k, x]) =>
        !(k in d) || typeof x === typeof d[k] || (d[k] === null && (x === null || typeof x === 'number')),
    ),
  );
}
