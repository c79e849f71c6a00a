// Saves to the page's IndexedDB (runs and metrics) that fail — the storage quota, storage turned off, a
// private window — are told to the user on the runs they concern, instead of ending as unhandled promise
// rejections nobody sees. The run itself is unharmed: it lives in the page and the worker; only a reload
// would lose what was not saved. Such a run's card offers its adapter as a download (ui/SaveRefusedDownload.tsx):
// saveWasRefused says which runs those are, from the sentences here and the scheduler's checkpoint notice.

/** The sentence for a failed save of `what`. */
export function notSavedMessage(what: string, e: unknown): string {
  const name = (e as { name?: string } | null)?.name;
  const why =
    name === 'QuotaExceededError'
      ? "the browser's storage for this site is full"
      : e instanceof Error
        ? e.message
        : String(e);
  return `Could not save ${what} in the browser (${why}): it is kept on this page, but a reload would lose it; export the adapter to keep the trained weights.`;
}

/**
 * Waits for `save` and, if it fails, puts the sentence on each of `runIds` through `tell` (the store's
 * patchRun); never rejects.
 */
export async function reportSaveFailure(
  save: Promise<unknown>,
  runIds: readonly string[],
  what: string,
  tell: (runId: string, message: string) => void,
): Promise<void> {
  try {
    await save;
  } catch (e) {
    const message = notSavedMessage(what, e);
    for (const id of runIds) tell(id, message);
    if (runIds.length === 0) console.warn(message);
  }
}

/**
 * Whether a run's message says something of it could not be saved in the browser: its checkpoint (the
 * scheduler's checkpointNotSaved) or its record or metrics (notSavedMessage). Such a run lives only in this
 * page's worker, so its card offers the trained adapter as a download.
 */
export function saveWasRefused(message: string | undefined): boolean {
  if (!message) return false;
  return (
    /^The checkpoint at step \d+ could not be saved \(/.test(message) ||
    /^Could not save .* in the browser \(/.test(message)
  );
}
