// Row checks: each parsed row against its detected shape, turned into a typed Example or into a
// sentence naming file, line (or row) and field. Chat messages are normalised here (ShareGPT's
// from/value, content given as text parts), and preference rows without a prompt get TRL's implicit
// prompt (the shared start of chosen and rejected). Tokens are tokenize.ts's business.
import { describeType, IssueLog, issue } from './errors';
import type { DetectedShape } from './shape';
import type {
  ChatMessage,
  DataIssue,
  Example,
  OnError,
  ParsedDataset,
  Row,
  SourceLocation,
  Turns,
} from './types';

export interface ValidateOptions {
  /** Bad rows: skip (counted, first messages listed) or stop at the first (default 'stop'). */
  onError?: OnError;
  /** Messages kept when skipping (default 20). */
  maxIssues?: number;
}

export interface ValidatedDataset {
  examples: Example[];
  /** Rows left out here (the parser's own skips are in ParsedDataset.skipped). */
  skipped: number;
  issues: DataIssue[];
}

/** Chat roles the chat templates we know accept. */
const ROLES = ['system', 'developer', 'user', 'assistant', 'tool'];
/** ShareGPT and Gemma spellings. */
const ROLE_ALIASES: Record<string, string> = {
  human: 'user',
  gpt: 'assistant',
  bot: 'assistant',
  model: 'assistant',
};

/** Thrown inside the checks and caught per row: the field and what is wrong with it. */
class FieldProblem {
  constructor(
    readonly field: string,
    readonly what: string,
  ) {}
}

/** Checks every row; bad rows follow `onError`. */
export function validateRows(
  data: Pick<ParsedDataset, 'rows' | 'locations'>,
  shape: DetectedShape,
  options: ValidateOptions = {},
): ValidatedDataset {
  const log = new IssueLog(options.onError ?? 'stop', options.maxIssues ?? 20);
  const examples: Example[] = [];
  data.rows.forEach((row, i) => {
    const source = data.locations[i];
    try {
      examples.push(checkRow(row, shape, source));
    } catch (e) {
      if (!(e instanceof FieldProblem)) throw e;
      log.add(issue(source, `field "${e.field}" ${e.what}`, e.field));
    }
  });
  return { examples, skipped: log.skipped, issues: log.issues };
}

/** One row to an Example; throws FieldProblem. */
function checkRow(row: Row, shape: DetectedShape, source: SourceLocation): Example {
  const m = shape.mapping;
  const conv = shape.conversational;
  switch (shape.kind) {
    case 'text':
      return { kind: 'text', text: text(row, m.text!, false), source };
    case 'messages':
      return { kind: 'messages', messages: messages(row, m.messages!), source };
    case 'prompt_completion':
      return {
        kind: 'prompt_completion',
        prompt: conv ? messages(row, single(m.prompt!), true) : promptText(row, m.prompt!, true),
        completion: turns(row, m.completion!, conv),
        source,
      };
    case 'prompt_only':
      return {
        kind: 'prompt_only',
        prompt: conv ? messages(row, single(m.prompt!)) : promptText(row, m.prompt!, false),
        source,
      };
    case 'preference': {
      const chosen = turns(row, m.chosen!, conv);
      const rejected = turns(row, m.rejected!, conv);
      if (m.prompt !== undefined) {
        const prompt = conv ? messages(row, single(m.prompt), true) : promptText(row, m.prompt, true);
        return { kind: 'preference', prompt, chosen, rejected, source };
      }
      return { kind: 'preference', ...extractPrompt(chosen, rejected, m.chosen!), source };
    }
  }
}

function single(c: string | string[]): string {
  return Array.isArray(c) ? c[0] : c;
}

function text(row: Row, field: string, allowEmpty: boolean): string {
  const v = row[field];
  if (v === undefined) throw new FieldProblem(field, 'is missing');
  if (typeof v !== 'string') throw new FieldProblem(field, `is ${describeType(v)}, expected text`);
  if (!allowEmpty && v.trim() === '') throw new FieldProblem(field, 'is empty');
  return v;
}

