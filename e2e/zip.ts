// Reads the stored (uncompressed) zips the page exports, from their local headers: enough for the specs to
// check an export's folder and files without a dependency.

/** Path inside the archive → bytes. */
export function unzipStored(bytes: Buffer): Map<string, Buffer> {
  const out = new Map<string, Buffer>();
  let at = 0;
  while (at + 30 <= bytes.length && bytes.readUInt32LE(at) === 0x04034b50) {
    if (bytes.readUInt16LE(at + 8) !== 0) throw new Error('zip: only stored entries are expected');
    const size = bytes.readUInt32LE(at + 18);
    const nameLen = bytes.readUInt16LE(at + 26);
    const extra = bytes.readUInt16LE(at + 28);
    const name = bytes.subarray(at + 30, at + 30 + nameLen).toString('utf8');
    const start = at + 30 + nameLen + extra;
    out.set(name, bytes.subarray(start, start + size));
    at = start + size;
  }
  return out;
}
