// The 'quad' variant's dK/dV from stored probabilities: when the shapes are small enough (attention.ts
// decides), the quad dQ kernel also writes each visited pair's P = exp(s − lse) and dS = P·(dO·v − Δ) to two
// workspace matrices, and this kernel reads them instead of recomputing q·k and dO·v: dv = Σ P·dO and
// dk = scale·Σ dS·q, two products per pair instead of four. Real keys only, no prefix (prefix rows keep the
// recomputing kernel); segments need nothing here, since dQ stored 0 for the pairs they mask.
//
// Layout of pmat/dsmat: [b, h, ⌈T/2⌉, S, 2], pair (t, j) at ((b·Hq + h)·⌈T/2⌉ + t/2)·S·2 + 2j + t%2, so the dQ
// kernel's 4 lanes store 4 consecutive words (two rows by two keys). Pairs dQ never visits (causally masked
// past its block's last key) are never written: this kernel masks them by position before using a value.
import {
  type AttentionBinding,
  type AttentionDeclare,
  type AttentionShader,
  plainAttentionDecls,
} from './attention.wgsl';
import {
  each,
  header,
  lanes,
  locate,
  QUAD_SHAPE,
  type QuadShape,
  range,
  STORED_BINDINGS,
  sum,
} from './attention-quad.wgsl';
import { FLAT_BUILTINS } from './common';

/** Bytes of one stored matrix (P or dS) for B·Hq heads of T queries by S keys. */
export const storedMatrixBytes = (B: number, Hq: number, T: number, S: number): number =>
  B * Hq * Math.ceil(T / 2) * 2 * S * 4;

/** The stored-path dK/dV bindings: q and dO, the matrices each wanted gradient reads, the gradients. */
export function dkvStoredBindings(wantDk: boolean, wantDv: boolean): AttentionBinding[] {
  const [pm, dsm] = STORED_BINDINGS;
  return [
    ...(wantDk ? [{ name: 'q', write: false }] : []),
    ...(wantDv ? [{ name: 'dout', write: false }] : []),
    ...(wantDv ? [pm] : []),
    ...(wantDk ? [dsm] : []),
    ...(wantDk ? [{ name: 'dk', write: true }] : []),
    ...(wantDv ? [{ name: 'dv', write: true }] : []),
  ];
}

/** dK/dV for R real key rows of one kv head and batch item, from the stored P and dS. */
export function attentionDkvStoredWgsl(
  D: number,
  wantDk: boolean,
  wantDv: boolean,
  declare: AttentionDeclare = plainAttentionDecls,
  shape: QuadShape = QUAD_SHAPE,
): AttentionShader {
  if (!wantDk && !wantDv) throw new Error('attentionDkvStoredWgsl: nothing to compute');
  const { R, C, wg } = shape;
  const L = lanes(D, shape.unroll);
  const NI = L.NI;
  const bindings = dkvStoredBindings(wantDk, wantDv);
  const code = `${header(D, declare(bindings))}
@compute @workgroup_size(${wg})
fn main(${FLAT_BUILTINS}) {${locate(wg, 'p.S', 'p.Hkv', 'p.B', R)}
  let kh = hh;
  let jb = blk * ${R}u;
  let NH = (p.T + 1u) / 2u;
${each(R, (r) => `  let j${r} = min(jb + ${r}u, p.S - 1u);\n  let ko${r} = ((b * p.S + j${r}) * p.Hkv + kh) * DW;`)}
  ${wantDk ? `var gk: array<f32, ${R * NI}>;` : ''}
  ${wantDv ? `var gv: array<f32, ${R * NI}>;` : ''}
${L.loop(
  (i) =>
    each(
      R,
      (r) =>
        `${wantDk ? `    gk[${r * NI}u + ${i}] = 0.0;` : ''}${wantDv ? `\n    gv[${r * NI}u + ${i}] = 0.0;` : ''}`,
    ),
  '  ',
)}
  let tfirst = max(jb + p.T, p.S) - p.S;
  for (var g = 0u; g < p.G; g++) {
    let h = kh * p.G + g;
    for (var tq = tfirst; tq < p.T; tq += ${C}u) {
${each(
  C,
  (c) => `      let t${c} = min(tq + ${c}u, p.T - 1u);
      let qo${c} = ((b * p.T + t${c}) * p.Hq + h) * DW;
      let rowo${c} = ((b * p.Hq + h) * NH + t${c} / 2u) * p.S * 2u + (t${c} & 1u);
${each(
  R,
  (r) => `      let vis${r}_${c} = tq + ${c}u < p.T && t${c} + p.S - p.T >= j${r};
${wantDv ? `      let pr${r}_${c} = select(0.0, pmat[rowo${c} + 2u * j${r}], vis${r}_${c});` : ''}
${wantDk ? `      let ds${r}_${c} = select(0.0, dsmat[rowo${c} + 2u * j${r}], vis${r}_${c});` : ''}`,
)}`,
)}
${L.loop(
  (
    i,
  ) => `${each(C, (c) => `${wantDk ? `        let q${c} = q[qo${c} + ${L.e(i)}];\n` : ''}${wantDv ? `        let o${c} = dout[qo${c} + ${L.e(i)}];` : ''}`)}
${each(
  R,
  (r) =>
    `${wantDk ? `        gk[${r * NI}u + ${i}] += ${sum(range(C).map((c) => `ds${r}_${c} * q${c}`))};\n` : ''}${
      wantDv ? `        gv[${r * NI}u + ${i}] += ${sum(range(C).map((c) => `pr${r}_${c} * o${c}`))};` : ''
    }`,
)}`,
  '      ',
)}
    }
  }
${each(
  R,
  (r) => `  if (jb + ${r}u < p.S) {
${L.loop((i) => {
  const live = L.live(i);
  const st = `${wantDk ? `dk[ko${r} + ${L.e(i)}] = gk[${r * NI}u + ${i}] * p.scale; ` : ''}${
    wantDv ? `dv[ko${r} + ${L.e(i)}] = gv[${r * NI}u + ${i}];` : ''
  }`;
  return `      ${live ? `if (${live}) { ${st} }` : st}`;
}, '    ')}
  }`,
)}
}`;
  return { code, bindings };
}
