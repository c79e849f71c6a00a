// A CSV (or TSV) dataset read in chunks: the text is never held whole, only the records not yet complete.
// Each chunk's text is added to what is pending and papaparse reads the pending text from a record's
// start; every record but the last is complete (the last may be cut by the chunk's end) and becomes a row
// as parseCsv makes it (header, row and line numbers, the same reasons), and the pending text starts again
// at the last record. The delimiter is guessed from the header line as parseCsv guesses it, and the line
// ending as papaparse guesses it for the whole text (its first MiB), so both paths read the same records.
//
// A quote that is never closed made the whole-file parse read the rest of the file as one field; parseCsv
// names that record and starts again on the next line. Here a record still open past the row limit is
// that record (a closing quote further on would make it a record over the limit anyway): it is named by
// its line and the reading starts again on its next line, so it never swallows the rows after it. A
// record over the row limit for another reason is skipped to its end, counted with its line.
import Papa from 'papaparse';
import { DataError, IssueLog, issue } from './errors';
import { type StreamEnd, streamEnd } from './jsonl-stream';
import {
  describeCsvError,
  guessDelimiter,
  MAX_ROW_CHARS,
  oversizeCsvRow,
  unclosedOnItsLine,
  uniqueNames,
} from './parse';
import { Utf8Stream } from './text-stream';
import type { OnError, Row, SourceLocation } from './types';

export interface CsvStreamOptions {
  onError?: OnError;
  maxIssues?: number;
  maxRowChars?: number;
  /** The delimiter (a .tsv file's tab); absent: guessed from the header line. */
  delimiter?: string;
  /**
   * Characters the line ending is guessed from (default papaparse's 1 MiB, so both paths guess alike;
   * tests take fewer, so that records are read before the end of a small file).
   */
  newlineSample?: number;
}

type Newline = '\n' | '\r\n' | '\r';

interface CsvRecord {
  fields: string[];
  /** Offset in the pending text. */
  start: number;
  errors: Papa.ParseError[];
}

/** papaparse reads this much of a text to guess its line ending. */
const NEWLINE_SAMPLE = 2 ** 20;

/**
 * The records of `text` from its start, up to the first whose quote is not closed (then the last; `closed`
 * when that quote was closed on a later line, which unclosedOnItsLine reads as not closed, and the record
 * ended before the text: it is complete whatever comes next).
 */
function records(
  text: string,
  delimiter: string,
  newline: Newline,
): { recs: CsvRecord[]; broken: boolean; closed: boolean } {
  const recs: CsvRecord[] = [];
  let prev = 0;
  let broken = false;
  let closed = false;
  Papa.parse<string[]>(text, {
    delimiter,
    newline,
    step: (res, parser) => {
      if (broken) return;
      const start = prev;
      prev = res.meta.cursor;
      const errors = unclosedOnItsLine(
        res.errors.filter((e) => e.code !== 'UndetectableDelimiter'),
        text.slice(start, res.meta.cursor),
      );
      // A file with mixed line endings leaves a '\r' on the last field when papaparse took '\n'.
      const fields = res.data;
      const last = fields.length - 1;
      if (last >= 0 && fields[last].endsWith('\r')) fields[last] = fields[last].slice(0, -1);
      recs.push({ fields, start, errors });
      if (errors.some((e) => e.code === 'MissingQuotes')) {
        // Closed further on (unclosedOnItsLine) and ended before the text does: complete as it is.
        closed = res.errors.some((e) => e.code === 'InvalidQuotes') && res.meta.cursor < text.length;
        broken = true;
        parser.abort();
      }
    },
  });
  return { recs, broken, closed };
}

/** Whether the header line is complete: a line break outside quotes (guessDelimiter reads up to it). */
function hasHeaderLine(text: string): boolean {
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x22) quoted = !quoted;
    else if (!quoted && (c === 0x0a || c === 0x0d)) return true;
  }
  return false;
}

/** A quote still open past the row limit: the whole-file parse may find it closed further on. */
function openQuote(maxRowChars: number): string {
  const n = maxRowChars >= 2 ** 20 ? `${(maxRowChars / 2 ** 20).toFixed(1)} M` : String(maxRowChars);
  return `a quoted field is not closed within ${n} characters (the limit for one row)`;
}

