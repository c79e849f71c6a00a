// The usual path in one call, for the worker and the CLI: bytes → rows → shape → checked examples,
// with the parser's and the checker's skips added up. Splitting, tokenising and packing stay separate
// calls because they depend on the run (seed, tokenizer, sequence length).
import { type ParseOptions, parseDataset } from './parse';
import { type DetectedShape, detectShape } from './shape';
import type { ColumnMapping, DataIssue, Example, ParsedDataset } from './types';
import { validateRows } from './validate';

export interface PreparedDataset {
  parsed: ParsedDataset;
  shape: DetectedShape;
  examples: Example[];
  /** Rows left out, by the parser and by the checks together. */
  skipped: number;
  /** The first problems of both stages (at most maxIssues). */
  issues: DataIssue[];
}

/** Parses, detects the shape (or uses `mapping`) and checks every row under one onError policy. */
export async function prepareDataset(
  name: string,
  bytes: Uint8Array,
  options: ParseOptions & { mapping?: ColumnMapping } = {},
): Promise<PreparedDataset> {
  return prepareParsed(await parseDataset(name, bytes, options), options);
}

/** The shape and checks of rows already parsed (the streaming JSONL reader's, say). */
export function prepareParsed(
  parsed: ParsedDataset,
  options: ParseOptions & { mapping?: ColumnMapping } = {},
): PreparedDataset {
  const shape = detectShape(parsed, options.mapping);
  const checked = validateRows(parsed, shape, options);
  const maxIssues = options.maxIssues ?? 20;
  return {
    parsed,
    shape,
    examples: checked.examples,
    skipped: parsed.skipped + checked.skipped,
    issues: [...parsed.issues, ...checked.issues].slice(0, maxIssues),
  };
}
