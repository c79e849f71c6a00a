// WGSL for the 'flash' attention variant: register-blocked, barrier-free FlashAttention-2. Each invocation owns
// a block of R rows (queries for the forward and dQ, keys for dK/dV) and walks the rows it attends over in
// tiles of C, so every k/v (or q/dO) row it loads from global memory serves R own rows instead of one, and the
// R×C scores of a tile live in registers (the generated code names each one). The forward folds a tile into a
// running max / normaliser per row (online softmax) and rescales the accumulator in the same pass that adds
// P·V. The backward is two independent kernels over the saved lse and Δ: dQ per query block, and dK/dV per key
// block (one pass over the queries that see it, computing both), so nothing is written twice and no atomics
// are needed. Same features and layouts as the 'rows' kernels in attention.wgsl.ts (prefix keys, KV-cache
// stride and kvstart, segments, GQA); dispatch lives in attention.ts.
//
// Own rows past the end are clamped to the last row (loads stay in bounds) and never stored; a looped-over row
// that is masked (causal, kvstart, segment, past the end) gets probability exactly 0 through a select.
import {
  type AttentionDeclare,
  type AttentionShader,
  attentionWidth,
  dkvBindings,
  dqBindings,
  forwardBindings,
  plainAttentionDecls,
  preamble,
} from './attention.wgsl';
import { FLAT_BUILTINS, FLAT_INDEX } from './common';

/** Block shape: R own rows and C looped-over rows per tile, per invocation; wg invocations per workgroup. */
export interface FlashShape {
  R: number;
  C: number;
  wg: number;
}

export const FLASH_SHAPE: FlashShape = { R: 4, C: 4, wg: 16 };

const range = (n: number): number[] => Array.from({ length: n }, (_, i) => i);
/** One generated line per index, joined. */
const each = (n: number, f: (i: number) => string, sep = '\n'): string => range(n).map(f).join(sep);
/** One generated line per (r, c) pair. */
const pairs = (R: number, C: number, f: (r: number, c: number) => string): string =>
  range(R)
    .flatMap((r) => range(C).map((c) => f(r, c)))
    .join('\n');

const MASKED = '-3.0e38';

/** Flat invocation index → (blk, head, b): blocks fastest, so neighbours share the rows they loop over. */
const locateBlock = (wg: number, rows: string, heads: string, batch: string, R: number) => `
  let i = ${FLAT_INDEX(wg)};
  let nblk = (${rows} + ${R - 1}u) / ${R}u;
  if (i >= ${batch} * ${heads} * nblk) { return; }
  let blk = i % nblk;
  let hh = (i / nblk) % ${heads};
  let b = i / (nblk * ${heads});`;

/**
 * Forward: out = softmax(scale·q·kᵀ)·v for R queries of one (b, head), key tiles prefix first, then real keys
 * first..last (the block's last query's last key). Each row r keeps m, l and acc; per tile the new max is
 * taken over the tile's visible scores, acc and l are rescaled by exp(m − m') and the tile's exp(s − m') added.
 */
