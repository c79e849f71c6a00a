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

  private fail(bytes: Uint8Array): never {
    const at = firstInvalidUtf8(bytes);
    let line = this.line;
    let start = this.lineStartByte;
    for (let i = 0; i < at; i++)
      if (bytes[i] === 0x0a) {
        line++;
        start = this.bytesRead + i + 1;
      }
    const offset = this.bytesRead + at;
    const hex = bytes[at]?.toString(16).padStart(2, '0') ?? 'end';
    throw new DataError(
      issue(
        { file: this.name, line, column: offset - start + 1 },
        `the file is not UTF-8 text (byte 0x${hex} at offset ${offset}; save it as UTF-8)`,
      ),
    );
  }
}
