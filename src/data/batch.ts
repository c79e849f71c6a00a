// Fixed-shape batches for the training loop: [B, T] int32 inputIds, labels (-100 on padding), position
// and segment ids (segment 0 = padding; attention stays within a segment) and a 0/1 attention mask.
// Epochs are shuffled with a seed derived from (seed, epoch), so batch k of a run is the same after a
// resume. Rows come from tokenize.ts (one example each) or pack.ts (several).
import { permutation } from './split';
import { IGNORE_INDEX } from './tokenize';

/** A row to batch: positions and segments default to 0.. and 1 (one example). */
export interface BatchRow {
  inputIds: readonly number[];
  labels: readonly number[];
  positionIds?: readonly number[];
  segmentIds?: readonly number[];
}

export interface Batch {
  B: number;
  T: number;
  /** [B, T] row-major. */
  inputIds: Int32Array;
  labels: Int32Array;
  positionIds: Int32Array;
  segmentIds: Int32Array;
  /** 1 on tokens, 0 on padding (Hugging Face's attention_mask). */
  attentionMask: Int32Array;
  /** Tokens that are not padding. */
  tokens: number;
  /** Positions t ≥ 1 whose label counts in the shifted loss. */
  targets: number;
  /** Which input row fills each batch row (-1: an all-padding row). */
  rows: number[];
}

/** Lays rows into one [B, T] batch, cutting longer rows at T and padding shorter ones. */
export function makeBatch(
  rows: readonly (BatchRow | null)[],
  B: number,
  T: number,
  padId: number,
  ids?: number[],
): Batch {
  const n = B * T;
  const inputIds = new Int32Array(n).fill(padId);
  const labels = new Int32Array(n).fill(IGNORE_INDEX);
  const positionIds = new Int32Array(n);
  const segmentIds = new Int32Array(n);
  const attentionMask = new Int32Array(n);
  let tokens = 0;
  let targets = 0;
  for (let b = 0; b < B; b++) {
    const r = rows[b];
    if (!r) continue;
    // Read once: a row may build its ids when read (token-arena.ts's ArenaRow).
    const rowIds = r.inputIds;
    const rowLabels = r.labels;
    const len = Math.min(rowIds.length, T);
    for (let t = 0; t < len; t++) {
      const seg = r.segmentIds ? r.segmentIds[t] : 1;
      if (seg === 0) continue;
      const o = b * T + t;
      inputIds[o] = rowIds[t];
      labels[o] = rowLabels[t];
      positionIds[o] = r.positionIds ? r.positionIds[t] : t;
      segmentIds[o] = seg;
      attentionMask[o] = 1;
      tokens++;
      if (t > 0 && rowLabels[t] !== IGNORE_INDEX) targets++;
    }
  }
  const used = ids ?? rows.map((r, i) => (r ? i : -1));
  return {
    B,
    T,
    inputIds,
    labels,
    positionIds,
    segmentIds,
    attentionMask,
    tokens,
    targets,
    rows: used.slice(0, B),
  };
}

export interface BatcherOptions {
  batchSize: number;
  seqLen: number;
  padId: number;
  seed: number;
  /** Shuffle each epoch (default true; eval batchers pass false). */
  shuffle?: boolean;
  /** Drop an epoch's last incomplete batch instead of padding it with empty rows (default false). */
  dropLast?: boolean;
}

/** Serves batches by global step; epoch e is a seeded permutation of the rows. */
export class Batcher {
  readonly batchesPerEpoch: number;
  private cachedEpoch = -1;
  private order: number[] = [];

  constructor(
    readonly rows: readonly BatchRow[],
    readonly options: BatcherOptions,
  ) {
    if (rows.length === 0) throw new RangeError('no rows to batch');
    if (options.batchSize < 1 || options.seqLen < 1)
      throw new RangeError('batchSize and seqLen must be at least 1');
    const full = Math.floor(rows.length / options.batchSize);
    this.batchesPerEpoch = options.dropLast && full > 0 ? full : Math.ceil(rows.length / options.batchSize);
  }

  epochOf(step: number): number {
    return Math.floor(step / this.batchesPerEpoch);
  }

  /** The batch for a global step (0-based); the same step always gives the same batch. */
  batchAt(step: number): Batch {
    const epoch = this.epochOf(step);
    const k = step - epoch * this.batchesPerEpoch;
    if (epoch !== this.cachedEpoch) {
      const n = this.rows.length;
      // Mix the epoch into the seed so epochs differ but each is reproducible on its own.
      const seed = (this.options.seed ^ Math.imul(epoch + 1, 0x9e3779b9)) >>> 0;
      this.order =
        this.options.shuffle === false ? Array.from({ length: n }, (_, i) => i) : permutation(n, seed);
      this.cachedEpoch = epoch;
    }
    const B = this.options.batchSize;
    const ids = this.order.slice(k * B, k * B + B);
    while (ids.length < B) ids.push(-1);
    return makeBatch(
      ids.map((i) => (i >= 0 ? this.rows[i] : null)),
      B,
      this.options.seqLen,
      this.options.padId,
      ids,
    );
  }

  /** Every batch of one epoch, in order (for evaluation). */
  *epoch(e: number): Generator<Batch> {
    for (let k = 0; k < this.batchesPerEpoch; k++) yield this.batchAt(e * this.batchesPerEpoch + k);
  }
}
