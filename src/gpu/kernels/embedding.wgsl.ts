// WGSL for embedding lookup (token and position tables) and its deterministic backward. The forward reads
// an f32 table or a frozen one in any stored format (dequant.wgsl.ts widens each element; no shader-f16
// feature is needed). The
// backward is a gather, not a scatter: positions are grouped by token id on the CPU (embedding.ts), and one
// thread owns each (token, column) of the gradient table, adding its positions in a fixed order.
// Bindings come from bindings.ts's planner, so tables and outputs may be views of one flat buffer.
import type { BaseDtype } from '../../util/quant';
import type { KernelLayout } from './bindings';
import { FLAT_BUILTINS, FLAT_INDEX } from './common';
import { weightReaderDecls, weightReaderFn } from './dequant.wgsl';

/**
 * out[i·dim + j] (+)= table[ids[i]·dim + j], one thread per output element. `ranged`: the table is rows
 * [offset, offset + rows) of a split table; an id outside them leaves its output untouched.
 */
export const embeddingWgsl = (
  L: KernelLayout,
  dtype: BaseDtype,
  rowChannels: boolean,
  accumulate: boolean,
  ranged = false,
) => {
  const { table, ids, out } = L.id;
  const idLine = ranged
    ? `let rel = ${ids}[row] - i32(p.offset);
  if (rel < 0 || rel >= i32(p.rows)) { return; }
  let id = u32(rel);`
    : `let id = u32(${ids}[row]);`;
  return `
struct P { total: u32, dim: u32${ranged ? ', offset: u32, rows: u32' : ''} };
${L.decls('P')}
${weightReaderDecls(dtype)}
${weightReaderFn('readTable', dtype, table, L.id.scales ?? null)}
@compute @workgroup_size(256)
fn main(${FLAT_BUILTINS}) {
  let t = ${FLAT_INDEX()};
  if (t >= p.total) { return; }
  let row = t / p.dim;
  let col = t - row * p.dim;
  ${idLine}
  let val = readTable(id * p.dim + col, ${rowChannels ? 'id' : 'col'});
  ${accumulate ? `${out}[t] = ${out}[t] + val;` : `${out}[t] = val;`}
}`;
};

/**
 * dTable[ids_u·dim + j] += Σ_k dOut[pos_k·dim + j] over the positions of unique id u, in position order.
 * `plan` packs [uniqueIds (U) | group starts (U+1) | positions sorted by id (N)] as u32.
 */
export const embeddingBackwardWgsl = (L: KernelLayout) => {
  const { dOut, plan, dTable } = L.id;
  return `
struct P { total: u32, dim: u32, unique: u32 };
${L.decls('P')}
@compute @workgroup_size(256)
fn main(${FLAT_BUILTINS}) {
  let t = ${FLAT_INDEX()};
  if (t >= p.total) { return; }
  let u = t / p.dim;
  let col = t - u * p.dim;
  let begin = ${plan}[p.unique + u];
  let end = ${plan}[p.unique + u + 1u];
  let posBase = 2u * p.unique + 1u;
  var acc = 0.0;
  for (var k = begin; k < end; k++) {
    acc += ${dOut}[${plan}[posBase + k] * p.dim + col];
  }
  let dst = ${plan}[u] * p.dim + col;
  ${dTable}[dst] = ${dTable}[dst] + acc;
}`;
};
