// JSONL read in chunks, for files too large to hold twice (bytes and text) at once: bytes are decoded as
// they come (invalid UTF-8 still named by line and column), split into lines, and each line goes through
// the same row checks as parseJsonl (jsonlLine). A line longer than the row limit is never held whole:
// its characters are counted and dropped until its end, then it is reported with its line. The reader
// says how far it got (bytes, rows) so a caller can show progress, and the result is the ParsedDataset
// parseDataset would give for the same bytes. A caller that must not hold every row (data/ingest.ts) takes
// the rows read so far after each chunk (takeRows) and ends with endStream; the columns are kept as rows
// pass, in first-seen order. With `lines: 'text'` each non-blank line is a `text` row, as parseText reads
// plain text line by line (no row limit there, as in parseText).
import { DataError, IssueLog, issue } from './errors';
import { columnsOf, firstInvalidUtf8, jsonlLine, MAX_ROW_CHARS, oversizeRow } from './parse';
import type { OnError, ParsedDataset, Row, SourceLocation } from './types';

export interface JsonlStreamOptions {
  onError?: OnError;
  maxIssues?: number;
  maxRowChars?: number;
  /** What a line is: a JSON object (default) or a plain-text row. */
  lines?: 'jsonl' | 'text';
}

/** What is left at the end of a stream whose rows were taken as they came. */
export interface StreamEnd {
  rows: Row[];
  locations: SourceLocation[];
  columns: string[];
  /** Rows read in all. */
  total: number;
  skipped: number;
  issues: ParsedDataset['issues'];
}

/**
 * A stream reader's end: its last rows and the totals, or, when no row was read at all, an error naming the
 * file with the first reasons rows were skipped (every reader words it alike).
 */
export function streamEnd(
  name: string,
  log: IssueLog,
  total: number,
  columns: string[],
  takeRows: () => { rows: Row[]; locations: SourceLocation[] },
): StreamEnd {
  if (total === 0) {
    const first = log.issues.slice(0, 3).map((i) => i.message);
    const why =
      log.skipped > 0
        ? `no usable rows (${log.skipped} skipped); the first: ${first.join('; ')}`
        : 'no rows found';
    throw new DataError(issue({ file: name }, why));
  }
  return { ...takeRows(), columns, total, skipped: log.skipped, issues: log.issues };
}

export class JsonlStreamReader {
  private readonly log: IssueLog;
  private readonly maxRowChars: number;
  private readonly decoder = new TextDecoder('utf-8', { fatal: true });
  private out = { rows: [] as Row[], locations: [] as SourceLocation[] };
  private readonly cols = new Set<string>();
  private readonly text: boolean;
  private total = 0;
  /** The current line's text so far (empty while an oversize line is being skipped). */
  private rest = '';
  /** Characters of the current line when it is being skipped as oversize; -1 otherwise. */
  private skipping = -1;
  private line = 1;
  private lineStartByte = 0;
  private first = true;
  bytesRead = 0;

  constructor(
    readonly name: string,
    o: JsonlStreamOptions = {},
  ) {
    this.log = new IssueLog(o.onError ?? 'stop', o.maxIssues ?? 20);
    this.text = o.lines === 'text';
    this.maxRowChars = o.maxRowChars ?? (this.text ? Number.POSITIVE_INFINITY : MAX_ROW_CHARS);
  }

  /** Rows read so far (taken or not). */
  get rows(): number {
    return this.total;
  }

  /** Column names of the rows read so far, in first-seen order. */
  get columns(): string[] {
    return [...this.cols];
  }

  /** The rows read since the last call, handed over (the reader keeps none). */
  takeRows(): { rows: Row[]; locations: SourceLocation[] } {
    const out = this.out;
    this.out = { rows: [], locations: [] };
    return out;
  }

  get skipped(): number {
    return this.log.skipped;
  }

  /** Reads the next chunk of bytes. */
  push(bytes: Uint8Array): void {
    let text: string;
    try {
      text = this.decoder.decode(bytes, { stream: true });
    } catch {
      this.badUtf8(bytes);
    }
    this.track(bytes);
    if (this.first) {
      text = text.replace(/^\uFEFF/, '');
      this.first = false;
    }
    this.take(text);
  }

  /** The rows read; throws DataError as parseDataset does for a file with none. */
  end(): ParsedDataset {
    const { rows, locations } = this.endStream();
    return {
      name: this.name,
      format: this.text ? 'text' : 'jsonl',
      columns: columnsOf(rows),
      rows,
      locations,
      skipped: this.log.skipped,
      issues: this.log.issues,
    };
  }

  /** The last rows and the totals; throws DataError as parseDataset does when no row was read at all. */
  endStream(): StreamEnd {
    let tail: string;
    try {
      tail = this.decoder.decode();
    } catch {
      this.badUtf8(new Uint8Array(0));
    }
    this.take(tail);
    this.finishLine();
    return streamEnd(this.name, this.log, this.total, this.columns, () => this.takeRows());
  }

  private take(text: string): void {
    let from = 0;
    for (;;) {
      const nl = text.indexOf('\n', from);
      const piece = nl < 0 ? text.slice(from) : text.slice(from, nl);
      if (this.skipping >= 0) this.skipping += piece.length;
      else {
        this.rest += piece;
        if (this.rest.length > this.maxRowChars) {
          this.skipping = this.rest.length;
          this.rest = '';
        }
      }
      if (nl < 0) return;
      this.finishLine();
      this.line++;
      from = nl + 1;
    }
  }

  private finishLine(): void {
    if (this.skipping >= 0) {
      this.log.add(issue({ file: this.name, line: this.line }, oversizeRow(this.skipping, this.maxRowChars)));
      this.skipping = -1;
    } else if (this.rest !== '') {
      const n = this.out.rows.length;
      if (this.text) textLine(this.name, this.rest, this.line, this.out);
      else jsonlLine(this.name, this.rest, this.line, this.log, this.maxRowChars, this.out);
      if (this.out.rows.length > n) {
        this.total++;
        for (const k of Object.keys(this.out.rows[n])) this.cols.add(k);
      }
    }
    this.rest = '';
  }

  /** Counts bytes and notes where the current line starts (for the column of bad UTF-8). */
  private track(bytes: Uint8Array): void {
    const last = bytes.lastIndexOf(0x0a);
    if (last >= 0) this.lineStartByte = this.bytesRead + last + 1;
    this.bytesRead += bytes.length;
  }

  private badUtf8(bytes: Uint8Array): never {
    // The lines of this chunk before the bad byte count too.
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

/** One plain-text line as parseText reads it in line mode: its '\r' dropped, blank lines ignored. */
function textLine(
  name: string,
  text: string,
  line: number,
  out: { rows: Row[]; locations: SourceLocation[] },
): void {
  const l = text.endsWith('\r') ? text.slice(0, -1) : text;
  if (l.trim() === '') return;
  out.rows.push({ text: l });
  out.locations.push({ file: name, line });
}
