// Which tab trains which run. Every tab of the page shares one IndexedDB, so a second tab reads the first
// tab's live runs; without this it would show them as "interrupted by a reload" and offer to resume them,
// and two tabs would then train one run, both writing its checkpoint and record. A tab holds a Web Lock
// named after each run while its worker has that run live (queued, loading, running, paused), and drops
// it when the run ends; a tab that loads saved runs asks which of those locks another tab holds. Where the
// browser has no Web Locks, nothing is held and every saved live run counts as interrupted, as before.

const PREFIX = 'peft-playground-run:';

interface LockManagerLike {
  request(name: string, opts: { mode: 'exclusive' }, cb: () => Promise<void>): Promise<void>;
  query(): Promise<{ held?: { name?: string }[] }>;
}

const locks = (): LockManagerLike | null =>
  (globalThis.navigator as { locks?: LockManagerLike } | undefined)?.locks ?? null;

/** Release functions of the locks this tab holds, by run id. */
const held = new Map<string, () => void>();

/** Holds the run's lock until `releaseRun` (idempotent). */
export function holdRun(runId: string): void {
  const l = locks();
  if (!l || held.has(runId)) return;
  let release: () => void = () => undefined;
  const until = new Promise<void>((r) => {
    release = r;
  });
  held.set(runId, release);
  void l.request(`${PREFIX}${runId}`, { mode: 'exclusive' }, () => until).catch(() => held.delete(runId));
}

export function releaseRun(runId: string): void {
  held.get(runId)?.();
  held.delete(runId);
}

/** Run ids whose lock a tab other than this one holds (this tab holds none of them at load). */
export async function runsTrainedElsewhere(): Promise<Set<string>> {
  const l = locks();
  if (!l) return new Set();
  const { held: h = [] } = await l.query();
  const out = new Set<string>();
  for (const { name } of h)
    if (name?.startsWith(PREFIX) && !held.has(name.slice(PREFIX.length))) out.add(name.slice(PREFIX.length));
  return out;
}