const countLines = (text: string, from: number, to: number) => {
  let n = 0;
  for (let i = text.indexOf('\n', from); i >= 0 && i < to; i = text.indexOf('\n', i + 1)) n++;
  return n;
};

export class CsvStreamReader {
  private readonly log: IssueLog;
  private readonly maxRowChars: number;
  private readonly utf8: Utf8Stream;
  private out = { rows: [] as Row[], locations: [] as SourceLocation[] };
  private total = 0;
  private pending = '';
  /** The line pending[0] is on. */
  private pendingLine = 1;
  private delimiter: string | undefined;
  private newline: Newline | undefined;
  /** Skipping the rest of a record: to the next line break (quotes: one outside quotes). */
  private skip: {
    quotes: boolean;
    inQuote: boolean;
    /** The last character ended a field (a quote here opens a quoted field). */
    fieldStart: boolean;
    /** The last character closed a quoted field (a quote here makes a doubled quote). */
    closedBefore: boolean;
  } | null = null;
  private header: string[] | null = null;
  private dataRow = 0;
  /** Lines counted in pending[0, counted). */
  private counted = 0;
  private countedLines = 0;
  private readonly newlineSample: number;

  constructor(
    readonly name: string,
    o: CsvStreamOptions = {},
  ) {
    this.log = new IssueLog(o.onError ?? 'stop', o.maxIssues ?? 20);
    this.maxRowChars = o.maxRowChars ?? MAX_ROW_CHARS;
    this.delimiter = o.delimiter;
    this.newlineSample = o.newlineSample ?? NEWLINE_SAMPLE;
    this.utf8 = new Utf8Stream(name);
  }

  get bytesRead(): number {
    return this.utf8.bytesRead;
  }

  get rows(): number {
    return this.total;
  }

  /** The header's names (every row has them all). */
  get columns(): string[] {
    return this.header ? [...this.header] : [];
  }

  get skipped(): number {
    return this.log.skipped;
  }

  takeRows(): { rows: Row[]; locations: SourceLocation[] } {
    const out = this.out;
    this.out = { rows: [], locations: [] };
    return out;
  }

  push(bytes: Uint8Array): void {
    this.take(this.utf8.decode(bytes), false);
  }

  endStream(): StreamEnd {
    this.take(this.utf8.end(), true);
    return streamEnd(this.name, this.log, this.total, this.columns, () => this.takeRows());
  }

  private take(text: string, final: boolean): void {
    if (this.skip) text = this.skipText(text);
    if (this.skip && !final) return;
    this.pending += text;
    this.drain(final);
  }

  /**
   * Drops the text of a record being skipped up to its end; returns what follows. With `quotes`, a quote
   * opens a field only at the field's start (elsewhere it is text, as papaparse reads it), and a doubled
   * quote inside one is a quote.
   */
  private skipText(text: string): string {
    const s = this.skip!;
    const end = this.newline === '\r' ? 0x0d : 0x0a;
    const delim = this.delimiter?.charCodeAt(0) ?? 0x2c;
    for (let i = 0; i < text.length; i++) {
      const c = text.charCodeAt(i);
      if (s.quotes && c === 0x22) {
        // Closing a quoted field; opening one (or a doubled quote re-opening it); or a quote in the text.
        const opens = !s.inQuote && (s.fieldStart || s.closedBefore);
        s.closedBefore = s.inQuote;
        s.inQuote = opens;
        s.fieldStart = false;
        continue;
      }
      s.closedBefore = false;
      if (c === end && !(s.quotes && s.inQuote)) {
        this.pendingLine += countLines(text, 0, i + 1);
        this.skip = null;
        return text.slice(i + 1);
      }
      if (!s.inQuote) s.fieldStart = c === delim;
    }
    this.pendingLine += countLines(text, 0, text.length);
    return '';
  }

