// A dataset's token ids held compactly: typed-array blocks of ids (16-bit until an id needs more, then
// 32-bit), one byte per token saying whether the loss trains on it, and per example its start, its source
// line and row. An array of JS numbers costs 8 bytes a token and an object per example; this costs 3 (or 5)
// bytes a token and 16 an example, which is what lets a 200 MB file be tokenised inside 500 MB.
//
// Each example is stored whole (never truncated), so one ingest serves any sequence length: sftView and
// sftExamples give exactly what tokenizeForSft gives for the same examples at a given maxLength (the same
// examples kept, the same reasons, in the same order). An example the tokenizer refused even untruncated is
// stored as a failure with its reason (the first maxIssues reasons only: later ones can never be shown).
import { IssueLog, issue } from './errors';
import { IGNORE_INDEX, type TokenizedDataset, type TokenizedExample } from './tokenize';
import type { DataIssue, OnError, SourceLocation } from './types';

/** Reasons kept for failed examples (the view lists at most this many issues). */
const KEPT_REASONS = 20;

function grow<T extends Uint8Array | Uint16Array | Int32Array | Float64Array>(a: T, need: number): T {
  if (need <= a.length) return a;
  const b = new (a.constructor as new (n: number) => T)(Math.max(need, Math.ceil(a.length * 1.5) + 16));
  b.set(a);
  return b;
}

/**
 * Tokens per block. The ids and labels are kept in blocks, not in one array grown by copying: a copy
 * holds the old and the new array at once (2.5 times the ids at the last growth of a 200 MB file's), and a
 * grown array is up to half empty.
 */
const BLOCK = 2 ** 20;

export class TokenArena {
  private ids: (Uint16Array | Int32Array)[] = [];
  private trained: Uint8Array[] = [];
  private wide = false;
  /** starts[i] .. starts[i + 1]: example i's tokens. */
  private starts = new Float64Array(65);
  private lines = new Int32Array(64);
  private rows = new Int32Array(64);
  private failed = new Uint8Array(64);
  private readonly reasons = new Map<number, string>();
  private reasonCount = 0;
  /** Examples stored (failures included). */
  count = 0;
  /** Tokens stored. */
  tokens = 0;

  constructor(
    readonly file: string,
    /** Tokens per block (tests take a few, so that examples straddle blocks). */
    private readonly block = BLOCK,
  ) {}

  /** Stores one example's whole sequence: ids and labels (IGNORE_INDEX where no loss). */
  push(ids: readonly number[], labels: readonly number[], source: SourceLocation): void {
    const n = ids.length;
    this.entry(source);
    const B = this.block;
    while (this.ids.length * B < this.tokens + n) {
      this.ids.push(this.wide ? new Int32Array(B) : new Uint16Array(B));
      this.trained.push(new Uint8Array(B));
    }
    for (let k = 0; k < n; k++) {
      const id = ids[k];
      if (!this.wide && (id > 0xffff || id < 0)) this.widen();
      const g = this.tokens + k;
      const b = Math.floor(g / B);
      this.ids[b][g - b * B] = id;
      this.trained[b][g - b * B] = labels[k] !== IGNORE_INDEX ? 1 : 0;
    }
    this.tokens += n;
    this.starts[this.count] = this.tokens;
  }

  /** Stores an example the tokenizer refused, with why. */
  pushFailure(reason: string, source: SourceLocation): void {
    this.entry(source);
    this.failed[this.count - 1] = 1;
    if (this.reasonCount < KEPT_REASONS) this.reasons.set(this.count - 1, reason);
    this.reasonCount++;
    this.starts[this.count] = this.tokens;
  }

  private entry(source: SourceLocation): void {
    const i = this.count++;
    this.starts = grow(this.starts, this.count + 1);
    this.lines = grow(this.lines, this.count);
    this.rows = grow(this.rows, this.count);
    this.failed = grow(this.failed, this.count);
    this.lines[i] = source.line ?? 0;
    this.rows[i] = source.row ?? 0;
  }

  /** Ids past 16 bits: every block becomes 32-bit, one at a time. */
  private widen(): void {
    this.wide = true;
    this.ids = this.ids.map((b) => Int32Array.from(b));
  }

  private id(g: number): number {
    const b = Math.floor(g / this.block);
    return this.ids[b][g - b * this.block];
  }

  private isTrained(g: number): boolean {
    const b = Math.floor(g / this.block);
    return this.trained[b][g - b * this.block] === 1;
  }

  /** Bytes the arena holds (its arrays' capacity). */
  get byteLength(): number {
    let blocks = 0;
    for (let b = 0; b < this.ids.length; b++) blocks += this.ids[b].byteLength + this.trained[b].byteLength;
    return (
      blocks + this.starts.byteLength + this.lines.byteLength + this.rows.byteLength + this.failed.byteLength
    );
  }

  isFailure(i: number): boolean {
    return this.failed[i] === 1;
  }

  /** The example's untruncated length. */
  length(i: number): number {
    return this.starts[i + 1] - this.starts[i];
  }

  source(i: number): SourceLocation {
    const s: SourceLocation = { file: this.file };
    if (this.rows[i] > 0) s.row = this.rows[i];
    if (this.lines[i] > 0) s.line = this.lines[i];
    return s;
  }

