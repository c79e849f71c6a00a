// Where the page keeps the autotune's kernel choices (gpu/autotune.ts) between visits: IndexedDB, which the
// training worker can reach (localStorage cannot be: workers have none). A database of its own, one store
// of adapter key → choice JSON. Any failure (storage off, private mode, a blocked open) reads as "not
// cached": the cost is one more tune, never a failed start.
import { type DBSchema, type IDBPDatabase, openDB } from 'idb';
import type { AutotuneCache } from '../gpu/autotune';

interface TuneDb extends DBSchema {
  choices: { key: string; value: string };
}

export const AUTOTUNE_DB = 'peft-playground-autotune';

export function indexedDbAutotuneCache(name = AUTOTUNE_DB): AutotuneCache {
  let db: Promise<IDBPDatabase<TuneDb>> | null = null;
  const open = () => {
    db ??= openDB<TuneDb>(name, 1, {
      upgrade(d) {
        d.createObjectStore('choices');
      },
    }).catch((e: unknown) => {
      db = null;
      throw e;
    });
    return db;
  };
  return {
    async get(key) {
      try {
        return (await (await open()).get('choices', key)) ?? null;
      } catch {
        return null;
      }
    },
    async set(key, value) {
      try {
        await (await open()).put('choices', value, key);
      } catch {
        // Not kept: the next start tunes again.
      }
    },
  };
}
