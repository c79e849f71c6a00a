// A strict JSON scanner that builds no values: it finds where a syntax error is (offset and a plain
// message, the same in every JS engine, which JSON.parse's messages are not) and, for valid text, where
// each element of the dataset's array starts, so rows can name their line. Values come from JSON.parse.

export interface JsonScanResult {
  /** Set when the text is not valid JSON. */
  error: { offset: number; message: string } | null;
  /** Start offsets of the target array's elements (see scanJson). */
  elements: number[];
}

const WS = new Set([0x20, 0x09, 0x0a, 0x0d]);

/**
 * Scans `text` as one JSON value. The target array is the root itself when it is an array, or, when
 * the root is an object, its field named `field` (if given).
 */
export function scanJson(text: string, field?: string): JsonScanResult {
  const s = new Scanner(text, field);
  try {
    s.ws();
    s.value(0, true, false);
    s.ws();
    if (s.pos < text.length) s.fail('unexpected content after the end of the JSON value');
    return { error: null, elements: s.elements };
  } catch (e) {
    if (e instanceof ScanFailure) return { error: { offset: e.offset, message: e.message }, elements: [] };
    throw e;
  }
}

class ScanFailure {
  constructor(
    readonly offset: number,
    readonly message: string,
  ) {}
}

function show(ch: string): string {
  if (ch === '\n') return 'a line break';
  return `'${ch}'`;
}

class Scanner {
  pos = 0;
  readonly elements: number[] = [];
  constructor(
    readonly text: string,
    readonly field: string | undefined,
  ) {}

  fail(message: string, at = this.pos): never {
    throw new ScanFailure(at, message);
  }

  ws(): void {
    while (this.pos < this.text.length && WS.has(this.text.charCodeAt(this.pos))) this.pos++;
  }

  /** `rootArrayTarget`: an array here is the dataset array (the root). `isTarget`: this value is. */
  value(depth: number, rootArrayTarget: boolean, isTarget: boolean): void {
    if (depth > 512) this.fail('nesting is too deep');
    const t = this.text;
    if (this.pos >= t.length) this.fail('unexpected end of input, expected a value');
    const ch = t[this.pos];
    if (ch === '{') this.object(depth);
    else if (ch === '[') this.array(depth, rootArrayTarget || isTarget);
    else if (ch === '"') this.string();
    else if (ch === '-' || (ch >= '0' && ch <= '9')) this.number();
    else if (t.startsWith('true', this.pos)) this.pos += 4;
    else if (t.startsWith('false', this.pos)) this.pos += 5;
    else if (t.startsWith('null', this.pos)) this.pos += 4;
    else this.fail(`unexpected ${show(ch)}, expected a value`);
  }

  object(depth: number): void {
    const t = this.text;
    this.pos++;
    this.ws();
    if (t[this.pos] === '}') {
      this.pos++;
      return;
    }
    for (;;) {
      if (this.pos >= t.length) this.fail("unexpected end of input, expected a property name or '}'");
      if (t[this.pos] !== '"') this.fail(`unexpected ${show(t[this.pos])}, expected a quoted property name`);
      const keyStart = this.pos;
      this.string();
      const isTarget =
        depth === 0 && this.field !== undefined && t.slice(keyStart + 1, this.pos - 1) === this.field;
      this.ws();
      if (t[this.pos] !== ':') {
        if (this.pos >= t.length) this.fail("unexpected end of input, expected ':'");
        this.fail(`unexpected ${show(t[this.pos])}, expected ':' after the property name`);
      }
      this.pos++;
      this.ws();
      this.value(depth + 1, false, isTarget);
      this.ws();
      const c = t[this.pos];
      if (c === ',') {
        this.pos++;
        this.ws();
        if (t[this.pos] === '}') this.fail("trailing comma before '}'");
        continue;
      }
      if (c === '}') {
        this.pos++;
        return;
      }
      if (this.pos >= t.length) this.fail("unexpected end of input, expected ',' or '}'");
      this.fail(`unexpected ${show(c)}, expected ',' or '}' after a property value`);
    }
  }

  array(depth: number, isTarget: boolean): void {
    const t = this.text;
    this.pos++;
    this.ws();
    if (t[this.pos] === ']') {
      this.pos++;
      return;
    }
    for (;;) {
      if (isTarget) this.elements.push(this.pos);
      this.value(depth + 1, false, false);
      this.ws();
      const c = t[this.pos];
      if (c === ',') {
        this.pos++;
        this.ws();
        if (t[this.pos] === ']') this.fail("trailing comma before ']'");
        continue;
      }
      if (c === ']') {
        this.pos++;
        return;
      }
      if (this.pos >= t.length) this.fail("unexpected end of input, expected ',' or ']'");
      this.fail(`unexpected ${show(c)}, expected ',' or ']' after an array element`);
    }
  }

  string(): void {
    const t = this.text;
    const start = this.pos;
    this.pos++;
    for (;;) {
      if (this.pos >= t.length) this.fail('unterminated string', start);
      const c = t.charCodeAt(this.pos);
      if (c === 0x22) {
        this.pos++;
        return;
      }
      if (c === 0x5c) {
        const e = t[this.pos + 1];
        if (e === 'u') {
          if (!/^[0-9a-fA-F]{4}$/.test(t.slice(this.pos + 2, this.pos + 6))) this.fail('invalid \\u escape');
          this.pos += 6;
        } else if (e !== undefined && '"\\/bfnrt'.includes(e)) {
          this.pos += 2;
        } else {
          this.fail(`invalid escape '\\${e ?? ''}' in string`);
        }
        continue;
      }
      if (c < 0x20) this.fail(c === 0x0a ? 'unescaped line break in string' : 'control character in string');
      this.pos++;
    }
  }

  number(): void {
    const m = /^-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?/.exec(
      this.text.slice(this.pos, this.pos + 400),
    );
    if (!m) this.fail('invalid number');
    this.pos += m[0].length;
  }
}

/** 1-based line numbers of ascending offsets, in one pass over the text. */
export function linesOfOffsets(text: string, offsets: readonly number[]): number[] {
  const out: number[] = [];
  let line = 1;
  let i = 0;
  for (const off of offsets) {
    for (; i < off; i++) if (text.charCodeAt(i) === 10) line++;
    out.push(line);
  }
  return out;
}
