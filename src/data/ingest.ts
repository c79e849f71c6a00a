// A dataset file read, checked and tokenised in chunks, for files too large to hold as text, rows and
// tokens at once (the page's worker and the CLI; a File or Blob is read a slice at a time). JSONL and
// line-per-row text stream through JsonlStreamReader, CSV through CsvStreamReader, JSON through
// JsonStreamReader, Parquet a row group at a time (parquet.ts): no more than one chunk of text (or one row
// group) and one batch of rows is alive, and what stays is the token arena (token-arena.ts), the first rows
// and examples for the preview, and the counts. Plain text in paragraphs is parsed whole, then checked and
// tokenised in batches the same way. Progress (bytes and rows done, rows left out) is told after every
// chunk and batch, and an AbortSignal ends it between two (IngestCancelled).
//
// The result is what prepareDataset + tokenizeForSft give for the same bytes: the same rows, skips,
// reasons, shape and tokens. The shape is decided on the first rows with the columns seen so far; if the
// whole file's columns would have given another shape, the file is read a second time with them.

import { DataError, issue } from './errors';
import { parquetRowGroups } from './parquet';
import { detectFormat, type ParseOptions, parseDataset } from './parse';
import type { PrepareOptions } from './prepare';
import { type DetectedShape, detectShape } from './shape';
import { type ByteSource, refuseUtf16, textReader } from './stream-parse';
import { applyTemplate, defaultTemplate, type PromptTemplate } from './template';
import { TokenArena } from './token-arena';
import {
  IGNORE_INDEX,
  type TextTokenizer,
  TokenizeProblem,
  tokenizeExample,
  tokenizePrompt,
} from './tokenize';
import type { DataIssue, DatasetFormat, Example, Row, SourceLocation } from './types';
import { validateRows } from './validate';

export type { ByteSource } from './stream-parse';

export interface IngestProgress {
  bytesDone: number;
  bytesTotal: number;
  /** Rows parsed so far. */
  rows: number;
  /** Rows and examples left out so far. */
  skipped: number;
}

export interface IngestOptions extends PrepareOptions {
  /** Examples are tokenised with it, untruncated (token-arena.ts cuts them per sequence length). */
  tokenizer: TextTokenizer;
  /** Bytes read at a time (default 4 MiB). */
  chunkBytes?: number;
  /** Rows checked and tokenised at a time for formats parsed whole (default 2048). */
  batchRows?: number;
  onProgress?: (p: IngestProgress) => void;
  signal?: AbortSignal;
  /** Called between chunks so messages (a cancel) get in; default a zero timer. */
  pause?: () => Promise<void>;
  /** The whole file's columns, when a first reading found them (the second reading's shape). */
  columns?: readonly string[];
}

export interface IngestedDataset {
  name: string;
  format: DatasetFormat;
  columns: string[];
  /** Rows parsed. */
  rows: number;
  shape: DetectedShape;
  template: PromptTemplate;
  /** Rows left out by the parser and the checks (the tokenizer's skips are the arena's, per length). */
  skipped: number;
  issues: DataIssue[];
  /** The first rows (for the page's table). */
  preview: Row[];
  /** The first checked examples, template applied (for the rendered preview). */
  firstExamples: Example[];
  /** Every example's tokens; prompt-only data stores its prompts. */
  tokens: TokenArena;
}

/** The cancel asked for arrived; what was loaded before stays as it was. */
export class IngestCancelled extends Error {
  constructor(name: string) {
    super(`${name}: loading cancelled`);
    this.name = 'IngestCancelled';
  }
}

/** The file's columns match no shape (or not the mapping): the page can offer a mapping by hand. */
export class UnmappedColumns extends DataError {
  constructor(
    cause: DataError,
    readonly columns: string[],
  ) {
    super(cause.issue);
  }
}

/** Bytes read at a time; rows are then tokenised `batchRows` at a time, so progress and cancels come often. */
const CHUNK = 4 * 2 ** 20;
const PREVIEW_ROWS = 5;
/** Enough for the preview of 3 even when some cannot be rendered (renderPreview skips those). */
const FIRST_EXAMPLES = 20;
/** Rows looked at before the shape is decided (shape.ts looks at 50 for conversational data). */
const SHAPE_SAMPLE = 50;

const zeroTimer = () => new Promise<void>((r) => setTimeout(r, 0));

