// Parquet to rows through hyparquet (pure JS, runs in a worker). Snappy is built into hyparquet; the
// other codecs (gzip, zstd, brotli, lz4) would need hyparquet-compressors, which we do not ship: such a
// file ends in a sentence saying so. Nested columns (a `messages` list of structs) come out as JS
// arrays and objects; 64-bit integers become numbers (or text when they do not fit a double). A large file
// is read a row group at a time (parquetRowGroups), each group's column chunks fetched from the file's
// byte ranges, so only one group's rows are held at once.
import { type AsyncBuffer, parquetMetadata, parquetMetadataAsync, parquetReadObjects } from 'hyparquet';
import { DataError, issue } from './errors';
import type { Row, SourceLocation } from './types';

/** Reads every row of a Parquet file held in memory. */
export async function readParquet(
  name: string,
  bytes: Uint8Array,
): Promise<{ columns: string[]; rows: Row[]; locations: SourceLocation[] }> {
  // hyparquet wants an ArrayBuffer of exactly the file.
  const buf =
    bytes.byteOffset === 0 &&
    bytes.byteLength === bytes.buffer.byteLength &&
    bytes.buffer instanceof ArrayBuffer
      ? bytes.buffer
      : bytes.slice().buffer;
  let columns: string[];
  let raw: Record<string, unknown>[];
  try {
    const meta = parquetMetadata(buf);
    columns = (meta.schema[0]?.num_children ? topLevelNames(meta.schema) : []) as string[];
    raw = await parquetReadObjects({ file: buf });
  } catch (e) {
    throw unreadable(name, e);
  }
  const rows = raw.map((r) => normalise(r) as Row);
  const locations = rows.map((_, i) => ({ file: name, row: i + 1 }));
  return { columns, rows, locations };
}

/** The sentence for a file hyparquet cannot read (an unsupported codec named). */
function unreadable(name: string, e: unknown): DataError {
  const why = e instanceof Error ? e.message : String(e);
  const codec = /unsupported compression codec:? *(\w+)/i.exec(why)?.[1];
  const what = codec
    ? `the file is compressed with ${codec}, which this reader does not support (write it with snappy or no compression)`
    : `not a readable Parquet file (${why})`;
  return new DataError(issue({ file: name }, what));
}

/** One row group's rows (numbered in the whole file, from 1) and how far the file has been read. */
export interface ParquetGroup {
  columns: string[];
  rows: Row[];
  locations: SourceLocation[];
  /** Rows in the file. */
  totalRows: number;
  /** Rows read up to the end of this group. */
  rowsDone: number;
}

/** Where a Parquet file is read from: a Blob or File, a slice at a time (data/ingest.ts's ByteSource). */
export interface ParquetSource {
  readonly size: number;
  slice(start: number, end: number): { arrayBuffer(): Promise<ArrayBuffer> };
}

/**
 * The file's rows a row group at a time, read from its byte ranges: readParquet's rows and numbering,
 * without the whole file or all its rows held at once.
 */
export async function* parquetRowGroups(name: string, src: ParquetSource): AsyncGenerator<ParquetGroup> {
  const file: AsyncBuffer = {
    byteLength: src.size,
    slice: (start, end) => src.slice(start, end ?? src.size).arrayBuffer(),
  };
  let meta: Awaited<ReturnType<typeof parquetMetadataAsync>>;
  try {
    meta = await parquetMetadataAsync(file);
  } catch (e) {
    throw unreadable(name, e);
  }
  const columns = (meta.schema[0]?.num_children ? topLevelNames(meta.schema) : []) as string[];
  const totalRows = Number(meta.num_rows);
  let at = 0;
  for (const group of meta.row_groups) {
    const n = Number(group.num_rows);
    let raw: Record<string, unknown>[];
    try {
      raw = await parquetReadObjects({ file, metadata: meta, rowStart: at, rowEnd: at + n });
    } catch (e) {
      throw unreadable(name, e);
    }
    const rows = raw.map((r) => normalise(r) as Row);
    const locations = rows.map((_, i) => ({ file: name, row: at + i + 1 }));
    at += n;
    yield { columns, rows, locations, totalRows, rowsDone: at };
  }
}

/** Names of the root's direct children, in schema order (the flattened schema lists them depth-first). */
function topLevelNames(schema: { name: string; num_children?: number }[]): string[] {
  const names: string[] = [];
  let i = 1;
  const skip = (): void => {
    const n = schema[i].num_children ?? 0;
    i++;
    for (let c = 0; c < n; c++) skip();
  };
  const count = schema[0].num_children ?? 0;
  for (let c = 0; c < count && i < schema.length; c++) {
    names.push(schema[i].name);
    skip();
  }
  return names;
}

function normalise(v: unknown): unknown {
  if (typeof v === 'bigint') {
    return v <= BigInt(Number.MAX_SAFE_INTEGER) && v >= BigInt(Number.MIN_SAFE_INTEGER)
      ? Number(v)
      : v.toString();
  }
  if (Array.isArray(v)) return v.map(normalise);
  if (v !== null && typeof v === 'object' && !(v instanceof Date) && !ArrayBuffer.isView(v)) {
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) out[k] = normalise(x);
    return out;
  }
  return v;
}
