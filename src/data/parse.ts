// Dataset files to rows: JSONL, JSON, CSV (papaparse), Parquet (hyparquet, in parquet.ts) and plain
// text, chosen by extension or, without one, by looking at the bytes. Every row keeps its line or row
// number; every problem is a sentence naming file, line (or row) and column. What the rows mean (TRL
// shapes) is shape.ts's business, and checking field types is validate.ts's.
import Papa from 'papaparse';
import { DataError, describeType, IssueLog, issue, lineColumn } from './errors';
import { linesOfOffsets, scanJson } from './json-scan';
import { readParquet } from './parquet';
import type { DatasetFormat, OnError, ParsedDataset, Row, SourceLocation } from './types';

export interface ParseOptions {
  /** Force a format instead of going by the extension or the content. */
  format?: DatasetFormat;
  /** Plain text: one example per non-empty line (default) or per blank-line-separated paragraph. */
  textMode?: 'line' | 'paragraph';
  /** Rows that cannot be parsed: skip them (counted) or stop at the first (default 'stop'). */
  onError?: OnError;
  /** How many problem messages to keep when skipping (default 20). */
  maxIssues?: number;
  /** JSON: the field of the root object that holds the rows, when it has several lists. */
  jsonField?: string;
  /**
   * JSONL lines, CSV records and JSON array items longer than this are bad rows (skipped and counted, or
   * the stop), never parsed (default 4 Mi chars).
   */
  maxRowChars?: number;
}

/**
 * The longest JSONL line read as a row: far past any sequence a run trains on, and short of the memory a
 * giant row costs once parsed and tokenised (a 10 MB line took gigabytes).
 */
export const MAX_ROW_CHARS = 4 * 2 ** 20;

const EXTENSIONS: Record<string, DatasetFormat> = {
  jsonl: 'jsonl',
  ndjson: 'jsonl',
  json: 'json',
  csv: 'csv',
  tsv: 'csv',
  parquet: 'parquet',
  txt: 'text',
  text: 'text',
  md: 'text',
};

/** A .tsv file is tab-separated; other CSV files have their delimiter guessed from the header. */
export function csvDelimiterOf(name: string): string | undefined {
  return extensionOf(name) === 'tsv' ? '\t' : undefined;
}

function extensionOf(name: string): string {
  const base = name.slice(name.lastIndexOf('/') + 1);
  const dot = base.lastIndexOf('.');
  return dot > 0 ? base.slice(dot + 1).toLowerCase() : '';
}

/** The format a file is read as: its extension when known, else a look at its first bytes. */
export function detectFormat(name: string, bytes: Uint8Array): DatasetFormat {
  const byExt = EXTENSIONS[extensionOf(name)];
  if (byExt) return byExt;
  return sniffFormat(bytes);
}

/** Guesses the format from content: Parquet's magic, JSON's first character, a CSV-like header. */
export function sniffFormat(bytes: Uint8Array): DatasetFormat {
  if (bytes.length >= 8 && String.fromCharCode(bytes[0], bytes[1], bytes[2], bytes[3]) === 'PAR1') {
    return 'parquet';
  }
  const head = new TextDecoder().decode(bytes.subarray(0, 64 * 1024)).replace(/^\uFEFF/, '');
  const trimmed = head.trimStart();
  if (trimmed.startsWith('[')) return 'json';
  if (trimmed.startsWith('{')) {
    // One object per line is JSONL; an object spread over lines is a JSON document.
    const first = trimmed.slice(0, trimmed.indexOf('\n') >= 0 ? trimmed.indexOf('\n') : undefined).trim();
    try {
      JSON.parse(first);
      return 'jsonl';
    } catch {
      return 'json';
    }
  }
  const firstLine = head.split(/\r?\n/, 1)[0] ?? '';
  for (const delim of [',', '\t']) {
    const fields = firstLine.split(delim);
    // Header names: short identifiers of up to three words, not prose that happens to hold a comma.
    const isName = (f: string) =>
      /^"?[A-Za-z_][\w.-]*( [\w.-]+){0,2}"?$/.test(f.trim()) && !f.trim().endsWith('.');
    if (fields.length >= 2 && fields.every(isName)) return 'csv';
  }
  return 'text';
}

