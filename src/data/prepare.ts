// The usual path in one call, for the worker and the CLI: bytes → rows → shape → checked examples with
// the prompt template applied (template.ts: the one asked for, else the shape's default: Alpaca's for
// instruction + input columns), with the parser's and the checker's skips added up. Splitting, tokenising and packing stay separate
// calls because they depend on the run (seed, tokenizer, sequence length).
import { type ParseOptions, parseDataset } from './parse';
import { type DetectedShape, detectShape } from './shape';
import { applyTemplate, defaultTemplate, type PromptTemplate } from './template';
import type { ColumnMapping, DataIssue, Example, ParsedDataset } from './types';
import { validateRows } from './validate';

export interface PreparedDataset {
  parsed: ParsedDataset;
  shape: DetectedShape;
  /** The checked examples, `template` applied. */
  examples: Example[];
  template: PromptTemplate;
  /** Rows left out, by the parser and by the checks together. */
  skipped: number;
  /** The first problems of both stages (at most maxIssues). */
  issues: DataIssue[];
}

export interface PrepareOptions extends ParseOptions {
  mapping?: ColumnMapping;
  /** The prompt template; absent: the shape's default (defaultTemplate). */
  template?: PromptTemplate;
}

/** Parses, detects the shape (or uses `mapping`) and checks every row under one onError policy. */
export async function prepareDataset(
  name: string,
  bytes: Uint8Array,
  options: PrepareOptions = {},
): Promise<PreparedDataset> {
  return prepareParsed(await parseDataset(name, bytes, options), options);
}

/** The shape and checks of rows already parsed (the streaming JSONL reader's, say). */
export function prepareParsed(parsed: ParsedDataset, options: PrepareOptions = {}): PreparedDataset {
  const shape = detectShape(parsed, options.mapping);
  const checked = validateRows(parsed, shape, options);
  const maxIssues = options.maxIssues ?? 20;
  const template = options.template ?? defaultTemplate(shape);
  return {
    parsed,
    shape,
    examples: applyTemplate(checked.examples, template, { parsed, shape }),
    template,
    skipped: parsed.skipped + checked.skipped,
    issues: [...parsed.issues, ...checked.issues].slice(0, maxIssues),
  };
}
