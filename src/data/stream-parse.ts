// A dataset file's rows read in chunks from a Blob or File (a slice at a time), for callers that need the
// rows themselves (the CLI's prepareDataFile): JSONL and line-per-row text, CSV and JSON through their
// streaming readers, Parquet a row group at a time, plain text in paragraphs parsed whole. The text is
// never held whole; the rows are. The answer is parseDataset's for the same bytes, and progress (bytes,
// rows, rows left out) is told after every chunk. data/ingest.ts uses the same readers (textReader) and
// keeps tokens instead of rows.
import { CsvStreamReader } from './csv-stream';
import { DataError, issue } from './errors';
import { JsonStreamReader } from './json-stream';
import { JsonlStreamReader, type StreamEnd } from './jsonl-stream';
import { parquetRowGroups } from './parquet';
import { csvDelimiterOf, detectFormat, type ParseOptions, parseDataset } from './parse';
import type { DatasetFormat, ParsedDataset, Row, SourceLocation } from './types';

/** What ingest and streamParse read from: a Blob or File (browser and Node both have them). */
export interface ByteSource {
  readonly size: number;
  slice(start: number, end: number): { arrayBuffer(): Promise<ArrayBuffer> };
}

export interface StreamProgress {
  bytesDone: number;
  bytesTotal: number;
  /** Rows parsed so far. */
  rows: number;
  /** Rows left out so far. */
  skipped: number;
}

/** What reads a text format in chunks (every one but plain text in paragraphs). */
export interface TextRowReader {
  readonly bytesRead: number;
  readonly rows: number;
  readonly columns: string[];
  readonly skipped: number;
  push(bytes: Uint8Array): void;
  takeRows(): { rows: Row[]; locations: SourceLocation[] };
  endStream(): StreamEnd;
}

/** The streaming reader of `format`, or null for the one read whole (plain text in paragraphs, Parquet). */
export function textReader(name: string, format: DatasetFormat, o: ParseOptions): TextRowReader | null {
  const common = { onError: o.onError, maxIssues: o.maxIssues, maxRowChars: o.maxRowChars };
  if (format === 'jsonl') return new JsonlStreamReader(name, { ...common, lines: 'jsonl' });
  if (format === 'text' && (o.textMode ?? 'line') === 'line')
    return new JsonlStreamReader(name, { ...common, lines: 'text' });
  if (format === 'csv') return new CsvStreamReader(name, { ...common, delimiter: csvDelimiterOf(name) });
  if (format === 'json') return new JsonStreamReader(name, { ...common, field: o.jsonField });
  return null;
}

/** A UTF-16 file is named as such, as parse.ts's whole-file decoding does. */
export function refuseUtf16(name: string, b: Uint8Array): void {
  if (b.length >= 2 && ((b[0] === 0xff && b[1] === 0xfe) || (b[0] === 0xfe && b[1] === 0xff)))
    throw new DataError(
      issue(
        { file: name },
        'the file is UTF-16 text (it starts with a UTF-16 byte-order mark); save it as UTF-8',
      ),
    );
}

const CHUNK = 4 * 2 ** 20;

/** The file's rows, read a chunk at a time; throws DataError as parseDataset does. */
export async function streamParse(
  name: string,
  src: ByteSource,
  o: ParseOptions & { chunkBytes?: number; onProgress?: (p: StreamProgress) => void } = {},
): Promise<ParsedDataset> {
  const chunk = o.chunkBytes ?? CHUNK;
  const read = async (from: number, to: number) => new Uint8Array(await src.slice(from, to).arrayBuffer());
  const head = await read(0, Math.min(src.size, 64 * 1024));
  const format = o.format ?? detectFormat(name, head);
  const tell = (bytesDone: number, rows: number, skipped: number) =>
    o.onProgress?.({ bytesDone, bytesTotal: src.size, rows, skipped });
  const rows: Row[] = [];
  const locations: SourceLocation[] = [];
  const keep = (b: { rows: Row[]; locations: SourceLocation[] }) => {
    for (let i = 0; i < b.rows.length; i++) {
      rows.push(b.rows[i]);
      locations.push(b.locations[i]);
    }
  };
  const reader = textReader(name, format, o);
  if (reader) {
    refuseUtf16(name, head);
    for (let at = 0; at < src.size; at += chunk) {
      reader.push(await read(at, Math.min(src.size, at + chunk)));
      keep(reader.takeRows());
      tell(reader.bytesRead, reader.rows, reader.skipped);
    }
    const end = reader.endStream();
    keep(end);
    tell(src.size, end.total, end.skipped);
    return { name, format, columns: end.columns, rows, locations, skipped: end.skipped, issues: end.issues };
  }
  if (format === 'parquet') {
    let columns: string[] = [];
    for await (const g of parquetRowGroups(name, src)) {
      columns = g.columns;
      keep(g);
      tell(Math.round((src.size * g.rowsDone) / Math.max(1, g.totalRows)), rows.length, 0);
    }
    if (rows.length === 0) throw new DataError(issue({ file: name }, 'no rows found'));
    return { name, format, columns, rows, locations, skipped: 0, issues: [] };
  }
  const bytes = await read(0, src.size);
  tell(src.size, 0, 0);
  return parseDataset(name, bytes, { ...o, format });
}