/** Reads a dataset file into rows. Throws DataError for a file that cannot be read at all. */
export async function parseDataset(
  name: string,
  bytes: Uint8Array,
  options: ParseOptions = {},
): Promise<ParsedDataset> {
  const format = options.format ?? detectFormat(name, bytes);
  const log = new IssueLog(options.onError ?? 'stop', options.maxIssues ?? 20);
  let parsed: { columns: string[]; rows: Row[]; locations: SourceLocation[] };
  if (format === 'parquet') {
    parsed = await readParquet(name, bytes);
  } else {
    const text = decodeText(name, bytes);
    if (format === 'jsonl') parsed = parseJsonl(name, text, log, options.maxRowChars);
    else if (format === 'json') parsed = parseJson(name, text, log, options.jsonField);
    else if (format === 'csv') parsed = parseCsv(name, text, log, csvDelimiterOf(name), options.maxRowChars);
    else parsed = parseText(name, text, options.textMode ?? 'line');
  }
  if (parsed.rows.length === 0) {
    // When every row failed, the first reasons are the answer: say them, not just the count.
    const first = log.issues.slice(0, 3).map((i) => i.message);
    const why =
      log.skipped > 0
        ? `no usable rows (${log.skipped} skipped); the first: ${first.join('; ')}`
        : 'no rows found';
    throw new DataError(issue({ file: name }, why));
  }
  return { name, format, ...parsed, skipped: log.skipped, issues: log.issues };
}

function decodeText(name: string, bytes: Uint8Array): string {
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes).replace(/^\uFEFF/, '');
  } catch {
    const bom16 =
      bytes.length >= 2 &&
      ((bytes[0] === 0xff && bytes[1] === 0xfe) || (bytes[0] === 0xfe && bytes[1] === 0xff));
    if (bom16)
      throw new DataError(
        issue(
          { file: name },
          'the file is UTF-16 text (it starts with a UTF-16 byte-order mark); save it as UTF-8',
        ),
      );
    const at = firstInvalidUtf8(bytes);
    let line = 1;
    let lineStart = 0;
    for (let i = 0; i < at; i++)
      if (bytes[i] === 0x0a) {
        line++;
        lineStart = i + 1;
      }
    const hex = bytes[at]?.toString(16).padStart(2, '0') ?? 'end';
    throw new DataError(
      issue(
        { file: name, line, column: at - lineStart + 1 },
        `the file is not UTF-8 text (byte 0x${hex} at offset ${at}; save it as UTF-8)`,
      ),
    );
  }
}

/** The offset of the first byte that breaks UTF-8 (the sequence's lead byte), or the length if none. */
export function firstInvalidUtf8(b: Uint8Array): number {
  let i = 0;
  while (i < b.length) {
    const c = b[i];
    const n =
      c < 0x80
        ? 0
        : c >= 0xc2 && c <= 0xdf
          ? 1
          : c >= 0xe0 && c <= 0xef
            ? 2
            : c >= 0xf0 && c <= 0xf4
              ? 3
              : -1;
    if (n < 0) return i;
    for (let k = 1; k <= n; k++) {
      const d = b[i + k];
      // The second byte's range is narrower after E0, ED, F0 and F4 (overlongs, surrogates, > U+10FFFF).
      const lo = k === 1 && c === 0xe0 ? 0xa0 : k === 1 && c === 0xf0 ? 0x90 : 0x80;
      const hi = k === 1 && c === 0xed ? 0x9f : k === 1 && c === 0xf4 ? 0x8f : 0xbf;
      if (d === undefined || d < lo || d > hi) return i;
    }
    i += n + 1;
  }
  return b.length;
}

