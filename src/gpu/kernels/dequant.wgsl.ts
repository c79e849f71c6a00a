// WGSL that widens one element of a stored frozen weight to f32, shared by every kernel that reads weights
// (matmul's B, the embedding table, the dequant kernel): the word layouts are util/quant.ts's, so the
// shader and the float64 twin read the same bits. Math stays f32 and needs no shader-f16 feature.
import { type BaseDtype, NF4_BLOCK, NF4_CODES } from '../../util/quant';
import type { KernelLayout } from './bindings';
import { FLAT_BUILTINS, FLAT_INDEX } from './common';

/** The WGSL array type a weight's values are bound as. */
export const weightArrayType = (dtype: BaseDtype) => (dtype === 'f32' ? 'array<f32>' : 'array<u32>');

/** Module-scope declarations a reader needs (NF4's code table). */
export function weightReaderDecls(dtype: BaseDtype): string {
  if (dtype !== 'nf4') return '';
  const codes = NF4_CODES.map((c) => (Number.isInteger(c) ? `${c}.0` : `${c}`)).join(', ');
  return `var<private> NF4: array<f32, 16> = array<f32, 16>(${codes});`;
}

/**
 * `fn <name>(i: u32, ch: u32) -> f32`: element i of the weight bound as `values` (scales bound as `scales`),
 * ch its output channel (read by int8 only; others ignore it).
 */
export function weightReaderFn(
  name: string,
  dtype: BaseDtype,
  values: string,
  scales: string | null,
): string {
  const body = (() => {
    switch (dtype) {
      case 'f32':
        return `return ${values}[i];`;
      case 'f16':
        return `return unpack2x16float(${values}[i >> 1u])[i & 1u];`;
      case 'bf16':
        return `return bitcast<f32>(((${values}[i >> 1u] >> (16u * (i & 1u))) & 0xffffu) << 16u);`;
      case 'int8':
        // Move byte i&3 to the top, then an arithmetic shift sign-extends it.
        return `let q = bitcast<i32>(${values}[i >> 2u] << (24u - 8u * (i & 3u))) >> 24u;
  return f32(q) * ${scales}[ch];`;
      case 'nf4':
        return `let c = (${values}[i >> 3u] >> (4u * (i & 7u))) & 15u;
  return NF4[c] * ${scales}[i / ${NF4_BLOCK}u];`;
    }
  })();
  return `fn ${name}(i: u32, ch: u32) -> f32 {
  ${body}
}`;
}

/** out[e] = weight[e] widened to f32, e < n; the channel of e is e / cols (out_in) or e % cols (in_out). */
export function dequantWgsl(L: KernelLayout, dtype: BaseDtype, rowChannels: boolean): string {
  const { values, out } = L.id;
  const scales = L.id.scales ?? null;
  return `
struct P { n: u32, cols: u32 };
${L.decls('P')}
${weightReaderDecls(dtype)}
${weightReaderFn('readW', dtype, values, scales)}
@compute @workgroup_size(256)
fn main(${FLAT_BUILTINS}) {
  let e = ${FLAT_INDEX()};
  if (e >= p.n) { return; }
  let ch = ${rowChannels ? 'e / p.cols' : 'e % p.cols'};
  ${out}[e] = readW(e, ch);
}`;
}