export function attentionForwardFlashWgsl(
  D: number,
  prefix: boolean,
  start = false,
  seg = false,
  declare: AttentionDeclare = plainAttentionDecls,
  shape: FlashShape = FLASH_SHAPE,
): AttentionShader {
  const { R, C, wg } = shape;
  const W = attentionWidth(D);
  const bindings = forwardBindings(prefix, start, seg);
  // One tile of C keys whose row offsets are ko0..ko{C-1} and visibility vis{r}_{c}.
  const tile = (kb: string, vb: string) => `
${pairs(R, C, (r, c) => `    var s${r}_${c} = 0.0;`)}
    for (var d = 0u; d < DW; d++) {
${each(C, (c) => `      let k${c} = ${kb}[ko${c} + d];`)}
${each(R, (r) => `      let q${r} = qs[${r * (D / W)}u + d];\n${each(C, (c) => `      s${r}_${c} += hsum(q${r} * k${c});`)}`)}
    }
${each(
  R,
  (
    r,
  ) => `    let mx${r} = max(m${r}, ${MAXOF(range(C).map((c) => `select(${MASKED}, s${r}_${c}, vis${r}_${c})`))});
    let cr${r} = exp(m${r} - mx${r});
${each(C, (c) => `    let e${r}_${c} = select(0.0, exp(s${r}_${c} - mx${r}), vis${r}_${c});`)}
    l${r} = l${r} * cr${r} + ${range(C)
      .map((c) => `e${r}_${c}`)
      .join(' + ')};
    m${r} = mx${r};`,
)}
    for (var d = 0u; d < DW; d++) {
${each(C, (c) => `      let v${c} = ${vb}[ko${c} + d];`)}
${each(
  R,
  (r) =>
    `      let a${r} = ${r * (D / W)}u + d;\n      acc[a${r}] = acc[a${r}] * cr${r} + ${range(C)
      .map((c) => `e${r}_${c} * v${c}`)
      .join(' + ')};`,
)}
    }`;
  const code = `${preamble(D, W, declare(bindings))}
@compute @workgroup_size(${wg})
fn main(${FLAT_BUILTINS}) {${locateBlock(wg, 'p.T', 'p.Hq', 'p.B', R)}
  let h = hh;
  let kh = h / p.G;
  let tb = blk * ${R}u;
${each(
  R,
  (r) => `  let t${r} = min(tb + ${r}u, p.T - 1u);
  let qo${r} = ((b * p.T + t${r}) * p.Hq + h) * DW;
  // Query t sits at position t + S − T among the real keys.
  let last${r} = t${r} + p.S - p.T;${seg ? `\n  let sq${r} = seg[b * p.S + last${r}];` : ''}
  var m${r} = ${MASKED};
  var l${r} = 0.0;`,
)}
  var qs: array<VT, ${R * (D / W)}>;
  var acc: array<VT, ${R * (D / W)}>;
  for (var d = 0u; d < DW; d++) {
${each(R, (r) => `    qs[${r * (D / W)}u + d] = q[qo${r} + d] * p.scale;\n    acc[${r * (D / W)}u + d] = VT(0.0);`)}
  }
  ${
    prefix
      ? `for (var u0 = 0u; u0 < p.P; u0 += ${C}u) {
${each(C, (c) => `    let ko${c} = (min(u0 + ${c}u, p.P - 1u) * p.Hkv + kh) * DW;\n${each(R, (r) => `    let vis${r}_${c} = u0 + ${c}u < p.P;`)}`)}
${tile('pk', 'pv')}
  }`
      : ''
  }
  // Real keys: first..the block's last query's last key (the other rows mask what they do not see).
  let jend = last${R - 1} + 1u;
  for (var jt = ${start ? 'u32(kvstart[b])' : '0u'}; jt < jend; jt += ${C}u) {
${each(
  C,
  (c) => `    let j${c} = min(jt + ${c}u, jend - 1u);
    let ko${c} = ((b * p.kvStride + j${c}) * p.Hkv + kh) * DW;${seg ? `\n    let sk${c} = seg[b * p.S + j${c}];` : ''}
${each(R, (r) => `    let vis${r}_${c} = jt + ${c}u <= last${r}${seg ? ` && (sk${c} == sq${r} || sk${c} < 0)` : ''};`)}`,
)}
${tile('k', 'v')}
  }
${each(
  R,
  (r) => `  if (tb + ${r}u < p.T) {
    // Every query sees its own key (l >= 1), except a padding query under kvstart: zeros, not 0/0.
    let inv = ${start ? `select(0.0, 1.0 / l${r}, l${r} > 0.0)` : `1.0 / l${r}`};
    for (var d = 0u; d < DW; d++) { out[qo${r} + d] = acc[${r * (D / W)}u + d] * inv; }
    lse[(b * p.Hq + h) * p.T + t${r}] = m${r} + log(l${r});
  }`,
)}
}`;
  return { code, bindings };
}

/** max(a, max(b, …)) over a list of WGSL expressions (WGSL's max takes two). */
function MAXOF(xs: string[]): string {
  return xs.length === 1 ? xs[0] : `max(${xs[0]}, ${MAXOF(xs.slice(1))})`;
}