export function columnsOf(rows: readonly Row[]): string[] {
  const seen = new Set<string>();
  for (const r of rows) for (const k of Object.keys(r)) seen.add(k);
  return [...seen];
}

function isPlainObject(v: unknown): v is Row {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** JSONL: one JSON object per line; blank lines are ignored. */
export function parseJsonl(
  name: string,
  text: string,
  log: IssueLog,
  maxRowChars = MAX_ROW_CHARS,
): { columns: string[]; rows: Row[]; locations: SourceLocation[] } {
  const out = { rows: [] as Row[], locations: [] as SourceLocation[] };
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) jsonlLine(name, lines[i], i + 1, log, maxRowChars, out);
  return { columns: columnsOf(out.rows), rows: out.rows, locations: out.locations };
}

/** The message for a JSONL line longer than the limit. */
export function oversizeRow(chars: number, maxRowChars: number): string {
  const mb = (n: number) => (n >= 2 ** 20 ? `${(n / 2 ** 20).toFixed(1)} M` : String(n));
  return `a row of ${mb(chars)} characters, over the ${mb(maxRowChars)} limit for one row`;
}

/** The message for a CSV record longer than the limit (the streaming reader never holds it to count it). */
export function oversizeCsvRow(maxRowChars: number): string {
  const mb = (n: number) => (n >= 2 ** 20 ? `${(n / 2 ** 20).toFixed(1)} M` : String(n));
  return `a row of more than ${mb(maxRowChars)} characters, over the limit for one row`;
}

/** One JSONL line (its '\r' still on) into `out`, or its problem into `log`; blank lines are ignored. */
export function jsonlLine(
  name: string,
  text: string,
  line: number,
  log: IssueLog,
  maxRowChars: number,
  out: { rows: Row[]; locations: SourceLocation[] },
): void {
  const raw = text.endsWith('\r') ? text.slice(0, -1) : text;
  if (raw.trim() === '') return;
  if (raw.length > maxRowChars) {
    log.add(issue({ file: name, line }, oversizeRow(raw.length, maxRowChars)));
    return;
  }
  let value: unknown;
  try {
    value = JSON.parse(raw);
  } catch {
    const err = scanJson(raw).error;
    const column = (err?.offset ?? 0) + 1;
    log.add(issue({ file: name, line, column }, err?.message ?? 'invalid JSON'));
    return;
  }
  if (!isPlainObject(value)) {
    log.add(issue({ file: name, line }, `expected a JSON object, found ${describeType(value)}`));
    return;
  }
  out.rows.push(value);
  out.locations.push({ file: name, line });
}

/** JSON: an array of objects, or an object whose one list field (or `field`) holds them. */
export function parseJson(
  name: string,
  text: string,
  log: IssueLog,
  field?: string,
): { columns: string[]; rows: Row[]; locations: SourceLocation[] } {
  let root: unknown;
  try {
    root = JSON.parse(text);
  } catch {
    const err = scanJson(text).error;
    const at = lineColumn(text, err?.offset ?? 0);
    throw new DataError(issue({ file: name, ...at }, err?.message ?? 'invalid JSON'));
  }
  let list: unknown[];
  let key: string | undefined;
  if (Array.isArray(root)) {
    list = root;
  } else if (isPlainObject(root)) {
    const lists = Object.keys(root).filter((k) => Array.isArray(root[k]));
    if (field !== undefined) {
      if (!Array.isArray(root[field])) {
        throw new DataError(
          issue({ file: name }, `field "${field}" is ${describeType(root[field])}, expected a list`),
        );
      }
      key = field;
    } else if (lists.length === 1) {
      key = lists[0];
    } else if (lists.length === 0) {
      throw new DataError(
        issue({ file: name }, 'expected a list of objects, or an object with one list field'),
      );
    } else {
      const names = lists.map((k) => `"${k}"`).join(', ');
      throw new DataError(issue({ file: name }, `the object has several list fields (${names}); choose one`));
    }
    list = root[key] as unknown[];
  } else {
    throw new DataError(issue({ file: name }, `expected a list of objects, found ${describeType(root)}`));
  }
  const offsets = scanJson(text, key).elements;
  const lines = linesOfOffsets(text, offsets);
  const rows: Row[] = [];
  const locations: SourceLocation[] = [];
  list.forEach((v, i) => {
    const loc: SourceLocation = { file: name, line: lines[i] };
    if (!isPlainObject(v)) {
      log.add(issue(loc, `item ${i + 1} is ${describeType(v)}, expected an object`));
      return;
    }
    rows.push(v);
    locations.push(loc);
  });
  return { columns: columnsOf(rows), rows, locations };
}