  /** Ids and labels of example i, cut to `maxLength`. */
  sequence(i: number, maxLength = Number.POSITIVE_INFINITY): { inputIds: number[]; labels: number[] } {
    const from = this.starts[i];
    const n = Math.min(this.length(i), maxLength);
    const inputIds = new Array<number>(n);
    const labels = new Array<number>(n);
    for (let k = 0; k < n; k++) {
      inputIds[k] = this.id(from + k);
      labels[k] = this.isTrained(from + k) ? inputIds[k] : IGNORE_INDEX;
    }
    return { inputIds, labels };
  }

  /**
   * Why example i is left out at `maxLength` (tokenizeExample's reason), or null when it trains. With
   * `promptsOnly` every stored sequence is kept (prompts are not trained on).
   */
  problem(i: number, maxLength: number, promptsOnly = false): string | null {
    if (this.failed[i] === 1) return this.reasons.get(i) ?? '';
    if (promptsOnly) return null;
    const from = this.starts[i];
    const n = Math.min(this.length(i), maxLength);
    // Position 0 is never a target once labels are shifted (tokenize.ts's finish).
    for (let k = 1; k < n; k++) if (this.isTrained(from + k)) return null;
    let anyAtAll = false;
    for (let k = 1; k < this.length(i); k++) if (this.isTrained(from + k)) anyAtAll = true;
    return anyAtAll
      ? `the example has no token left to train on after truncation to ${maxLength} tokens`
      : 'the example has no token to train on (no completion or assistant turn)';
  }
}

export interface ArenaView {
  /** Examples kept at this length. */
  examples: number;
  /** Their untruncated lengths, in order (the histogram's input). */
  lengths: number[];
  skipped: number;
  issues: DataIssue[];
}

/** The counts tokenizeForSft would give at `maxLength` (or, for prompts, every prompt's length). */
export function sftView(
  arena: TokenArena,
  maxLength: number,
  o: { promptsOnly?: boolean; onError?: OnError; maxIssues?: number } = {},
): ArenaView {
  const log = new IssueLog(o.onError ?? 'skip', o.maxIssues ?? 20);
  const lengths: number[] = [];
  for (let i = 0; i < arena.count; i++) {
    const why = arena.problem(i, maxLength, o.promptsOnly);
    if (why === null) lengths.push(arena.length(i));
    else log.add(issue(arena.source(i), why));
  }
  return { examples: lengths.length, lengths, skipped: log.skipped, issues: log.issues };
}

/** The examples as tokenizeForSft(…, { maxLength }) gives them, built from the arena. */
export function sftExamples(
  arena: TokenArena,
  maxLength: number,
  o: { onError?: OnError; maxIssues?: number } = {},
): TokenizedDataset<TokenizedExample> {
  const log = new IssueLog(o.onError ?? 'skip', o.maxIssues ?? 20);
  const examples: TokenizedExample[] = [];
  for (let i = 0; i < arena.count; i++) {
    const why = arena.problem(i, maxLength);
    if (why !== null) {
      log.add(issue(arena.source(i), why));
      continue;
    }
    const fullLength = arena.length(i);
    examples.push({
      ...arena.sequence(i, maxLength),
      source: arena.source(i),
      fullLength,
      truncated: fullLength > maxLength,
    });
  }
  return { examples, skipped: log.skipped, issues: log.issues };
}

/**
 * Rows whose ids were built last, per sftRows call: a batch or a pack reads a row's ids and then its
 * labels, so a few suffice; more would keep their arrays alive long enough to be promoted to V8's old
 * generation, which a tight loop over every row fills with garbage (a peak, not a live set).
 */
const CACHED_ROWS = 4;

/**
 * One example of the arena at a sequence length, as a TokenizedExample whose ids and labels are built from
 * the arena when read (a few hundred kept), so a run's rows cost an object each, not 16 bytes a token.
 */
export class ArenaRow {
  constructor(
    private readonly arena: TokenArena,
    readonly index: number,
    private readonly maxLength: number,
    private readonly cache: Map<ArenaRow, { inputIds: number[]; labels: number[] }>,
  ) {}

  get inputIds(): number[] {
    return this.sequence().inputIds;
  }

  get labels(): number[] {
    return this.sequence().labels;
  }

  get source(): SourceLocation {
    return this.arena.source(this.index);
  }

  get fullLength(): number {
    return this.arena.length(this.index);
  }

  get truncated(): boolean {
    return this.fullLength > this.maxLength;
  }

  private sequence(): { inputIds: number[]; labels: number[] } {
    let s = this.cache.get(this);
    if (s) return s;
    s = this.arena.sequence(this.index, this.maxLength);
    this.cache.set(this, s);
    // A Map iterates in insertion order: the first key is the oldest.
    if (this.cache.size > CACHED_ROWS) this.cache.delete(this.cache.keys().next().value as ArenaRow);
    return s;
  }
}

/**
 * sftExamples' examples, kept in the arena: the same examples, skips and reasons in the same order, each an
 * ArenaRow (what a run trains on, so starting a run on a large dataset adds no copy of its tokens).
 */
export function sftRows(
  arena: TokenArena,
  maxLength: number,
  o: { onError?: OnError; maxIssues?: number } = {},
): TokenizedDataset<ArenaRow> {
  const log = new IssueLog(o.onError ?? 'skip', o.maxIssues ?? 20);
  const cache = new Map<ArenaRow, { inputIds: number[]; labels: number[] }>();
  const examples: ArenaRow[] = [];
  for (let i = 0; i < arena.count; i++) {
    const why = arena.problem(i, maxLength);
    if (why !== null) log.add(issue(arena.source(i), why));
    else examples.push(new ArenaRow(arena, i, maxLength, cache));
  }
  return { examples, skipped: log.skipped, issues: log.issues };
}