/** A prompt from one column, or several joined by a blank line (later ones may be empty or absent). */
function promptText(row: Row, cols: string | string[], allowEmpty: boolean): string {
  if (!Array.isArray(cols)) return text(row, cols, allowEmpty);
  const parts: string[] = [];
  cols.forEach((c, i) => {
    if (i > 0 && (row[c] === null || row[c] === undefined)) return;
    const t = text(row, c, true);
    if (t.trim() !== '') parts.push(t);
  });
  const joined = parts.join('\n\n');
  if (!allowEmpty && joined.trim() === '') throw new FieldProblem(cols[0], 'is empty');
  return joined;
}

function turns(row: Row, field: string, conversational: boolean): Turns {
  if (!conversational) {
    const v = row[field];
    if (Array.isArray(v)) {
      throw new FieldProblem(field, 'is a list, expected text (other rows of this column hold text)');
    }
    return text(row, field, false);
  }
  return messages(row, field);
}

/** A list of {role, content}; ShareGPT's {from, value} and content as [{type:'text', text}] accepted. */
function messages(row: Row, field: string, allowEmpty = false): ChatMessage[] {
  const v = row[field];
  if (v === undefined) throw new FieldProblem(field, 'is missing');
  if (!Array.isArray(v)) {
    throw new FieldProblem(
      field,
      `is ${describeType(v)}, expected a list of messages (the dataset is conversational)`,
    );
  }
  if (v.length === 0 && !allowEmpty) throw new FieldProblem(field, 'is an empty list');
  return v.map((item: unknown, i) => {
    const at = `item ${i + 1}`;
    if (typeof item !== 'object' || item === null || Array.isArray(item)) {
      throw new FieldProblem(field, `${at} is ${describeType(item)}, expected a message {role, content}`);
    }
    const o = item as Record<string, unknown>;
    const rawRole = o.role ?? o.from;
    if (typeof rawRole !== 'string') {
      throw new FieldProblem(field, `${at}: "role" is ${describeType(rawRole)}, expected text`);
    }
    const role = ROLE_ALIASES[rawRole.toLowerCase()] ?? rawRole.toLowerCase();
    if (!ROLES.includes(role)) {
      throw new FieldProblem(field, `${at}: role "${rawRole}" is not one of ${ROLES.join(', ')}`);
    }
    const content = contentText(o.content ?? o.value ?? o.text);
    if (content === null) {
      throw new FieldProblem(
        field,
        `${at}: "content" is ${describeType(o.content ?? o.value)}, expected text`,
      );
    }
    return { role, content };
  });
}

function contentText(c: unknown): string | null {
  if (typeof c === 'string') return c;
  // OpenAI-style parts: only text parts make sense for a text model.
  if (
    Array.isArray(c) &&
    c.every((p) => typeof p === 'object' && p !== null && (p as { type?: unknown }).type === 'text')
  ) {
    return c.map((p) => String((p as { text?: unknown }).text ?? '')).join('');
  }
  return null;
}

/**
 * TRL's implicit prompt: for text, the longest common prefix of chosen and rejected (a space just
 * before the split goes with the answers); for messages, the shared leading messages.
 */
function extractPrompt(
  chosen: Turns,
  rejected: Turns,
  field = 'chosen',
): { prompt: Turns; chosen: Turns; rejected: Turns } {
  if (typeof chosen === 'string' && typeof rejected === 'string') {
    let i = 0;
    const n = Math.min(chosen.length, rejected.length);
    while (i < n && chosen[i] === rejected[i]) i++;
    if (i < n && i > 0 && chosen[i - 1] === ' ') i--;
    if (i === chosen.length || i === rejected.length) {
      throw new FieldProblem(field, 'and "rejected" leave nothing apart from their shared start');
    }
    return { prompt: chosen.slice(0, i), chosen: chosen.slice(i), rejected: rejected.slice(i) };
  }
  if (Array.isArray(chosen) && Array.isArray(rejected)) {
    let i = 0;
    const n = Math.min(chosen.length, rejected.length);
    while (i < n && chosen[i].role === rejected[i].role && chosen[i].content === rejected[i].content) i++;
    if (i === chosen.length || i === rejected.length) {
      throw new FieldProblem(field, 'and "rejected" leave no message apart from their shared start');
    }
    return { prompt: chosen.slice(0, i), chosen: chosen.slice(i), rejected: rejected.slice(i) };
  }
  throw new FieldProblem(field, 'and "rejected" must both be text or both be message lists');
}
