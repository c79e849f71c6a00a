// CPU float64 twins of embedding.ts: lookup and the scatter-add backward.

import { putInto } from './common';
import type { EmbeddingBackwardArgs, EmbeddingOpArgs } from './embedding';

/** out[i·dim + j] = table[ids[i]·dim + j]. */
export function embeddingRef(table: ArrayLike<number>, ids: ArrayLike<number>, dim: number): Float64Array {
  const out = new Float64Array(ids.length * dim);
  for (let i = 0; i < ids.length; i++) {
    for (let j = 0; j < dim; j++) out[i * dim + j] = table[ids[i] * dim + j];
  }
  return out;
}

/** dTable [V·dim] with dTable[v] = Σ_{i: ids[i] = v} dOut[i]. */
export function embeddingBackwardRef(
  dOut: ArrayLike<number>,
  ids: ArrayLike<number>,
  V: number,
  dim: number,
): Float64Array {
  const dTable = new Float64Array(V * dim);
  for (let i = 0; i < ids.length; i++) {
    for (let j = 0; j < dim; j++) dTable[ids[i] * dim + j] += dOut[i * dim + j];
  }
  return dTable;
}

/** The twin of the embedding op (reads the CPU ids); a part of a split table (rowOffset/rows) writes only its ids. */
export function embeddingTwin(p: EmbeddingOpArgs<Float64Array, Int32Array>): void {
  if (p.rows === undefined && p.rowOffset === undefined) {
    putInto(p.out, embeddingRef(p.table, p.idsCpu, p.dim), p.accumulate);
    return;
  }
  const off = p.rowOffset ?? 0;
  const rows = p.rows ?? p.table.length / p.dim;
  for (let i = 0; i < p.N; i++) {
    const id = p.idsCpu[i] - off;
    if (id < 0 || id >= rows) continue;
    for (let j = 0; j < p.dim; j++) {
      const v = p.table[id * p.dim + j];
      p.out[i * p.dim + j] = p.accumulate ? p.out[i * p.dim + j] + v : v;
    }
  }
}

/** The twin of the embedding backward: dTable += the gathered rows of dOut. */
export function embeddingBackwardTwin(p: EmbeddingBackwardArgs<Float64Array>): void {
  putInto(p.dTable, embeddingBackwardRef(p.dOut, p.idsCpu, p.dTable.length / p.dim, p.dim), true);
}
