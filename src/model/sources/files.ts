// Models from files the user dropped or picked in the browser: loose files, or a whole folder through
// <input webkitdirectory> / a drop (each File then carries webkitRelativePath "folder/sub/file"). Files
// are matched by name; when a folder holds the same name twice (a checkpoint-500/ subfolder beside the
// final weights), the shallowest wins, as the top of a Hugging Face folder is the model. Nothing is read
// until asked for: tensors come through Blob.slice, so a large checkpoint is never read whole.
import { blobSource } from '../../formats/safetensors';
import { type ModelFileProvider, type ModelSource, type OpenOptions, openModelFiles } from './open';

/** A File, or anything shaped like one (tests in Node build these from Blobs). */
export interface FileLike extends Blob {
  readonly name: string;
  readonly webkitRelativePath?: string;
}

function depth(f: FileLike): number {
  return f.webkitRelativePath ? f.webkitRelativePath.split('/').length - 1 : 0;
}

export function filesProvider(files: readonly FileLike[]): ModelFileProvider {
  const byName = new Map<string, FileLike>();
  for (const f of files) {
    const seen = byName.get(f.name);
    if (!seen || depth(f) < depth(seen)) byName.set(f.name, f);
  }
  const top = files.find((f) => f.webkitRelativePath)?.webkitRelativePath?.split('/')[0];
  const label = top ? `folder "${top}"` : 'the dropped files';
  const pathOf = (file: string) => byName.get(file)?.webkitRelativePath || file;
  return {
    label,
    where: (file) => (top ? pathOf(file) : file),
    text: async (file) => {
      const f = byName.get(file);
      return f ? f.text() : null;
    },
    bytes: async (file, opts: OpenOptions) => {
      const f = byName.get(file);
      if (!f) return null;
      opts.onProgress?.({ file, loadedBytes: f.size, totalBytes: f.size, cached: false, done: true });
      return blobSource(f, pathOf(file));
    },
  };
}

/** A model from dropped or picked files (a folder's files, or loose ones). */
export function filesModelSource(files: readonly FileLike[]): ModelSource {
  const p = filesProvider(files);
  return { label: p.label, open: (opts) => openModelFiles(p, opts) };
}
