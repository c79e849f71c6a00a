// Dataset files in the CLI (`--data FILE` of train, RL and eval): read with the path in every failure (a
// folder, a missing file); every format read in chunks (data/stream-parse.ts, or data/ingest.ts to keep
// only tokens: the text never held whole, an oversize row dropped and counted with its line as it
// streams) with progress on stderr for large files; and the sentence for a
// dataset of which no example is usable, with the first reasons the tokenizer gave (a too-short --seq
// among them) instead of the bare count.

import { openAsBlob, readFileSync, statSync } from 'node:fs';
import { basename } from 'node:path';
import { type IngestedDataset, ingestDataset } from '../data/ingest';
import { type PreparedDataset, prepareParsed } from '../data/prepare';
import { type StreamProgress, streamParse } from '../data/stream-parse';
import type { PromptTemplate } from '../data/template';
import type { TextTokenizer } from '../data/tokenize';
import type { DataIssue } from '../data/types';

/** Files from this size on report their reading progress (every tenth). */
export const PROGRESS_FROM_BYTES = 32 * 2 ** 20;

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

/** Says how far the reading got, every tenth of a file from PROGRESS_FROM_BYTES on, and at its end. */
function progressLine(
  path: string,
  size: number,
  say: (line: string) => void,
): { tell: (p: StreamProgress) => void; done: (rows: number, skipped: number) => void } {
  const mb = (n: number) => (n / 2 ** 20).toFixed(0);
  let next = size / 10;
  return {
    tell: (p) => {
      if (size < PROGRESS_FROM_BYTES || p.bytesDone < next || p.bytesDone >= size) return;
      say(
        `reading ${path}: ${Math.round((100 * p.bytesDone) / size)}% (${mb(p.bytesDone)} of ${mb(size)} MB), ${p.rows} rows, ${p.skipped} skipped`,
      );
      while (next <= p.bytesDone) next += size / 10;
    },
    done: (rows, skipped) => {
      if (size >= PROGRESS_FROM_BYTES)
        say(`reading ${path}: 100% (${mb(size)} MB), ${rows} rows, ${skipped} skipped`);
    },
  };
}

const stderrLine = (l: string) => process.stderr.write(`${l}\n`);

/**
 * The dataset file as checked examples (bad rows skipped and counted). Every format is read in chunks
 * (data/stream-parse.ts: the text never held whole, an oversize row dropped as it streams), saying on
 * `progress` (stderr by default) how far it got when the file is large. The rows and examples are held:
 * for a run on a large file, ingestDataFile keeps only their tokens.
 */
export async function prepareDataFile(
  path: string,
  flag = '--data',
  progress: (line: string) => void = stderrLine,
  /** The prompt template (data/template.ts); absent: the shape's default, as in the page. */
  template?: PromptTemplate,
): Promise<PreparedDataset> {
  const size = checkDataFile(path, flag);
  const line = progressLine(path, size, progress);
  const parsed = await streamParse(basename(path), await openAsBlob(path), {
    onError: 'skip',
    onProgress: line.tell,
  });
  line.done(parsed.rows.length, parsed.skipped);
  return prepareParsed(parsed, { onError: 'skip', template });
}

/**
 * The dataset file read, checked and tokenised in chunks (data/ingest.ts, as the page's worker does):
 * what stays is its token arena (train/sft-data.ts's sftDataFromArena makes a run's rows from it), the
 * first rows and the counts, so a large file is trained on without its text, rows or examples held.
 * `tokenizer` is the data tokenizer (train/tokenizer-adapter.ts's dataTokenizer).
 */
export async function ingestDataFile(
  path: string,
  tokenizer: TextTokenizer,
  o: { flag?: string; progress?: (line: string) => void; template?: PromptTemplate } = {},
): Promise<IngestedDataset> {
  const size = checkDataFile(path, o.flag ?? '--data');
  const line = progressLine(path, size, o.progress ?? stderrLine);
  const ing = await ingestDataset(basename(path), await openAsBlob(path), {
    onError: 'skip',
    template: o.template,
    tokenizer,
    onProgress: line.tell,
  });
  line.done(ing.rows, ing.skipped);
  return ing;
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
