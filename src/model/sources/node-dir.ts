// Models from a folder on disk, in Node (the CLI's --model DIR, tests). Kept apart from the other sources
// so the browser bundle never imports node:fs. Tensors are read by range from the files, never whole.
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileSource } from '../../formats/node-source';
import { type ModelFileProvider, type ModelSource, openModelFiles } from './open';

export function dirProvider(dir: string): ModelFileProvider {
  const path = (file: string) => join(dir, file);
  return {
    label: dir,
    where: path,
    text: async (file) => (existsSync(path(file)) ? readFileSync(path(file), 'utf8') : null),
    bytes: async (file, opts) => {
      if (!existsSync(path(file))) return null;
      const size = statSync(path(file)).size;
      opts.onProgress?.({ file, loadedBytes: size, totalBytes: size, cached: false, done: true });
      return fileSource(path(file), path(file));
    },
  };
}

/** A model folder in Hugging Face layout on disk. */
export function dirModelSource(dir: string): ModelSource {
  if (!existsSync(dir) || !statSync(dir).isDirectory()) {
    return {
      label: dir,
      open: () =>
        Promise.reject(
          new Error(`${dir}: no such folder (a model folder in Hugging Face layout is expected)`),
        ),
    };
  }
  const p = dirProvider(dir);
  return { label: dir, open: (opts) => openModelFiles(p, opts) };
}