/** Reads, checks and tokenises `src` in chunks. Throws DataError, IngestCancelled or UnmappedColumns. */
export async function ingestDataset(
  name: string,
  src: ByteSource,
  o: IngestOptions,
): Promise<IngestedDataset> {
  const sink = new RowSink(name, o);
  const chunk = o.chunkBytes ?? CHUNK;
  const pause = o.pause ?? zeroTimer;
  const read = async (from: number, to: number) => new Uint8Array(await src.slice(from, to).arrayBuffer());
  const check = () => {
    if (o.signal?.aborted) throw new IngestCancelled(name);
  };
  const head = await read(0, Math.min(src.size, 64 * 1024));
  const format = o.format ?? detectFormat(name, head);
  const tell = (bytesDone: number, rows: number, parseSkipped: number) =>
    o.onProgress?.({ bytesDone, bytesTotal: src.size, rows, skipped: parseSkipped + sink.skipped });
  let columns: string[];
  let rows: number;
  let parseSkipped: number;
  let parseIssues: DataIssue[];
  const batch = o.batchRows ?? 2048;
  /** A batch of rows to the sink, a batch at a time, told, with a pause (and a cancel) between. */
  const feed = async (taken: Batch, cols: readonly string[], done: (k: number) => void) => {
    for (let i = 0; i === 0 || i < taken.rows.length; i += batch) {
      if (i > 0) {
        await pause();
        check();
      }
      sink.add(
        { rows: taken.rows.slice(i, i + batch), locations: taken.locations.slice(i, i + batch) },
        cols,
      );
      done(Math.min(taken.rows.length, i + batch));
    }
  };
  const reader = textReader(name, format, o);
  if (reader) {
    refuseUtf16(name, head);
    for (let at = 0; at < src.size; at += chunk) {
      check();
      reader.push(await read(at, Math.min(src.size, at + chunk)));
      const taken = reader.takeRows();
      const before = reader.rows - taken.rows.length;
      await feed(taken, reader.columns, (k) => tell(reader.bytesRead, before + k, reader.skipped));
      await pause();
    }
    check();
    const end = reader.endStream();
    sink.add(end, end.columns);
    ({ columns, total: rows, skipped: parseSkipped, issues: parseIssues } = end);
    tell(src.size, rows, parseSkipped);
  } else if (format === 'parquet') {
    // A row group at a time, its column chunks read from the file's byte ranges.
    columns = [];
    rows = 0;
    parseSkipped = 0;
    parseIssues = [];
    for await (const g of parquetRowGroups(name, src)) {
      check();
      columns = g.columns;
      const before = rows;
      const bytes = Math.round((src.size * g.rowsDone) / Math.max(1, g.totalRows));
      await feed(g, columns, (k) => tell(bytes, before + k, 0));
      rows = g.rowsDone;
      await pause();
    }
    check();
    if (rows === 0) throw new DataError(issue({ file: name }, 'no rows found'));
    tell(src.size, rows, 0);
  } else {
    // Paragraphs of plain text: parsed whole (a paragraph may run across any chunk), then checked in batches.
    let bytes: Uint8Array | null = new Uint8Array(src.size);
    for (let at = 0; at < src.size; at += chunk) {
      check();
      bytes.set(await read(at, Math.min(src.size, at + chunk)), at);
      tell(Math.min(src.size, at + chunk), 0, 0);
      await pause();
    }
    const parsed = await parseDataset(name, bytes, { ...(o as ParseOptions), format });
    bytes = null;
    ({ columns, skipped: parseSkipped, issues: parseIssues } = parsed);
    rows = parsed.rows.length;
    for (let i = 0; i < rows; i += batch) {
      check();
      const cut = {
        rows: parsed.rows.slice(i, i + batch),
        locations: parsed.locations.slice(i, i + batch),
      };
      sink.add(cut, columns);
      tell(src.size, Math.min(rows, i + batch), parseSkipped);
      await pause();
    }
  }
  const shape = sink.finish(columns);
  if (shape === 'again') {
    // Read again with every column known; its progress is not told again (it would go back to 0).
    const again = await ingestDataset(name, src, { ...o, columns, onProgress: undefined });
    tell(src.size, again.rows, again.skipped - sink.skipped);
    return again;
  }
  // Rows held until the shape was decided (a file of fewer than SHAPE_SAMPLE) are checked only now.
  tell(src.size, rows, parseSkipped);
  const maxIssues = o.maxIssues ?? 20;
  return {
    name,
    format,
    columns,
    rows,
    shape,
    template: sink.template!,
    skipped: parseSkipped + sink.skipped,
    issues: [...parseIssues, ...sink.issues].slice(0, maxIssues),
    preview: sink.preview,
    firstExamples: sink.firstExamples,
    tokens: sink.arena,
  };
}

