// The subgroup row reduction (issue 12) for the norms: a workgroup per row, as rows.ts's 'workgroup'
// frame, but each subgroup sums its invocations with subgroupAdd and only the per-subgroup partials meet
// in workgroup memory: two barriers per reduction instead of the tree's eight. Used where the device has
// the `subgroups` feature and the row would otherwise take a workgroup (wide rows on a hardware GPU, very
// few rows on a software one); thread-per-row stays where it wins. Any subgroup size works: partials go to
// slot local_index / subgroup_size, which assumes subgroups cover consecutive local invocation indices (how
// Dawn's backends lay out a 1-D workgroup), and a subgroup wider than the workgroup fills slot 0 alone.
import type { GpuContext } from '../context';
import { FLAT_BUILTINS } from './common';
import { ROW_WG, type RowFrame, type RowVariant, rowFrame, rowGrid, rowVariant } from './rows';

export type NormVariant = RowVariant | 'subgroup';

/** A row frame plus what its module needs around it: the enable directive and the entry's builtins. */
export interface NormFrame extends RowFrame {
  /** Module prefix (`enable subgroups;` for the subgroup frame). */
  enable: string;
  /** The entry point's parameter list. */
  builtins: string;
}

const SUBGROUP_DECLS = `
const SG_SLOTS = ${ROW_WG}u;
var<workgroup> sgPart: array<f32, ${ROW_WG}>;
var<workgroup> sgPart2: array<vec2<f32>, ${ROW_WG}>;
fn sgSum(v: f32, t: u32, sgi: u32, sgs: u32) -> f32 {
  let s = subgroupAdd(v);
  if (sgi == 0u) { sgPart[t / sgs] = s; }
  workgroupBarrier();
  var total = 0.0;
  for (var k = 0u; k < (SG_SLOTS + sgs - 1u) / sgs; k++) { total += sgPart[k]; }
  workgroupBarrier();
  return total;
}
fn sgSum2(v: vec2<f32>, t: u32, sgi: u32, sgs: u32) -> vec2<f32> {
  let s = subgroupAdd(v);
  if (sgi == 0u) { sgPart2[t / sgs] = s; }
  workgroupBarrier();
  var total = vec2<f32>(0.0, 0.0);
  for (var k = 0u; k < (SG_SLOTS + sgs - 1u) / sgs; k++) { total += sgPart2[k]; }
  workgroupBarrier();
  return total;
}`;

export function normFrame(v: NormVariant): NormFrame {
  if (v !== 'subgroup') return { ...rowFrame(v), enable: '', builtins: FLAT_BUILTINS };
  const wg = rowFrame('workgroup');
  return {
    ...wg,
    decls: SUBGROUP_DECLS,
    sum: (e) => `sgSum(${e}, lid.x, sgi, sgs)`,
    sum2: (e) => `sgSum2(${e}, lid.x, sgi, sgs)`,
    enable: 'enable subgroups;\n',
    builtins: `${FLAT_BUILTINS}, @builtin(subgroup_invocation_id) sgi: u32, @builtin(subgroup_size) sgs: u32`,
  };
}

/**
 * rows.ts's choice, with 'subgroup' in place of 'workgroup' where the device has subgroups.
 * `ctx.variants.get('rowreduce')` forces any of the three ('subgroup' falls back to 'workgroup' without
 * the feature); a forced 'workgroup' stays the tree.
 */
export function normVariant(ctx: GpuContext, rows: number, cols: number): NormVariant {
  const forced = ctx.variants.get('rowreduce');
  if (forced === 'subgroup') return ctx.features.subgroups ? 'subgroup' : 'workgroup';
  const v = rowVariant(ctx, rows, cols);
  if (forced === 'workgroup' || forced === 'thread') return v;
  return v === 'workgroup' && ctx.features.subgroups ? 'subgroup' : v;
}

/** The grid: a workgroup per row for the subgroup frame, as for 'workgroup'. */
export const normGrid = (v: NormVariant, rows: number): [number, number] =>
  rowGrid(v === 'subgroup' ? 'workgroup' : v, rows);