const CSV_MESSAGES: Record<string, string> = {
  MissingQuotes: 'a quoted field is not closed',
  InvalidQuotes: 'a quote inside a quoted field is not doubled',
};

/**
 * CSV with a header row. Fields stay strings; quoted fields may hold commas and line breaks, so each
 * row is named by its record number and the line it starts on.
 */
export function parseCsv(
  name: string,
  text: string,
  log: IssueLog,
  delimiter?: string,
  maxRowChars = MAX_ROW_CHARS,
): { columns: string[]; rows: Row[]; locations: SourceLocation[] } {
  let header: string[] | null = null;
  const rows: Row[] = [];
  const locations: SourceLocation[] = [];
  const records = csvRecords(text, delimiter ?? guessDelimiter(text));
  // Line numbers in one pass over the record starts (records may span lines).
  const starts = records.map((r) => {
    // The cursor may sit on the previous record's line break: the record starts after it.
    let s = r.start;
    while (s < text.length && (text[s] === '\n' || text[s] === '\r')) s++;
    return s;
  });
  const lines = linesOfOffsets(text, starts);
  let dataRow = 0;
  for (let i = 0; i < records.length; i++) {
    const { fields, errors } = records[i];
    if (fields.length === 1 && fields[0].trim() === '' && errors.length === 0) continue;
    if (header === null) {
      header = uniqueNames(fields);
      if (errors.length > 0) {
        throw new DataError(issue({ file: name, line: lines[i] }, `header: ${describeCsvError(errors[0])}`));
      }
      continue;
    }
    dataRow++;
    const loc: SourceLocation = { file: name, row: dataRow, line: lines[i] };
    if (errors.length > 0) {
      log.add(issue(loc, describeCsvError(errors[0])));
      continue;
    }
    // Its size from its start to the next record's (csv-stream.ts measures it the same way).
    if ((records[i + 1]?.start ?? text.length) - records[i].start > maxRowChars) {
      log.add(issue(loc, oversizeCsvRow(maxRowChars)));
      continue;
    }
    if (fields.length !== header.length) {
      log.add(issue(loc, `${fields.length} fields, but the header has ${header.length}`));
      continue;
    }
    const row: Row = {};
    header.forEach((h, j) => {
      row[h] = fields[j];
    });
    rows.push(row);
    locations.push(loc);
  }
  return { columns: header ?? [], rows, locations };
}

interface CsvRecord {
  fields: string[];
  start: number;
  errors: Papa.ParseError[];
}

/**
 * The records of a CSV text with their start offsets. A quote that is never closed makes papaparse read
 * the rest of the file as one field, swallowing every row after it: that record is kept (with its error)
 * and parsing starts again on the next line, so the rows after it are read and counted.
 */
