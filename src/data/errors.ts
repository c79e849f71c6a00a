// Sentences for data problems. Every message starts with where: `file line L, column C` or
// `file row R (line L)`, then what is wrong, so the UI can show it as is and tests can match it.
import type { DataIssue, SourceLocation } from './types';

/** `train.jsonl line 17`, `data.csv row 3 (line 4)`, `x.parquet row 5`, `a.json line 2, column 9`. */
export function formatWhere(loc: SourceLocation): string {
  let s = loc.file;
  if (loc.row !== undefined) {
    s += ` row ${loc.row}`;
    if (loc.line !== undefined) s += ` (line ${loc.line})`;
  } else if (loc.line !== undefined) {
    s += ` line ${loc.line}`;
    if (loc.column !== undefined) s += `, column ${loc.column}`;
  }
  return s;
}

/** Builds an issue whose message is `<where>: <what>`. */
export function issue(loc: SourceLocation, what: string, field?: string): DataIssue {
  const out: DataIssue = { ...loc, message: `${formatWhere(loc)}: ${what}` };
  if (field !== undefined) out.field = field;
  return out;
}

/** Thrown when onError is 'stop' (or a file cannot be read at all); carries the issue for the UI. */
export class DataError extends Error {
  readonly issue: DataIssue;
  constructor(issue: DataIssue) {
    super(issue.message);
    this.name = 'DataError';
    this.issue = issue;
  }
}

/**
 * Collects problems under an onError policy: 'stop' throws the first, 'skip' counts all and keeps the
 * first `limit` messages.
 */
export class IssueLog {
  readonly issues: DataIssue[] = [];
  skipped = 0;
  constructor(
    readonly onError: 'skip' | 'stop',
    readonly limit = 20,
  ) {}

  /** Records one bad row (throws under 'stop'). */
  add(problem: DataIssue): void {
    if (this.onError === 'stop') throw new DataError(problem);
    this.skipped++;
    if (this.issues.length < this.limit) this.issues.push(problem);
  }
}

/** 1-based line and column of a character offset (shared with the file-format parsers). */
export { lineColumn } from '../formats/errors';

/** `a number`, `a list`, `null`...: how a value's type reads in a sentence. */
export function describeType(v: unknown): string {
  if (v === null) return 'null';
  if (v === undefined) return 'missing';
  if (Array.isArray(v)) return 'a list';
  switch (typeof v) {
    case 'string':
      return 'text';
    case 'number':
    case 'bigint':
      return 'a number';
    case 'boolean':
      return 'a boolean';
    case 'object':
      return 'an object';
    default:
      return typeof v;
  }
}
