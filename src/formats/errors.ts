// The one error type of src/formats: every bad file ends in a sentence that names the file and,
// where there is one, the key (tensor name, config field) or the line and column. Callers (loader,
// UI, CLI) show `message` as it is; `file` and `key` are there for programmatic handling.

export class FormatError extends Error {
  readonly file: string;
  readonly key: string | undefined;

  constructor(file: string, message: string, key?: string) {
    super(`${file}: ${message}`);
    this.name = 'FormatError';
    this.file = file;
    this.key = key;
  }
}

/** 1-based line and column of a character offset, for JSON errors that only report a position. */
export function lineColumn(text: string, offset: number): { line: number; column: number } {
  let line = 1;
  let lineStart = 0;
  const end = Math.min(offset, text.length);
  for (let i = 0; i < end; i++) {
    if (text.charCodeAt(i) === 10) {
      line++;
      lineStart = i + 1;
    }
  }
  return { line, column: end - lineStart + 1 };
}

/**
 * JSON.parse whose error names the file and the line/column. V8 reports a character position in
 * its message (the wording changes between versions), so it is turned into line:column here.
 */
export function parseJsonText(text: string, file: string): unknown {
  try {
    return JSON.parse(text);
  } catch (e) {
    const msg = e instanceof Error ? e.message : String(e);
    const pos = /position (\d+)/.exec(msg);
    const where = pos ? lineColumn(text, Number(pos[1])) : null;
    const at = where ? ` at line ${where.line}, column ${where.column}` : '';
    throw new FormatError(file, `invalid JSON${at} (${msg})`);
  }
}

/** True for a plain JSON object (not null, not an array). */
export function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
