// Dataset files in the CLI (`--data FILE` of train, RL and eval): read with the path in every failure (a
// folder, a missing file); JSONL read in chunks (data/jsonl-stream.ts: the text never held whole, an
// oversize line dropped as it streams) with progress on stderr for large files; and the sentence for a
// dataset of which no example is usable, with the first reasons the tokenizer gave (a too-short --seq
// among them) instead of the bare count.

import { closeSync, openSync, readFileSync, readSync, statSync } from 'node:fs';
import { basename } from 'node:path';
import { JsonlStreamReader } from '../data/jsonl-stream';
import { type PreparedDataset, prepareDataset, prepareParsed } from '../data/prepare';
import type { PromptTemplate } from '../data/template';
import type { DataIssue } from '../data/types';

/** Files from this size on report their reading progress (every tenth). */
export const PROGRESS_FROM_BYTES = 32 * 2 ** 20;
const CHUNK = 4 * 2 ** 20;

/** The size of the file `path` given as `flag`; a folder or a missing file is an error naming both. */
function checkDataFile(path: string, flag: string): number {
  if (path.trim() === '') throw new Error(`${flag} is empty`);
  let st: ReturnType<typeof statSync>;
  try {
    st = statSync(path);
  } catch (e) {
    const code = (e as { code?: string }).code;
    throw new Error(`${flag} ${path}: ${code === 'ENOENT' ? 'no such file' : `cannot be read (${code})`}`);
  }
  if (st.isDirectory())
    throw new Error(
      `${flag} ${path}: is a folder; give a dataset file (.jsonl, .json, .csv, .parquet, .txt)`,
    );
  return st.size;
}

/** The bytes of `path` given as `flag`; a folder or a missing file is an error naming both. */
export function readDataFile(path: string, flag = '--data'): Uint8Array {
  checkDataFile(path, flag);
  return new Uint8Array(readFileSync(path));
}

/**
 * The dataset file as checked examples (bad rows skipped and counted). JSONL streams in chunks, saying on
 * `progress` (stderr by default) how far it got when the file is large.
 */
export async function prepareDataFile(
  path: string,
  flag = '--data',
  progress: (line: string) => void = (l) => process.stderr.write(`${l}\n`),
  /** The prompt template (data/template.ts); absent: the shape's default, as in the page. */
  template?: PromptTemplate,
): Promise<PreparedDataset> {
  const size = checkDataFile(path, flag);
  const name = basename(path);
  if (!/\.(jsonl|ndjson)$/i.test(name))
    return prepareDataset(name, readDataFile(path, flag), { onError: 'skip', template });
  const reader = new JsonlStreamReader(name, { onError: 'skip' });
  const buf = new Uint8Array(CHUNK);
  const fd = openSync(path, 'r');
  const mb = (n: number) => (n / 2 ** 20).toFixed(0);
  let next = size / 10;
  try {
    for (;;) {
      const n = readSync(fd, buf, 0, buf.length, null);
      if (n === 0) break;
      reader.push(buf.subarray(0, n));
      if (size >= PROGRESS_FROM_BYTES && reader.bytesRead >= next && reader.bytesRead < size) {
        progress(
          `reading ${path}: ${Math.round((100 * reader.bytesRead) / size)}% (${mb(reader.bytesRead)} of ${mb(size)} MB), ${reader.rows} rows, ${reader.skipped} skipped`,
        );
        next += size / 10;
      }
    }
  } finally {
    closeSync(fd);
  }
  const parsed = reader.end();
  if (size >= PROGRESS_FROM_BYTES)
    progress(`reading ${path}: 100% (${mb(size)} MB), ${parsed.rows.length} rows, ${parsed.skipped} skipped`);
  return prepareParsed(parsed, { onError: 'skip', template });
}

/** Why no training example is left: the skips with their first reasons, or the eval split took them all. */
export function noUsableExamples(
  path: string,
  examples: number,
  skipped: { skipped: number; issues: readonly DataIssue[] },
  heldOut: number,
): string {
  if (skipped.skipped > 0) {
    const first = skipped.issues.slice(0, 3).map((i) => i.message);
    return `${path}: no usable training examples: ${skipped.skipped} of ${examples} skipped; the first: ${first.join('; ')}`;
  }
  if (heldOut > 0)
    return `${path}: no usable training examples: all ${heldOut} went to the eval split; lower --eval-fraction or add data`;
  return `${path}: no usable training examples`;
}
