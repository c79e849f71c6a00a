// Dataset files in the CLI (`--data FILE` of train, RL and eval): read with the path in every failure (a
// folder, a missing file), and the sentence for a dataset of which no example is usable, with the first
// reasons the tokenizer gave (a too-short --seq among them) instead of the bare count.

import { readFileSync, statSync } from 'node:fs';
import type { DataIssue } from '../data/types';

/** The bytes of `path` given as `flag`; a folder or a missing file is an error naming both. */
export function readDataFile(path: string, flag = '--data'): Uint8Array {
  if (path.trim() === '') throw new Error(`${flag} is empty`);
  let isDir: boolean;
  try {
    isDir = statSync(path).isDirectory();
  } catch (e) {
    const code = (e as { code?: string }).code;
    throw new Error(`${flag} ${path}: ${code === 'ENOENT' ? 'no such file' : `cannot be read (${code})`}`);
  }
  if (isDir)
    throw new Error(
      `${flag} ${path}: is a folder; give a dataset file (.jsonl, .json, .csv, .parquet, .txt)`,
    );
  return new Uint8Array(readFileSync(path));
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
