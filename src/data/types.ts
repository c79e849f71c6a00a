// Shared types of the data layer: parsed rows with where they came from, problems that name file,
// line or row and field, and the TRL dataset shapes. Parsing lives in parse.ts, shapes in shape.ts,
// row checks in validate.ts, tokens in tokenize.ts; this file owns only the vocabulary they share.

/** The file formats parseDataset reads. */
export type DatasetFormat = 'jsonl' | 'json' | 'csv' | 'parquet' | 'text';

/** What to do with a bad row: leave it out (counted and listed) or end with the first problem. */
export type OnError = 'skip' | 'stop';

/** One parsed row: column name to value (strings from CSV and text, any JSON value otherwise). */
export type Row = Record<string, unknown>;

/**
 * Where a row or a problem sits in its file. `line` is 1-based in the file's text (JSONL, JSON, text,
 * and CSV where a record may span lines); `row` is the 1-based data row (CSV without the header,
 * Parquet); `column` is the 1-based character column inside a line, for syntax errors.
 */
export interface SourceLocation {
  file: string;
  line?: number;
  row?: number;
  column?: number;
}

/** A problem found while reading or checking data, as one sentence plus its parts for the UI. */
export interface DataIssue extends SourceLocation {
  /** The field (column) concerned, when there is one. */
  field?: string;
  /** The complete sentence: `train.jsonl line 17: field "completion" is a number, expected text`. */
  message: string;
}

/** Parsed rows and the problems met on the way (only when onError is 'skip'). */
export interface ParsedDataset {
  name: string;
  format: DatasetFormat;
  /** Column names in first-seen order. */
  columns: string[];
  rows: Row[];
  /** locations[i] says where rows[i] came from. */
  locations: SourceLocation[];
  /** Rows left out because they could not be parsed. */
  skipped: number;
  /** The first few problems (the count is in `skipped`). */
  issues: DataIssue[];
}

/** A chat message as TRL's conversational datasets hold it. */
export interface ChatMessage {
  role: string;
  content: string;
}

/** Text, or (in conversational datasets) a list of messages. */
export type Turns = string | ChatMessage[];

/** TRL's dataset types that the playground trains on. */
export type ShapeKind = 'text' | 'prompt_completion' | 'messages' | 'preference' | 'prompt_only';

/**
 * Which column plays which part. `prompt` may name several columns (Alpaca's instruction + input):
 * their non-empty texts are joined with a blank line.
 */
export interface ColumnMapping {
  text?: string;
  prompt?: string | string[];
  completion?: string;
  messages?: string;
  chosen?: string;
  rejected?: string;
}

/** One checked row in the form its shape needs; `source` names where it came from. */
export type Example =
  | { kind: 'text'; text: string; source: SourceLocation }
  | { kind: 'prompt_completion'; prompt: Turns; completion: Turns; source: SourceLocation }
  | { kind: 'messages'; messages: ChatMessage[]; source: SourceLocation }
  // An implicit prompt (TRL's extract_prompt) is filled in by validate.ts, so prompt is always set.
  | { kind: 'preference'; prompt: Turns; chosen: Turns; rejected: Turns; source: SourceLocation }
  | { kind: 'prompt_only'; prompt: Turns; source: SourceLocation };