  /** Turns the complete records of the pending text into rows (all of them at the end). */
  private drain(final: boolean): void {
    for (;;) {
      if (this.delimiter === undefined) {
        if (!final && this.pending.length <= this.maxRowChars && !hasHeaderLine(this.pending)) return;
        this.delimiter = guessDelimiter(this.pending);
      }
      if (this.newline === undefined) {
        if (!final && this.pending.length < this.newlineSample) return;
        const head = this.pending.slice(0, this.newlineSample);
        this.newline = Papa.parse(head, { delimiter: this.delimiter, preview: 1 }).meta.linebreak as Newline;
      }
      const { recs, broken, closed } = records(this.pending, this.delimiter, this.newline);
      if (final) {
        for (let i = 0; i < recs.length; i++)
          this.emit(recs[i], (recs[i + 1]?.start ?? this.pending.length) - recs[i].start);
        if (!broken || !this.restart(recs[recs.length - 1])) {
          this.cut(this.pending.length);
          return;
        }
        continue;
      }
      // The last record may be cut by the chunk's end: it waits, unless it is already over the limit.
      const last = recs.length - 1;
      if (closed) {
        for (let i = 0; i < recs.length; i++)
          this.emit(recs[i], (recs[i + 1]?.start ?? this.pending.length) - recs[i].start);
        if (this.restart(recs[last])) continue;
        this.cut(this.pending.length);
        return;
      }
      for (let i = 0; i < last; i++) this.emit(recs[i], recs[i + 1].start - recs[i].start);
      if (last > 0 || recs.length === 0 || this.pending.length <= this.maxRowChars) {
        if (last > 0) this.cut(recs[last].start);
        return;
      }
      const r = recs[0];
      this.emit(r, Number.POSITIVE_INFINITY, broken);
      if (broken) {
        // A quote not closed within the limit: named above; the reading starts again on its next line.
        if (this.restart(r)) continue;
        this.skip = { quotes: false, inQuote: false, fieldStart: false, closedBefore: false };
      } else {
        // papaparse found no open quote: the record is outside quotes where the pending text ends.
        this.skip = { quotes: true, inQuote: false, fieldStart: false, closedBefore: false };
      }
      this.cut(this.pending.length);
      if (broken) this.newline = undefined;
      return;
    }
  }

  /** After a record whose quote is not closed: the pending text from its next line, as parseCsv restarts. */
  private restart(r: CsvRecord): boolean {
    let s = r.start;
    while (s < this.pending.length && (this.pending[s] === '\n' || this.pending[s] === '\r')) s++;
    const nl = this.pending.indexOf('\n', s);
    if (nl < 0) return false;
    this.cut(nl + 1);
    // papaparse guesses the line ending again for the text it reads from there.
    this.newline = undefined;
    return true;
  }

  private cut(at: number): void {
    this.pendingLine = this.lineAt(at);
    this.pending = this.pending.slice(at);
    this.counted = 0;
    this.countedLines = 0;
  }

  /** The line of pending[at], counting on from the last asked (records come in order). */
  private lineAt(at: number): number {
    if (at < this.counted) {
      this.counted = 0;
      this.countedLines = 0;
    }
    this.countedLines += countLines(this.pending, this.counted, at);
    this.counted = at;
    return this.pendingLine + this.countedLines;
  }

  /** One record as parseCsv takes it: the header, a blank line, a bad row (counted) or a row. */
  private emit(r: CsvRecord, length: number, openPastLimit = false): void {
    const { fields, errors } = r;
    if (fields.length === 1 && fields[0].trim() === '' && errors.length === 0) return;
    let s = r.start;
    while (s < this.pending.length && (this.pending[s] === '\n' || this.pending[s] === '\r')) s++;
    const line = this.lineAt(s);
    if (this.header === null) {
      this.header = uniqueNames(fields);
      if (errors.length > 0)
        throw new DataError(issue({ file: this.name, line }, `header: ${describeCsvError(errors[0])}`));
      return;
    }
    this.dataRow++;
    const loc: SourceLocation = { file: this.name, row: this.dataRow, line };
    if (errors.length > 0) {
      const why = openPastLimit ? openQuote(this.maxRowChars) : describeCsvError(errors[0]);
      this.log.add(issue(loc, why));
      return;
    }
    if (length > this.maxRowChars) {
      this.log.add(issue(loc, oversizeCsvRow(this.maxRowChars)));
      return;
    }
    if (fields.length !== this.header.length) {
      this.log.add(issue(loc, `${fields.length} fields, but the header has ${this.header.length}`));
      return;
    }
    const row: Row = {};
    this.header.forEach((h, j) => {
      row[h] = fields[j];
    });
    this.out.rows.push(row);
    this.out.locations.push(loc);
    this.total++;
  }
}
