// Output files of the CLI's commands: the output folder checked (creatable, writable) before any work,
// and every file written to a temporary name in its folder and renamed into place, so a crash or Ctrl-C
// leaves the old file or the new one, never half of one.

import {
  accessSync,
  constants,
  existsSync,
  mkdirSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { dirname, join, resolve } from 'node:path';

/** Writes `data` to `path` through a temporary file in the same folder and a rename. */
export function writeFileAtomic(path: string, data: string | Uint8Array): void {
  const tmp = join(dirname(path), `.${Date.now()}-${process.pid}.tmp`);
  try {
    writeFileSync(tmp, data);
    renameSync(tmp, path);
  } catch (e) {
    rmSync(tmp, { force: true });
    throw new Error(`${path}: could not be written (${e instanceof Error ? e.message : String(e)})`);
  }
}

/**
 * Makes sure `dir` (the value of `flag`) can take the output, before anything is trained: creates it if
 * absent, and proves it writable by writing and removing a probe file. Returns it resolved.
 */
export function prepareOutDir(dir: string, flag = '--out'): string {
  if (dir.trim() === '') throw new Error(`${flag} is empty`);
  const abs = resolve(dir);
  if (existsSync(abs) && !statSync(abs).isDirectory())
    throw new Error(`${flag} ${dir}: exists and is not a folder`);
  try {
    mkdirSync(abs, { recursive: true });
    accessSync(abs, constants.W_OK);
    const probe = join(abs, `.probe-${process.pid}`);
    writeFileSync(probe, '');
    rmSync(probe);
  } catch (e) {
    const code = (e as { code?: string }).code;
    throw new Error(
      `${flag} ${dir}: cannot write there (${code ?? (e as Error).message}), checked before any work`,
    );
  }
  return abs;
}