/** dQ for R queries of one (b, head): dS = P·(dO·v − Δ) per tile of keys, dq = scale·Σ dS·k. */
export function attentionDqFlashWgsl(
  D: number,
  prefix: boolean,
  seg = false,
  declare: AttentionDeclare = plainAttentionDecls,
  shape: FlashShape = FLASH_SHAPE,
): AttentionShader {
  const { R, C, wg } = shape;
  const W = attentionWidth(D);
  const DW = D / W;
  const bindings = dqBindings(prefix, seg);
  const tile = (kb: string, vb: string) => `
${pairs(R, C, (r, c) => `    var s${r}_${c} = 0.0;\n    var dp${r}_${c} = 0.0;`)}
    for (var d = 0u; d < DW; d++) {
${each(C, (c) => `      let k${c} = ${kb}[ko${c} + d];\n      let v${c} = ${vb}[ko${c} + d];`)}
${each(
  R,
  (r) =>
    `      let q${r} = qs[${r * DW}u + d];\n      let o${r} = dor[${r * DW}u + d];\n${each(C, (c) => `      s${r}_${c} += hsum(q${r} * k${c});\n      dp${r}_${c} += hsum(o${r} * v${c});`)}`,
)}
    }
${pairs(R, C, (r, c) => `    let ds${r}_${c} = select(0.0, exp(s${r}_${c} - L${r}) * (dp${r}_${c} - dl${r}), vis${r}_${c});`)}
    for (var d = 0u; d < DW; d++) {
${each(C, (c) => `      let k${c} = ${kb}[ko${c} + d];`)}
${each(
  R,
  (r) =>
    `      let a${r} = ${r * DW}u + d;\n      acc[a${r}] += ${range(C)
      .map((c) => `ds${r}_${c} * k${c}`)
      .join(' + ')};`,
)}
    }`;
  const code = `${preamble(D, W, declare(bindings))}
@compute @workgroup_size(${wg})
fn main(${FLAT_BUILTINS}) {${locateBlock(wg, 'p.T', 'p.Hq', 'p.B', R)}
  let h = hh;
  let kh = h / p.G;
  let tb = blk * ${R}u;
${each(
  R,
  (r) => `  let t${r} = min(tb + ${r}u, p.T - 1u);
  let qo${r} = ((b * p.T + t${r}) * p.Hq + h) * DW;
  let row${r} = (b * p.Hq + h) * p.T + t${r};
  let last${r} = t${r} + p.S - p.T;${seg ? `\n  let sq${r} = seg[b * p.S + last${r}];` : ''}
  let L${r} = lse[row${r}];
  let dl${r} = delta[row${r}];`,
)}
  var qs: array<VT, ${R * DW}>;
  var dor: array<VT, ${R * DW}>;
  var acc: array<VT, ${R * DW}>;
  for (var d = 0u; d < DW; d++) {
${each(R, (r) => `    qs[${r * DW}u + d] = q[qo${r} + d] * p.scale;\n    dor[${r * DW}u + d] = dout[qo${r} + d];\n    acc[${r * DW}u + d] = VT(0.0);`)}
  }
  ${
    prefix
      ? `for (var u0 = 0u; u0 < p.P; u0 += ${C}u) {
${each(C, (c) => `    let ko${c} = (min(u0 + ${c}u, p.P - 1u) * p.Hkv + kh) * DW;\n${each(R, (r) => `    let vis${r}_${c} = u0 + ${c}u < p.P;`)}`)}
${tile('pk', 'pv')}
  }`
      : ''
  }
  let jend = last${R - 1} + 1u;
  for (var jt = 0u; jt < jend; jt += ${C}u) {
${each(
  C,
  (c) => `    let j${c} = min(jt + ${c}u, jend - 1u);
    let ko${c} = ((b * p.S + j${c}) * p.Hkv + kh) * DW;${seg ? `\n    let sk${c} = seg[b * p.S + j${c}];` : ''}
${each(R, (r) => `    let vis${r}_${c} = jt + ${c}u <= last${r}${seg ? ` && (sk${c} == sq${r} || sk${c} < 0)` : ''};`)}`,
)}
${tile('k', 'v')}
  }
${each(
  R,
  (r) => `  if (tb + ${r}u < p.T) {
    for (var d = 0u; d < DW; d++) { dq[qo${r} + d] = acc[${r * DW}u + d] * p.scale; }
  }`,
)}
}`;
  return { code, bindings };
}

/**
 * dK/dV for R key rows of one kv head: real keys (b, j0..j0+R−1), seen by queries t ≥ j − (S − T) of the G
 * query heads in the group; or prefix rows (`prefix`), seen by every query of every batch item. One pass over
 * query tiles computes both: dv = Σ P·dO, dk = scale·Σ P·(dO·v − Δ)·q. A gradient not wanted is neither
 * declared nor computed, as in attentionDkvWgsl.
 */
