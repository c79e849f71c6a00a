// UTF-8 bytes to text a chunk at a time, for the streaming CSV and JSON readers (csv-stream.ts,
// json-stream.ts): a character cut between two chunks is kept for the next, the leading byte-order mark
// is dropped, and bytes that are not UTF-8 end the reading with parse.ts's sentence for the whole file
// (the line, the column in bytes and the offset of the first bad byte), so both paths name the same place.
import { DataError, issue } from './errors';
import { firstInvalidUtf8 } from './parse';

export class Utf8Stream {
  private readonly decoder = new TextDecoder('utf-8', { fatal: true });
  private first = true;
  /** Lines begun before the current chunk (1-based) and the byte offset where the last one starts. */
  private line = 1;
  private lineStartByte = 0;
  /** The previous chunk's last bytes when they begin a character not yet complete (the decoder holds them). */
  private tail: Uint8Array = new Uint8Array(0);
  bytesRead = 0;

  constructor(readonly name: string) {}

  /** The text of the next chunk (a character cut at its end comes with the next one). */
  decode(bytes: Uint8Array): string {
    let text: string;
    try {
      text = this.decoder.decode(bytes, { stream: true });
    } catch {
      this.fail(bytes);
    }
    for (let i = bytes.indexOf(0x0a); i >= 0; i = bytes.indexOf(0x0a, i + 1)) {
      this.line++;
      this.lineStartByte = this.bytesRead + i + 1;
    }
    this.bytesRead += bytes.length;
    this.tail = incompleteTail(this.tail, bytes);
    if (this.first && text !== '') {
      this.first = false;
      if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
    }
    return text;
  }

  /** What is left at the end (a character cut short is an error). */
  end(): string {
    try {
      return this.decoder.decode();
    } catch {
      this.fail(new Uint8Array(0));
    }
  }

  private fail(chunk: Uint8Array): never {
    // The bad byte may be a character begun in the previous chunk: look from where it starts.
    const bytes = new Uint8Array(this.tail.length + chunk.length);
    bytes.set(this.tail);
    bytes.set(chunk, this.tail.length);
    const from = this.bytesRead - this.tail.length;
    const at = firstInvalidUtf8(bytes);
    let line = this.line;
    let start = this.lineStartByte;
    for (let i = 0; i < at; i++)
      if (bytes[i] === 0x0a) {
        line++;
        start = from + i + 1;
      }
    const offset = from + at;
    const hex = bytes[at]?.toString(16).padStart(2, '0') ?? 'end';
    throw new DataError(
      issue(
        { file: this.name, line, column: offset - start + 1 },
        `the file is not UTF-8 text (byte 0x${hex} at offset ${offset}; save it as UTF-8)`,
      ),
    );
  }
}

/** The bytes at the end of `prev` + `bytes` that begin a character not complete yet (at most 3). */
function incompleteTail(prev: Uint8Array, bytes: Uint8Array): Uint8Array {
  const all = bytes.length >= 3 ? bytes : Uint8Array.of(...prev, ...bytes);
  for (let k = 1; k <= Math.min(3, all.length); k++) {
    const c = all[all.length - k];
    if ((c & 0xc0) === 0x80) continue; // a continuation byte: its lead is further back
    const need = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : c >= 0xc0 ? 2 : 1;
    return need > k ? all.slice(all.length - k) : new Uint8Array(0);
  }
  return new Uint8Array(0);
}
