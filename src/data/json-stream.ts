// A JSON dataset (an array of objects, or an object whose one list field, or `field`, holds them) read in
// chunks: the text is never held whole and no value but one row is built at a time. A small state machine
// follows the document's outer structure (the root, its keys, the rows' array and the commas between);
// each row's text is cut out by bracket and string tracking and read by JSON.parse. What parseJson says
// for the same bytes is what this says: the same rows with the lines they start on, the same "item N is…"
// skips, and for a syntax error the same sentence at the same line and column (json-scan.ts's scanner
// names the problem inside a row; the messages between rows are its messages). A row longer than the row
// limit is never held: it is skipped and counted with its line, as a JSONL line is.
import { DataError, describeType, IssueLog, issue } from './errors';
import { scanJson } from './json-scan';
import { type StreamEnd, streamEnd } from './jsonl-stream';
import { MAX_ROW_CHARS, oversizeRow } from './parse';
import { Utf8Stream } from './text-stream';
import type { OnError, Row, SourceLocation } from './types';

export interface JsonStreamOptions {
  onError?: OnError;
  maxIssues?: number;
  maxRowChars?: number;
  /** The root object's field that holds the rows (parse.ts's jsonField). */
  field?: string;
}

type Mode =
  | 'start'
  | 'arrFirst'
  | 'arrNext'
  | 'arrAfter'
  | 'objFirst'
  | 'objNext'
  | 'key'
  | 'colon'
  | 'objValue'
  | 'objAfter'
  | 'value'
  | 'trailer';

/** Where a value being read belongs: a row, a field of the root object, or the root itself. */
type Owner = 'row' | 'field' | 'root';

const isWs = (c: number) => c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d;

function show(c: string): string {
  return c === '\n' ? 'a line break' : `'${c}'`;
}

const isPlainObject = (v: unknown): v is Row => typeof v === 'object' && v !== null && !Array.isArray(v);

export class JsonStreamReader {
  private readonly log: IssueLog;
  private readonly maxRowChars: number;
  private readonly utf8: Utf8Stream;
  private out = { rows: [] as Row[], locations: [] as SourceLocation[] };
  private readonly cols = new Set<string>();
  private total = 0;
  private mode: Mode = 'start';
  /** The rows' array is a field of the root object (not the root). */
  private inField = false;
  /** Characters read, the current line and the offset where it starts (for lines and columns). */
  private pos = 0;
  private line = 1;
  private lineStart = 0;
  // The value being read.
  private owner: Owner = 'row';
  private pieces: string[] = [];
  private chars = 0;
  private oversize = false;
  private stack = '';
  private inString = false;
  private escape = false;
  private scalar = false;
  private firstChar = '';
  private vLine = 1;
  private vColumn = 1;
  private items = 0;
  // The root object's keys.
  private key = '';
  private keyEscape = false;
  /** Where the key's opening quote is. */
  private keyLine = 1;
  private keyColumn = 1;
  private readonly lists: string[] = [];
  private fieldValue: unknown;
  private fieldSeen = false;
  private rowsField: string | undefined;
  private rootKind: 'array' | 'object' | 'other' | null = null;
  private rootValue: unknown;

  constructor(
    readonly name: string,
    private readonly o: JsonStreamOptions = {},
  ) {
    this.log = new IssueLog(o.onError ?? 'stop', o.maxIssues ?? 20);
    this.maxRowChars = o.maxRowChars ?? MAX_ROW_CHARS;
    this.utf8 = new Utf8Stream(name);
  }

  get bytesRead(): number {
    return this.utf8.bytesRead;
  }

  get rows(): number {
    return this.total;
  }

  get columns(): string[] {
    return [...this.cols];
  }

  get skipped(): number {
    return this.log.skipped;
  }

  takeRows(): { rows: Row[]; locations: SourceLocation[] } {
    const out = this.out;
    this.out = { rows: [], locations: [] };
    return out;
  }

  push(bytes: Uint8Array): void {
    this.take(this.utf8.decode(bytes));
  }

  endStream(): StreamEnd {
    this.take(this.utf8.end());
    this.finish();
    return streamEnd(this.name, this.log, this.total, this.columns, () => this.takeRows());
  }

  private fail(message: string, line = this.line, column = this.pos - this.lineStart + 1): never {
    throw new DataError(issue({ file: this.name, line, column }, message));
  }

  private take(text: string): void {
    let i = 0;
    const n = text.length;
    while (i < n) {
      if (this.mode === 'value') {
        i = this.valueChars(text, i);
        continue;
      }
      const c = text.charCodeAt(i);
      if (this.mode === 'key') {
        this.keyChar(text[i]);
        this.advance(c);
        i++;
        continue;
      }
      if (isWs(c)) {
        this.advance(c);
        i++;
        continue;
      }
      // A structural character: it is either taken here or begins a value (taken by valueChars).
      if (this.structural(text[i])) {
        this.advance(c);
        i++;
      }
    }
  }

  /** Counts one character taken (lines for locations). */
  private advance(c: number): void {
    this.pos++;
    if (c === 0x0a) {
      this.line++;
      this.lineStart = this.pos;
    }
  }

