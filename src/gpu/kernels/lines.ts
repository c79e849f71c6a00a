// Dispatch for the per-line kernels (lines.wgsl.ts): lineNorms (‖row‖ or ‖column‖ of a matrix, DoRA's weight
// norm) and scaleLines (each row or column times num/(den + eps): DoRA's and IA3's merges, DoRA's m/‖·‖).
// Both allow out === x (in place) and views of one flat buffer, through the shared binding planner.
import type { GpuRegion } from '../arena';
import { type GpuContext, Uniforms } from '../context';
import { type BindingSpec, memoKernel, planBindings } from './bindings';
import { grid1d } from './common';
import { LINE_WG, lineNormsWgsl, scaleLinesWgsl } from './lines.wgsl';

export interface LineNormsArgs<S = GpuRegion> {
  out: S;
  x: S;
  rows: number;
  cols: number;
  perRow: boolean;
}

/** out[k] = ‖line k of x‖₂ for x [rows, cols]; lines are rows (perRow) or columns. */
export function lineNorms(ctx: GpuContext, args: LineNormsArgs): void {
  const lines = args.perRow ? args.rows : args.cols;
  if (lines === 0) return;
  const L = planBindings('line_norms', [
    { name: 'x', region: args.x, write: false },
    { name: 'out', region: args.out, write: true },
  ]);
  ctx.dispatch({
    kernel: memoKernel(`line_norms:${L.sig}`, 'line_norms', () => lineNormsWgsl(L)),
    buffers: L.buffers,
    uniforms: new Uniforms()
      .u32(args.rows)
      .u32(args.cols)
      .u32(args.perRow ? 1 : 0).data,
    workgroups: grid1d(lines, LINE_WG),
  });
}

export interface ScaleLinesArgs<S = GpuRegion> {
  out: S;
  x: S;
  rows: number;
  cols: number;
  perRow: boolean;
  num: S | null;
  den: S | null;
  eps?: number;
}

/**
 * out[r,c] = x[r,c]·num[k]/(den[k] + eps) for x [rows, cols], k = r (perRow) or c. A null num or den
 * stands for ones (and eps applies only with den).
 */
export function scaleLines(ctx: GpuContext, args: ScaleLinesArgs): void {
  const n = args.rows * args.cols;
  if (n === 0) return;
  const specs: BindingSpec[] = [{ name: 'x', region: args.x, write: false }];
  if (args.num) specs.push({ name: 'num', region: args.num, write: false });
  if (args.den) specs.push({ name: 'den', region: args.den, write: false });
  specs.push({ name: 'out', region: args.out, write: true });
  const L = planBindings('scale_lines', specs);
  const hasNum = args.num !== null;
  const hasDen = args.den !== null;
  ctx.dispatch({
    kernel: memoKernel(`scale_lines:${hasNum}:${hasDen}:${L.sig}`, 'scale_lines', () =>
      scaleLinesWgsl(L, hasNum, hasDen),
    ),
    buffers: L.buffers,
    uniforms: new Uniforms()
      .u32(n)
      .u32(args.cols)
      .u32(args.perRow ? 1 : 0)
      .f32(args.eps ?? 0).data,
    workgroups: grid1d(n),
  });
}