type Batch = { rows: Row[]; locations: SourceLocation[] };

/**
 * Rows in, tokens out: holds rows only until the shape is decided (the first SHAPE_SAMPLE), then checks,
 * templates and tokenises each batch into the arena and lets it go.
 */
class RowSink {
  readonly arena: TokenArena;
  readonly preview: Row[] = [];
  readonly firstExamples: Example[] = [];
  readonly issues: DataIssue[] = [];
  skipped = 0;
  template: PromptTemplate | undefined;
  private shape: DetectedShape | null = null;
  /** The shape could not be decided on the columns seen so far: read again with all of them. */
  private undecided = false;
  private waiting: Batch = { rows: [], locations: [] };
  private readonly maxIssues: number;

  constructor(
    private readonly name: string,
    private readonly o: IngestOptions,
  ) {
    this.arena = new TokenArena(name);
    this.maxIssues = o.maxIssues ?? 20;
  }

  add(b: Batch, columnsSoFar: readonly string[]): void {
    for (const r of b.rows) if (this.preview.length < PREVIEW_ROWS) this.preview.push(r);
    if (this.undecided) return;
    if (this.shape === null) {
      this.waiting.rows.push(...b.rows);
      this.waiting.locations.push(...b.locations);
      if (this.waiting.rows.length < SHAPE_SAMPLE) return;
      this.decide(columnsSoFar);
      return;
    }
    this.consume(b);
  }

  /** The shape, or 'again' when the whole file's columns give another one than the first rows did. */
  finish(columns: readonly string[]): DetectedShape | 'again' {
    if (this.shape === null && !this.undecided) this.decide(columns, true);
    const whole = this.detect(columns, true);
    if (this.undecided || JSON.stringify(whole) !== JSON.stringify(this.shape)) {
      if (this.o.columns) throw new Error(`${this.name}: the shape changed between two readings`);
      return 'again';
    }
    return whole;
  }

  private detect(columns: readonly string[], final: boolean): DetectedShape {
    const cols = [...(this.o.columns ?? columns)];
    try {
      return detectShape({ name: this.name, columns: cols, rows: this.waiting.rows }, this.o.mapping);
    } catch (e) {
      if (final && e instanceof DataError) throw new UnmappedColumns(e, cols);
      throw e;
    }
  }

  private decide(columns: readonly string[], final = false): void {
    try {
      this.shape = this.detect(columns, final);
    } catch (e) {
      if (final || !(e instanceof DataError)) throw e;
      // Columns further on may make a shape: the first reading only collects them.
      this.undecided = true;
      this.waiting = { rows: [], locations: [] };
      return;
    }
    this.template = this.o.template ?? defaultTemplate(this.shape);
    const w = this.waiting;
    this.waiting = { rows: w.rows.slice(0, SHAPE_SAMPLE), locations: [] };
    this.consume(w);
  }

  private consume(b: Batch): void {
    const shape = this.shape!;
    const checked = validateRows(b, shape, { onError: this.o.onError, maxIssues: this.maxIssues });
    this.skipped += checked.skipped;
    for (const i of checked.issues) if (this.issues.length < this.maxIssues) this.issues.push(i);
    const examples = applyTemplate(checked.examples, this.template!, { parsed: b, shape });
    const tok = this.o.tokenizer;
    for (const ex of examples) {
      if (this.firstExamples.length < FIRST_EXAMPLES) this.firstExamples.push(ex);
      if (shape.kind === 'prompt_only') {
        const ids = tokenizePrompt(tok, ex).promptIds;
        this.arena.push(
          ids,
          ids.map(() => IGNORE_INDEX),
          ex.source,
        );
        continue;
      }
      try {
        const t = tokenizeExample(tok, ex, { maxLength: Number.MAX_SAFE_INTEGER });
        this.arena.push(t.inputIds, t.labels, ex.source);
      } catch (e) {
        if (!(e instanceof TokenizeProblem)) throw e;
        this.arena.pushFailure(e.message, ex.source);
      }
    }
  }
}