  /** One non-blank character outside any value; false when it begins a value (not taken). */
  private structural(ch: string): boolean {
    switch (this.mode) {
      case 'start':
        if (ch === '[') {
          this.rootKind = 'array';
          this.mode = 'arrFirst';
          return true;
        }
        if (ch === '{') {
          this.rootKind = 'object';
          this.mode = 'objFirst';
          return true;
        }
        this.rootKind = 'other';
        this.begin('root');
        return false;
      case 'arrFirst':
        if (ch === ']') {
          this.endArray();
          return true;
        }
        this.begin('row');
        return false;
      case 'arrNext':
        if (ch === ']') this.fail("trailing comma before ']'");
        this.begin('row');
        return false;
      case 'arrAfter':
        if (ch === ',') {
          this.mode = 'arrNext';
          return true;
        }
        if (ch === ']') {
          this.endArray();
          return true;
        }
        return this.fail(`unexpected ${show(ch)}, expected ',' or ']' after an array element`);
      case 'objFirst':
      case 'objNext':
        if (ch === '}' && this.mode === 'objFirst') {
          this.mode = 'trailer';
          return true;
        }
        if (ch === '}') this.fail("trailing comma before '}'");
        if (ch !== '"') this.fail(`unexpected ${show(ch)}, expected a quoted property name`);
        this.key = '';
        this.keyEscape = false;
        this.keyLine = this.line;
        this.keyColumn = this.pos - this.lineStart + 1;
        this.mode = 'key';
        return true;
      case 'colon':
        if (ch !== ':') this.fail(`unexpected ${show(ch)}, expected ':' after the property name`);
        this.mode = 'objValue';
        return true;
      case 'objValue': {
        const target = this.o.field !== undefined ? this.key === this.o.field : this.rowsField === undefined;
        if (ch === '[') this.lists.push(this.key);
        if (ch === '[' && target) {
          this.rowsField = this.key;
          this.inField = true;
          this.mode = 'arrFirst';
          return true;
        }
        this.begin('field');
        return false;
      }
      case 'objAfter':
        if (ch === ',') {
          this.mode = 'objNext';
          return true;
        }
        if (ch === '}') {
          this.mode = 'trailer';
          return true;
        }
        return this.fail(`unexpected ${show(ch)}, expected ',' or '}' after a property value`);
      case 'trailer':
        return this.fail('unexpected content after the end of the JSON value');
      default:
        throw new Error(`json-stream: no structural character in mode ${this.mode}`);
    }
  }

  private endArray(): void {
    this.mode = this.inField ? 'objAfter' : 'trailer';
    this.inField = false;
  }

  /** A character of a root object's key (its text is kept to find the rows' field). */
  private keyChar(ch: string): void {
    if (this.keyEscape) {
      this.keyEscape = false;
      this.key += `\\${ch}`;
    } else if (ch === '\\') this.keyEscape = true;
    else if (ch === '"') {
      // The key's text as JSON reads it (escapes resolved); a bad escape named as the scanner names it.
      try {
        this.key = JSON.parse(`"${this.key}"`) as string;
      } catch {
        const err = scanJson(`"${this.key}"`).error ?? { offset: 0, message: 'invalid JSON' };
        this.fail(err.message, this.keyLine, this.keyColumn + err.offset);
      }
      this.mode = 'colon';
    } else if (ch === '\n') this.fail('unescaped line break in string');
    else if (ch.charCodeAt(0) < 0x20) this.fail('control character in string');
    else this.key += ch;
  }

  /** Starts reading a value at the current character. */
  private begin(owner: Owner): void {
    this.owner = owner;
    this.mode = 'value';
    this.pieces = [];
    this.chars = 0;
    this.oversize = false;
    this.stack = '';
    this.inString = false;
    this.escape = false;
    this.scalar = false;
    this.vLine = this.line;
    this.vColumn = this.pos - this.lineStart + 1;
  }

  /** Reads a value's characters from `from`; returns where it stopped (the value's end or the text's). */
  private valueChars(text: string, from: number): number {
    let i = from;
    const n = text.length;
    let done = false;
    if (this.chars === 0) {
      const c = text[i];
      this.firstChar = c;
      if (c === '{' || c === '[') this.stack = c;
      else if (c === '"') this.inString = true;
      else this.scalar = true;
      this.advance(text.charCodeAt(i));
      i++;
    }
    for (; i < n && !done; i++) {
      const c = text.charCodeAt(i);
      if (this.scalar) {
        // A number or literal ends at a blank or a structural character, which is not its own.
        if (isWs(c) || c === 0x2c || c === 0x5d || c === 0x7d) {
          done = true;
          break;
        }
      } else if (this.inString) {
        if (this.escape) this.escape = false;
        else if (c === 0x5c) this.escape = true;
        else if (c === 0x22) {
          this.inString = false;
          if (this.stack === '') done = true;
        } else if (c === 0x0a) done = true; // invalid in a string: the value ends here and is named
      } else if (c === 0x22) this.inString = true;
      else if (c === 0x7b || c === 0x5b) this.stack += c === 0x7b ? '{' : '[';
      else if (c === 0x7d || c === 0x5d) {
        // A closing bracket that does not match ends the value too: JSON.parse then refuses it.
        const open = c === 0x7d ? '{' : '[';
        if (!this.stack.endsWith(open)) done = true;
        else {
          this.stack = this.stack.slice(0, -1);
          done = this.stack === '';
        }
      }
      this.advance(c);
    }
    this.keep(text, from, i);
    if (done) this.endValue();
    return i;
  }