function csvRecords(text: string, delimiter: string): CsvRecord[] {
  const records: CsvRecord[] = [];
  let base = 0;
  while (base < text.length) {
    let prevCursor = 0;
    let broken = -1;
    const segment = text.slice(base);
    Papa.parse<string[]>(segment, {
      delimiter,
      step: (res, parser) => {
        if (broken >= 0) return;
        const start = prevCursor;
        prevCursor = res.meta.cursor;
        const errors = unclosedOnItsLine(
          res.errors.filter((e) => e.code !== 'UndetectableDelimiter'),
          segment.slice(start, res.meta.cursor),
        );
        // A file with mixed line endings leaves a '\r' on the last field when papaparse took '\n'.
        const fields = res.data;
        const last = fields.length - 1;
        if (last >= 0 && fields[last].endsWith('\r')) fields[last] = fields[last].slice(0, -1);
        records.push({ fields, start: base + start, errors });
        if (errors.some((e) => e.code === 'MissingQuotes')) {
          broken = start;
          parser.abort();
        }
      },
    });
    if (broken < 0) break;
    let s = base + broken;
    while (s < text.length && (text[s] === '\n' || text[s] === '\r')) s++;
    const nl = text.indexOf('\n', s);
    if (nl < 0) break;
    base = nl + 1;
  }
  return records;
}

/**
 * A record whose quoted field ran past a line break to a quote with more text after it (papaparse's
 * InvalidQuotes) had a quote that was not closed on its line, which then took the rows below it: it is
 * read as a quote not closed (MissingQuotes), so the reading starts again on its next line and the rows
 * after it are read and counted.
 */
export function unclosedOnItsLine(errors: Papa.ParseError[], recordText: string): Papa.ParseError[] {
  if (!errors.some((e) => e.code === 'InvalidQuotes')) return errors;
  if (!/[\r\n]/.test(recordText.replace(/[\r\n]+$/, ''))) return errors;
  return [{ ...errors[0], type: 'Quotes', code: 'MissingQuotes' }];
}

/**
 * The delimiter is the commonest of , tab ; | in the header line (outside quotes). A header with none
 * is a one-column file, whose fields may then hold unquoted commas; papaparse's own guess looks at
 * the data rows and splits those.
 */
export function guessDelimiter(text: string): string {
  const counts = new Map<string, number>([
    [',', 0],
    ['\t', 0],
    [';', 0],
    ['|', 0],
  ]);
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '"') quoted = !quoted;
    else if (!quoted && (c === '\n' || c === '\r')) break;
    else if (!quoted && counts.has(c)) counts.set(c, counts.get(c)! + 1);
  }
  let best = '';
  let most = 0;
  for (const [d, n] of counts) {
    if (n > most) {
      best = d;
      most = n;
    }
  }
  // The unit separator never occurs in text, so a one-column file is never split.
  return most > 0 ? best : '\u001f';
}

export function describeCsvError(e: Papa.ParseError): string {
  return CSV_MESSAGES[e.code] ?? e.message.charAt(0).toLowerCase() + e.message.slice(1);
}

/** Header names made non-empty and unique (`col3`, `name_2`), so no column shadows another. */
export function uniqueNames(fields: string[]): string[] {
  const seen = new Set<string>();
  return fields.map((f, i) => {
    let n = f.trim() === '' ? `col${i + 1}` : f.trim();
    if (seen.has(n)) {
      let k = 2;
      while (seen.has(`${n}_${k}`)) k++;
      n = `${n}_${k}`;
    }
    seen.add(n);
    return n;
  });
}

/** Plain text: a `text` column, one row per non-empty line or per blank-line-separated paragraph. */
export function parseText(
  name: string,
  text: string,
  mode: 'line' | 'paragraph',
): { columns: string[]; rows: Row[]; locations: SourceLocation[] } {
  const rows: Row[] = [];
  const locations: SourceLocation[] = [];
  const lines = text.split('\n').map((l) => (l.endsWith('\r') ? l.slice(0, -1) : l));
  let para: string[] = [];
  let paraLine = 0;
  const flush = () => {
    if (para.length > 0) {
      rows.push({ text: para.join('\n') });
      locations.push({ file: name, line: paraLine });
      para = [];
    }
  };
  lines.forEach((l, i) => {
    if (l.trim() === '') {
      flush();
      return;
    }
    if (mode === 'line') {
      rows.push({ text: l });
      locations.push({ file: name, line: i + 1 });
      return;
    }
    if (para.length === 0) paraLine = i + 1;
    para.push(l);
  });
  flush();
  return { columns: ['text'], rows, locations };
}
