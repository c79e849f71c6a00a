// Packing: several tokenised examples per fixed-length row, so short examples do not waste a row of
// padding. Each example keeps its own positions (restarting at 0) and a segment id (1, 2, ...; 0 is
// padding), so attention can be blocked across examples, and the first token of each example gets
// label -100: with labels shifted inside the model, that label would be predicted from the previous
// example's last token. The batcher (batch.ts) takes these rows as they are.
import { IGNORE_INDEX } from './tokenize';

/** A tokenised example: labels aligned with inputIds. */
export interface Sequence {
  inputIds: readonly number[];
  labels: readonly number[];
}

/** One packed row of exactly seqLen tokens. */
export interface PackedRow {
  inputIds: number[];
  labels: number[];
  /** 0.. within each example; 0 on padding. */
  positionIds: number[];
  /** 1-based example number within the row; 0 on padding. */
  segmentIds: number[];
  /** Tokens that are not padding. */
  used: number;
  /** Indices (into the input) of the examples in this row, in row order. */
  examples: number[];
}

export interface PackOptions {
  seqLen: number;
  padId: number;
  /**
   * 'bfd' (default, TRL's): longest first, each into the fullest row it fits; 'sequential': in input
   * order, a new row whenever the next example does not fit. Neither splits an example; one longer
   * than seqLen is cut to seqLen.
   */
  strategy?: 'bfd' | 'sequential';
}

/** Packs examples into rows; deterministic (ties keep input order). */
export function packSequences(seqs: readonly Sequence[], options: PackOptions): PackedRow[] {
  const T = options.seqLen;
  if (!(T >= 1)) throw new RangeError(`seqLen must be at least 1, got ${T}`);
  const lens = seqs.map((s) => Math.min(s.inputIds.length, T));
  const order = seqs.map((_, i) => i).filter((i) => lens[i] > 0);
  const rows: number[][] = [];
  if ((options.strategy ?? 'bfd') === 'sequential') {
    let space = 0;
    for (const i of order) {
      if (rows.length === 0 || lens[i] > space) {
        rows.push([]);
        space = T;
      }
      rows[rows.length - 1].push(i);
      space -= lens[i];
    }
  } else {
    order.sort((a, b) => lens[b] - lens[a] || a - b);
    // byRoom[r]: rows (in creation order) with exactly r free tokens; best fit is the smallest r ≥ len.
    const byRoom: number[][] = Array.from({ length: T + 1 }, () => []);
    for (const i of order) {
      let r = lens[i];
      while (r <= T && byRoom[r].length === 0) r++;
      let row: number;
      if (r > T) {
        row = rows.length;
        rows.push([]);
        r = T;
      } else {
        row = byRoom[r].shift()!;
      }
      rows[row].push(i);
      const left = r - lens[i];
      // Keep each bucket sorted by row index so ties go to the oldest row.
      const bucket = byRoom[left];
      let at = bucket.length;
      while (at > 0 && bucket[at - 1] > row) at--;
      bucket.splice(at, 0, row);
    }
  }
  return rows.map((members) => buildRow(seqs, lens, members, T, options.padId));
}

function buildRow(
  seqs: readonly Sequence[],
  lens: number[],
  members: number[],
  T: number,
  padId: number,
): PackedRow {
  const inputIds: number[] = [];
  const labels: number[] = [];
  const positionIds: number[] = [];
  const segmentIds: number[] = [];
  members.forEach((i, k) => {
    // Read once: a row may build its ids when read (token-arena.ts's ArenaRow).
    const ids = seqs[i].inputIds;
    const labs = seqs[i].labels;
    for (let t = 0; t < lens[i]; t++) {
      inputIds.push(ids[t]);
      labels.push(t === 0 ? IGNORE_INDEX : labs[t]);
      positionIds.push(t);
      segmentIds.push(k + 1);
    }
  });
  const used = inputIds.length;
  while (inputIds.length < T) {
    inputIds.push(padId);
    labels.push(IGNORE_INDEX);
    positionIds.push(0);
    segmentIds.push(0);
  }
  return { inputIds, labels, positionIds, segmentIds, used, examples: members };
}