  /** Keeps text[from, to) of the value unless it is past the row limit (then it is only counted). */
  private keep(text: string, from: number, to: number): void {
    this.chars += to - from;
    if (this.oversize) return;
    this.pieces.push(text.slice(from, to));
    if (this.chars > this.maxRowChars) {
      this.oversize = true;
      this.pieces = [];
    }
  }

  private endValue(): void {
    const owner = this.owner;
    this.mode = owner === 'row' ? 'arrAfter' : owner === 'field' ? 'objAfter' : 'trailer';
    const loc: SourceLocation = { file: this.name, line: this.vLine };
    if (owner === 'row') this.items++;
    if (this.oversize) {
      if (owner === 'row') this.log.add(issue(loc, oversizeRow(this.chars, this.maxRowChars)));
      // Too long to read (and to check): only its kind counts, for the root's checks.
      else this.took(owner, this.firstChar === '{' ? {} : this.firstChar === '"' ? '' : []);
      return;
    }
    const text = this.pieces.join('');
    this.pieces = [];
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch {
      this.syntaxError(text, owner);
    }
    if (owner === 'row') {
      if (!isPlainObject(value)) {
        this.log.add(issue(loc, `item ${this.items} is ${describeType(value)}, expected an object`));
        return;
      }
      this.out.rows.push(value);
      this.out.locations.push(loc);
      this.total++;
      for (const k of Object.keys(value)) this.cols.add(k);
    } else this.took(owner, value);
  }

  /** A value of the root object's field, or the root itself when it is not a list or an object. */
  private took(owner: Owner, value: unknown): void {
    if (owner === 'root') this.rootValue = value;
    else if (this.key === this.o.field) {
      this.fieldSeen = true;
      this.fieldValue = value;
    }
  }

  /** The scanner's sentence for a value JSON.parse refused, placed in the file. */
  private syntaxError(text: string, owner: Owner): never {
    const err = scanJson(text).error ?? { offset: text.length, message: 'invalid JSON' };
    let message = err.message;
    if (message === 'unexpected content after the end of the JSON value' && owner !== 'root') {
      const after =
        owner === 'row' ? "',' or ']' after an array element" : "',' or '}' after a property value";
      message = `unexpected ${show(text[err.offset])}, expected ${after}`;
    }
    let line = this.vLine;
    let column = this.vColumn;
    for (let k = 0; k < err.offset; k++) {
      if (text.charCodeAt(k) === 0x0a) {
        line++;
        column = 1;
      } else column++;
    }
    return this.fail(message, line, column);
  }

  /** The end of the text: an unfinished document is named where it stops; then the root's checks. */
  private finish(): void {
    if (this.mode === 'value') {
      if (this.scalar) this.endValue();
      else if (this.oversize) this.fail(`unexpected end of input inside a value of ${this.chars} characters`);
      else this.syntaxError(this.pieces.join(''), this.owner);
    }
    switch (this.mode) {
      case 'start':
      case 'objValue':
      case 'arrNext':
        this.fail('unexpected end of input, expected a value');
        break;
      case 'arrFirst':
      case 'arrAfter':
        this.fail("unexpected end of input, expected ',' or ']'");
        break;
      case 'objFirst':
      case 'objNext':
        this.fail("unexpected end of input, expected a property name or '}'");
        break;
      case 'key':
        this.fail('unterminated string', this.keyLine, this.keyColumn);
        break;
      case 'colon':
        this.fail("unexpected end of input, expected ':'");
        break;
      case 'objAfter':
        this.fail("unexpected end of input, expected ',' or '}'");
        break;
    }
    const none = 'expected a list of objects, or an object with one list field';
    if (this.rootKind === 'other')
      throw new DataError(
        issue({ file: this.name }, `expected a list of objects, found ${describeType(this.rootValue)}`),
      );
    if (this.rootKind !== 'object') return;
    if (this.o.field !== undefined) {
      if (this.rowsField === undefined) {
        const found = this.fieldSeen ? describeType(this.fieldValue) : 'missing';
        throw new DataError(
          issue({ file: this.name }, `field "${this.o.field}" is ${found}, expected a list`),
        );
      }
      return;
    }
    if (this.lists.length === 0) throw new DataError(issue({ file: this.name }, none));
    if (this.lists.length > 1) {
      const names = this.lists.map((k) => `"${k}"`).join(', ');
      throw new DataError(
        issue({ file: this.name }, `the object has several list fields (${names}); choose one`),
      );
    }
  }
}