export function attentionDkvFlashWgsl(
  D: number,
  prefix: boolean,
  wantDk: boolean,
  wantDv: boolean,
  seg = false,
  declare: AttentionDeclare = plainAttentionDecls,
  shape: FlashShape = FLASH_SHAPE,
): AttentionShader {
  if (!wantDk && !wantDv) throw new Error('attentionDkvFlashWgsl: nothing to compute');
  const { R, C, wg } = shape;
  const masked = seg && !prefix;
  const W = attentionWidth(D);
  const DW = D / W;
  const kb = prefix ? 'pk' : 'k';
  const vb = prefix ? 'pv' : 'v';
  const gkb = prefix ? 'dpk' : 'dk';
  const gvb = prefix ? 'dpv' : 'dv';
  const bindings = dkvBindings(prefix, wantDk, wantDv, masked);
  const nrows = prefix ? 'p.P' : 'p.S';
  const code = `${preamble(D, W, declare(bindings))}
@compute @workgroup_size(${wg})
fn main(${FLAT_BUILTINS}) {${locateBlock(wg, nrows, 'p.Hkv', prefix ? '1u' : 'p.B', R)}
  let kh = hh;
  let jb = blk * ${R}u;
${each(
  R,
  (r) => `  let j${r} = min(jb + ${r}u, ${nrows} - 1u);
  let ko${r} = (${prefix ? `j${r}` : `(b * p.S + j${r})`} * p.Hkv + kh) * DW;${masked ? `\n  let sk${r} = seg[b * p.S + j${r}];` : ''}`,
)}
  var ks: array<VT, ${R * DW}>;
  ${wantDk ? `var vr: array<VT, ${R * DW}>;\n  var gk: array<VT, ${R * DW}>;` : ''}
  ${wantDv ? `var gv: array<VT, ${R * DW}>;` : ''}
  for (var d = 0u; d < DW; d++) {
${each(
  R,
  (r) =>
    `    ks[${r * DW}u + d] = ${kb}[ko${r} + d] * p.scale;${
      wantDk ? `\n    vr[${r * DW}u + d] = ${vb}[ko${r} + d];\n    gk[${r * DW}u + d] = VT(0.0);` : ''
    }${wantDv ? `\n    gv[${r * DW}u + d] = VT(0.0);` : ''}`,
)}
  }
  // Prefix rows are shared by the batch and seen by every query; real key j by queries t + S − T >= j, so
  // the block's first key decides where its query tiles start.
  let b0 = ${prefix ? '0u' : 'b'};
  let b1 = ${prefix ? 'p.B' : 'b + 1u'};
  let tfirst = ${prefix ? '0u' : 'max(jb + p.T, p.S) - p.S'};
  for (var bb = b0; bb < b1; bb++) {
    for (var g = 0u; g < p.G; g++) {
      let h = kh * p.G + g;
      for (var tq = tfirst; tq < p.T; tq += ${C}u) {
${each(
  C,
  (c) => `        let t${c} = min(tq + ${c}u, p.T - 1u);
        let qo${c} = ((bb * p.T + t${c}) * p.Hq + h) * DW;
        let row${c} = (bb * p.Hq + h) * p.T + t${c};
        let L${c} = lse[row${c}];${wantDk ? `\n        let dl${c} = delta[row${c}];` : ''}${masked ? `\n        let sq${c} = seg[bb * p.S + t${c} + p.S - p.T];` : ''}
${each(
  R,
  (r) =>
    `        let vis${r}_${c} = tq + ${c}u < p.T${prefix ? '' : ` && t${c} + p.S - p.T >= j${r}`}${masked ? ` && (sk${r} < 0 || sq${c} == sk${r})` : ''};`,
)}`,
)}
${pairs(R, C, (r, c) => `        var s${r}_${c} = 0.0;${wantDk ? `\n        var dp${r}_${c} = 0.0;` : ''}`)}
        for (var d = 0u; d < DW; d++) {
${each(C, (c) => `          let q${c} = q[qo${c} + d];${wantDk ? `\n          let o${c} = dout[qo${c} + d];` : ''}`)}
${each(
  R,
  (r) =>
    `          let kk${r} = ks[${r * DW}u + d];${wantDk ? `\n          let vv${r} = vr[${r * DW}u + d];` : ''}\n${each(C, (c) => `          s${r}_${c} += hsum(kk${r} * q${c});${wantDk ? `\n          dp${r}_${c} += hsum(vv${r} * o${c});` : ''}`)}`,
)}
        }
${pairs(R, C, (r, c) => `        let pr${r}_${c} = select(0.0, exp(s${r}_${c} - L${c}), vis${r}_${c});${wantDk ? `\n        let ds${r}_${c} = pr${r}_${c} * (dp${r}_${c} - dl${c});` : ''}`)}
        for (var d = 0u; d < DW; d++) {
${each(C, (c) => `${wantDk ? `          let q${c} = q[qo${c} + d];\n` : ''}${wantDv ? `          let o${c} = dout[qo${c} + d];` : ''}`)}
${each(
  R,
  (r) =>
    `          let a${r} = ${r * DW}u + d;${
      wantDk
        ? `\n          gk[a${r}] += ${range(C)
            .map((c) => `ds${r}_${c} * q${c}`)
            .join(' + ')};`
        : ''
    }${
      wantDv
        ? `\n          gv[a${r}] += ${range(C)
            .map((c) => `pr${r}_${c} * o${c}`)
            .join(' + ')};`
        : ''
    }`,
)}
        }
      }
    }
  }
${each(
  R,
  (r) => `  if (jb + ${r}u < ${nrows}) {
    for (var d = 0u; d < DW; d++) {${wantDk ? `\n      ${gkb}[ko${r} + d] = gk[${r * DW}u + d] * p.scale;` : ''}${
      wantDv ? `\n      ${gvb}[ko${r} + d] = gv[${r * DW}u + d];` : ''
    }
    }
  }`,
)}
}`;
  return { code, bindings };
}
