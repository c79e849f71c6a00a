// Node-only ByteSource over a file on disk (the CLI's `--model DIR`, tests): reads ranges with a
// file handle so a multi-gigabyte checkpoint is never read whole. Kept out of safetensors.ts so the
// browser bundle never sees node:fs.
import { open } from 'node:fs/promises';
import { basename } from 'node:path';
import type { ByteSource } from './safetensors';

/** Opens `path` for ranged reads; the handle is opened per read, so nothing needs closing. */
export async function fileSource(path: string, name: string = basename(path)): Promise<ByteSource> {
  const fh = await open(path, 'r');
  const size = (await fh.stat()).size;
  await fh.close();
  return {
    name,
    size,
    read: async (begin, end) => {
      const len = Math.max(0, Math.min(end, size) - begin);
      const buf = new Uint8Array(len);
      const h = await open(path, 'r');
      try {
        let done = 0;
        while (done < len) {
          const { bytesRead } = await h.read(buf, done, len - done, begin + done);
          if (bytesRead === 0) break;
          done += bytesRead;
        }
        return done === len ? buf : buf.subarray(0, done);
      } finally {
        await h.close();
      }
    },
  };
}
