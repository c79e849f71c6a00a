// WGSL for the 'quad' attention variant (needs the `subgroups` feature): the flash variant's register blocks
// (R own rows per block, tiles of C looped-over rows, online softmax, recomputing backward) with each block
// owned by a QUAD of invocations that split head_dim between them: lane l of the quad holds elements
// d = 4·i + l (i < ⌈D/4⌉) of every row it touches. So at every load the quad's 4 lanes read 4 consecutive
// words, which SwiftShader (its SIMD group is 4 consecutive invocations) turns into one vector load instead of
// a per-lane gather, and the row sums (scores q·k, dO·v, Δ = dO·out) close with two quad swaps. Everything
// else (probabilities, running max) is computed identically by the 4 lanes. On hardware GPUs the same layout
// reads contiguous words per quad; 'flash' stays the default there.
//
// The dQ kernel also computes Δ for its queries (each quad loads its dO and out rows anyway) and writes it for
// the dK/dV kernel, which runs after it: the separate Δ pass is not needed when dq is wanted. With `store` it
// also writes every visited pair's P and dS for the stored-path dK/dV (attention-quad-stored.wgsl.ts).
//
// Features and layouts are those of attention.wgsl.ts (prefix keys, KV-cache stride and kvstart, segments,
// GQA); own rows past the end are clamped (loads in bounds) and never stored, masked looped-over rows get
// probability exactly 0 through a select, and lanes past D (D % 4 ≠ 0) hold zeros in their own rows and
// read a clamped element of the others, so they add nothing to a sum and are never stored.
import {
  type AttentionBinding,
  type AttentionDeclare,
  type AttentionShader,
  dkvBindings,
  dqBindings,
  forwardBindings,
  plainAttentionDecls,
  preamble,
} from './attention.wgsl';
import { FLAT_BUILTINS, FLAT_INDEX } from './common';

/**
 * Block shape: R own rows and C looped-over rows per tile, per quad; wg invocations (wg/4 quads) per group;
 * lane loops unrolled while a lane holds at most `unroll` elements (D ≤ 4·unroll), else looped (large heads
 * compile much faster).
 */
export interface QuadShape {
  R: number;
  C: number;
  wg: number;
  unroll: number;
}

// 8×2: at B8 T128 D64 on SwiftShader ~1.5× the 4×4 block (one looped-over load per 8 FMAs, 16 scores live);
// 8×4 and larger take minutes to compile there (bench/attention-node.ts QUAD_SHAPES).
export const QUAD_SHAPE: QuadShape = { R: 8, C: 2, wg: 16, unroll: 16 };

export const range = (n: number): number[] => Array.from({ length: n }, (_, i) => i);
export const each = (n: number, f: (i: number) => string, sep = '\n'): string => range(n).map(f).join(sep);
const pairs = (R: number, C: number, f: (r: number, c: number) => string): string =>
  range(R)
    .flatMap((r) => range(C).map((c) => f(r, c)))
    .join('\n');
export const sum = (xs: string[]): string => xs.join(' + ');

const MASKED = '-3.0e38';

/** max(a, max(b, …)) over WGSL expressions. */
function maxOf(xs: string[]): string {
  return xs.length === 1 ? xs[0] : `max(${xs[0]}, ${maxOf(xs.slice(1))})`;
}

/**
 * The lane loop over i < NI = ⌈D/4⌉: unrolled with literal indices (private arrays then stay in registers) up to
 * `unroll` (QuadShape), else a loop. `e(i)` is the element this lane holds at step i, clamped when D % 4 ≠ 0;
 * `live(i)` whether it is a real element (own-row loads are zeroed where it is not).
 */
export interface Lanes {
  NI: number;
  /** The loop; `t` tags names declared by `shared` (`_i` unrolled, '' looped). */
  loop(body: (i: string, t: string) => string, indent?: string): string;
  /**
   * Loads a tile's two passes both read: unrolled, declared once per i before the passes (tagged names, so
   * the second pass reuses them instead of loading again); looped, `inLoop` declares them in each pass.
   */
  shared(decl: (i: string, t: string) => string): string;
  inLoop(decl: (i: string, t: string) => string, i: string, t: string): string;
  e(i: string): string;
  live(i: string): string | null;
}

export function lanes(D: number, unrollMax: number): Lanes {
  const NI = Math.ceil(D / 4);
  const ragged = D % 4 !== 0;
  const unroll = NI <= unrollMax;
  return {
    NI,
    loop: (body, indent = '    ') =>
      unroll
        ? each(NI, (i) => `${indent}{\n${body(`${i}u`, `_${i}`)}\n${indent}}`)
        : `${indent}for (var ii = 0u; ii < ${NI}u; ii++) {\n${body('ii', '')}\n${indent}}`,
    shared: (decl) => (unroll ? each(NI, (i) => decl(`${i}u`, `_${i}`)) : ''),
    inLoop: (decl, i, t) => (unroll ? '' : decl(i, t)),
    e: (i) => (ragged ? `min(4u * ${i} + lane, ${D - 1}u)` : `4u * ${i} + lane`),
    live: (i) => (ragged ? `4u * ${i} + lane < ${D}u` : null),
  };
}

/** An own-row element load, zero on lanes past D. */
const ownLoad = (L: Lanes, buf: string, base: string, i: string): string => {
  const live = L.live(i);
  const x = `${buf}[${base} + ${L.e(i)}]`;
  return live ? `select(0.0, ${x}, ${live})` : x;
};

/** Module header: subgroups, the quad sum, the shared preamble with scalar rows (VT = f32). */
export function header(D: number, decls: string): string {
  return `enable subgroups;
diagnostic(off, subgroup_uniformity);
${preamble(D, 1, decls)}
// Sum over the quad's 4 lanes (each holds a quarter of a row's elements).
fn qsum(x: f32) -> f32 {
  let y = x + quadSwapX(x);
  return y + quadSwapY(y);
}`;
}

/** Flat index → quad → (blk, head, b), blocks fastest; a quad's lanes return together. */
export const locate = (wg: number, rows: string, heads: string, batch: string, R: number) => `
  let lane = lid.x & 3u;
  let qi = (${FLAT_INDEX(wg)}) >> 2u;
  let nblk = (${rows} + ${R - 1}u) / ${R}u;
  if (qi >= ${batch} * ${heads} * nblk) { return; }
  let blk = qi % nblk;
  let hh = (qi / nblk) % ${heads};
  let b = qi / (nblk * ${heads});`;

/** Forward: as attentionForwardFlashWgsl, the block owned by a quad. */
export function attentionForwardQuadWgsl(
  D: number,
  prefix: boolean,
  start = false,
  seg = false,
  declare: AttentionDeclare = plainAttentionDecls,
  shape: QuadShape = QUAD_SHAPE,
): AttentionShader {
  const { R, C, wg } = shape;
  const L = lanes(D, shape.unroll);
  const NI = L.NI;
  const bindings = forwardBindings(prefix, start, seg);
  const tile = (kb: string, vb: string) => `
${pairs(R, C, (r, c) => `    var s${r}_${c} = 0.0;`)}
${L.loop(
  (i) => `${each(C, (c) => `      let k${c} = ${kb}[ko${c} + ${L.e(i)}];`)}
${each(R, (r) => `      let q${r} = qs[${r * NI}u + ${i}];\n${each(C, (c) => `      s${r}_${c} += q${r} * k${c};`)}`)}`,
)}
${each(
  R,
  (r) => `${each(C, (c) => `    let x${r}_${c} = qsum(s${r}_${c});`)}
    let mx${r} = max(m${r}, ${maxOf(range(C).map((c) => `select(${MASKED}, x${r}_${c}, vis${r}_${c})`))});
    let cr${r} = exp(m${r} - mx${r});
${each(C, (c) => `    let e${r}_${c} = select(0.0, exp(x${r}_${c} - mx${r}), vis${r}_${c});`)}
    l${r} = l${r} * cr${r} + ${sum(range(C).map((c) => `e${r}_${c}`))};
    m${r} = mx${r};`,
)}
${L.loop(
  (i) => `${each(C, (c) => `      let v${c} = ${vb}[ko${c} + ${L.e(i)}];`)}
${each(R, (r) => `      acc[${r * NI}u + ${i}] = acc[${r * NI}u + ${i}] * cr${r} + ${sum(range(C).map((c) => `e${r}_${c} * v${c}`))};`)}`,
)}`;
  const code = `${header(D, declare(bindings))}
@compute @workgroup_size(${wg})
fn main(${FLAT_BUILTINS}) {${locate(wg, 'p.T', 'p.Hq', 'p.B', R)}
  let h = hh;
  let kh = h / p.G;
  let tb = blk * ${R}u;
${each(
  R,
  (r) => `  let t${r} = min(tb + ${r}u, p.T - 1u);
  let qo${r} = ((b * p.T + t${r}) * p.Hq + h) * DW;
  let last${r} = t${r} + p.S - p.T;${seg ? `\n  let sq${r} = seg[b * p.S + last${r}];` : ''}
  var m${r} = ${MASKED};
  var l${r} = 0.0;`,
)}
  var qs: array<f32, ${R * NI}>;
  var acc: array<f32, ${R * NI}>;
${L.loop(
  (i) =>
    each(
      R,
      (r) =>
        `    qs[${r * NI}u + ${i}] = ${ownLoad(L, 'q', `qo${r}`, i)} * p.scale;\n    acc[${r * NI}u + ${i}] = 0.0;`,
    ),
  '  ',
)}
  ${
    prefix
      ? `for (var u0 = 0u; u0 < p.P; u0 += ${C}u) {
${each(C, (c) => `    let ko${c} = (min(u0 + ${c}u, p.P - 1u) * p.Hkv + kh) * DW;\n${each(R, (r) => `    let vis${r}_${c} = u0 + ${c}u < p.P;`)}`)}
${tile('pk', 'pv')}
  }`
      : ''
  }
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
    let inv = ${start ? `select(0.0, 1.0 / l${r}, l${r} > 0.0)` : `1.0 / l${r}`};
${L.loop((i) => {
  const live = L.live(i);
  const st = `out[qo${r} + ${L.e(i)}] = acc[${r * NI}u + ${i}] * inv;`;
  return `      ${live ? `if (${live}) { ${st} }` : st}`;
}, '    ')}
    if (lane == 0u) { lse[(b * p.Hq + h) * p.T + t${r}] = m${r} + log(l${r}); }
  }`,
)}
}`;
  return { code, bindings };
}

/** dQ's bindings in this variant: as dqBindings, plus out (read) and Δ written, not read. */
export function dqQuadBindings(prefix: boolean, seg: boolean, store = false): AttentionBinding[] {
  return dqBindings(prefix, seg).flatMap((b) =>
    b.name === 'delta'
      ? [
          { name: 'out', write: false },
          { name: 'delta', write: true, scalar: true },
        ]
      : b.name === 'dq' && store
        ? [b, ...STORED_BINDINGS.map((s) => ({ ...s, write: true }))]
        : [b],
  );
}

/** The stored probabilities and score gradients (see attention-quad-stored.wgsl.ts for their layout). */
export const STORED_BINDINGS: AttentionBinding[] = [
  { name: 'pmat', write: false, scalar: true },
  { name: 'dsmat', write: false, scalar: true },
];

/**
 * Stores of a tile's P and dS (R even, C even) into pmat/dsmat, laid out [b, h, t/2, j, t%2] so the quad's
 * 4 lanes write 4 consecutive words: lane l takes row 2·rr + (l & 1) and key c0 + (l >> 1).
 */
function storeTile(R: number, C: number): string {
  const out: string[] = [];
  for (let rr = 0; rr < R / 2; rr++)
    for (let c0 = 0; c0 < C; c0 += 2) {
      const pick = (m: string) =>
        `select(select(${m}${2 * rr}_${c0}, ${m}${2 * rr + 1}_${c0}, odd), select(${m}${2 * rr}_${c0 + 1}, ${m}${2 * rr + 1}_${c0 + 1}, odd), hi)`;
      out.push(`    {
      let st = tb + ${2 * rr}u + (lane & 1u);
      let sj = jt + ${c0}u + (lane >> 1u);
      if (st < p.T && sj < p.S) {
        let so = (((b * p.Hq + h) * ((p.T + 1u) / 2u) + st / 2u) * p.S + sj) * 2u + (st & 1u);
        pmat[so] = ${pick('pr')};
        dsmat[so] = ${pick('ds')};
      }
    }`);
    }
  return out.join('\n');
}

/** dQ for R queries of one (b, head), with their Δ = rowsum(dO ⊙ out) computed here and written out. */
export function attentionDqQuadWgsl(
  D: number,
  prefix: boolean,
  seg = false,
  declare: AttentionDeclare = plainAttentionDecls,
  shape: QuadShape = QUAD_SHAPE,
  store = false,
): AttentionShader {
  const { R, C, wg } = shape;
  if (store && (prefix || R % 2 !== 0 || C % 2 !== 0))
    throw new Error('attentionDqQuadWgsl: storing P and dS needs no prefix and even R and C');
  const L = lanes(D, shape.unroll);
  const NI = L.NI;
  const bindings = dqQuadBindings(prefix, seg, store);
  const tile = (kb: string, vb: string, keep = false) => {
    const kOnly = (i: string, t: string) =>
      each(C, (c) => `      let k${c}${t} = ${kb}[ko${c} + ${L.e(i)}];`);
    const kv = (i: string, t: string) =>
      `${kOnly(i, t)}\n${each(C, (c) => `      let v${c}${t} = ${vb}[ko${c} + ${L.e(i)}];`)}`;
    return `
${pairs(R, C, (r, c) => `    var s${r}_${c} = 0.0;\n    var dp${r}_${c} = 0.0;`)}
${L.shared(kv)}
${L.loop(
  (i, t) => `${L.inLoop(kv, i, t)}
${each(
  R,
  (r) =>
    `      let q${r} = qs[${r * NI}u + ${i}];\n      let o${r} = dor[${r * NI}u + ${i}];\n${each(C, (c) => `      s${r}_${c} += q${r} * k${c}${t};\n      dp${r}_${c} += o${r} * v${c}${t};`)}`,
)}`,
)}
${pairs(R, C, (r, c) => `    let pr${r}_${c} = select(0.0, exp(qsum(s${r}_${c}) - L${r}), vis${r}_${c});\n    let ds${r}_${c} = pr${r}_${c} * (qsum(dp${r}_${c}) - dl${r});`)}
${keep ? `    let odd = (lane & 1u) == 1u;\n    let hi = lane >= 2u;\n${storeTile(R, C)}` : ''}
${L.loop(
  (i, t) => `${L.inLoop(kOnly, i, t)}
${each(R, (r) => `      acc[${r * NI}u + ${i}] += ${sum(range(C).map((c) => `ds${r}_${c} * k${c}${t}`))};`)}`,
)}`;
  };
  const code = `${header(D, declare(bindings))}
@compute @workgroup_size(${wg})
fn main(${FLAT_BUILTINS}) {${locate(wg, 'p.T', 'p.Hq', 'p.B', R)}
  let h = hh;
  let kh = h / p.G;
  let tb = blk * ${R}u;
  var qs: array<f32, ${R * NI}>;
  var dor: array<f32, ${R * NI}>;
  var acc: array<f32, ${R * NI}>;
${each(
  R,
  (r) => `  let t${r} = min(tb + ${r}u, p.T - 1u);
  let qo${r} = ((b * p.T + t${r}) * p.Hq + h) * DW;
  let row${r} = (b * p.Hq + h) * p.T + t${r};
  let last${r} = t${r} + p.S - p.T;${seg ? `\n  let sq${r} = seg[b * p.S + last${r}];` : ''}
  let L${r} = lse[row${r}];
  var dd${r} = 0.0;`,
)}
${L.loop(
  (i) =>
    each(
      R,
      (r) => `    qs[${r * NI}u + ${i}] = ${ownLoad(L, 'q', `qo${r}`, i)} * p.scale;
    dor[${r * NI}u + ${i}] = ${ownLoad(L, 'dout', `qo${r}`, i)};
    dd${r} += dor[${r * NI}u + ${i}] * out[qo${r} + ${L.e(i)}];
    acc[${r * NI}u + ${i}] = 0.0;`,
    ),
  '  ',
)}
${each(
  R,
  (r) => `  let dl${r} = qsum(dd${r});
  if (lane == 0u && tb + ${r}u < p.T) { delta[row${r}] = dl${r}; }`,
)}
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
${tile('k', 'v', store)}
  }
${each(
  R,
  (r) => `  if (tb + ${r}u < p.T) {
${L.loop((i) => {
  const live = L.live(i);
  const st = `dq[qo${r} + ${L.e(i)}] = acc[${r * NI}u + ${i}] * p.scale;`;
  return `      ${live ? `if (${live}) { ${st} }` : st}`;
}, '    ')}
  }`,
)}
}`;
  return { code, bindings };
}

/**
 * dK/dV for R key rows of one kv head (real keys of one batch item, or prefix rows over the whole batch), one
 * pass over the query tiles that see them: dv = Σ P·dO, dk = scale·Σ P·(dO·v − Δ)·q, as attentionDkvFlashWgsl.
 */
export function attentionDkvQuadWgsl(
  D: number,
  prefix: boolean,
  wantDk: boolean,
  wantDv: boolean,
  seg = false,
  declare: AttentionDeclare = plainAttentionDecls,
  shape: QuadShape = QUAD_SHAPE,
): AttentionShader {
  if (!wantDk && !wantDv) throw new Error('attentionDkvQuadWgsl: nothing to compute');
  const { R, C, wg } = shape;
  const L = lanes(D, shape.unroll);
  const NI = L.NI;
  const masked = seg && !prefix;
  const kb = prefix ? 'pk' : 'k';
  const vb = prefix ? 'pv' : 'v';
  const gkb = prefix ? 'dpk' : 'dk';
  const gvb = prefix ? 'dpv' : 'dv';
  const bindings = dkvBindings(prefix, wantDk, wantDv, masked);
  const nrows = prefix ? 'p.P' : 'p.S';
  // The query tile's q and dO elements, read by both passes (dO's by the first only when dk is wanted).
  const qo = (i: string, t: string) =>
    each(
      C,
      (c) =>
        `          let q${c}${t} = q[qo${c} + ${L.e(i)}];\n          let o${c}${t} = dout[qo${c} + ${L.e(i)}];`,
    );
  const code = `${header(D, declare(bindings))}
@compute @workgroup_size(${wg})
fn main(${FLAT_BUILTINS}) {${locate(wg, nrows, 'p.Hkv', prefix ? '1u' : 'p.B', R)}
  let kh = hh;
  let jb = blk * ${R}u;
${each(
  R,
  (r) => `  let j${r} = min(jb + ${r}u, ${nrows} - 1u);
  let ko${r} = (${prefix ? `j${r}` : `(b * p.S + j${r})`} * p.Hkv + kh) * DW;${masked ? `\n  let sk${r} = seg[b * p.S + j${r}];` : ''}`,
)}
  var ks: array<f32, ${R * NI}>;
  ${wantDk ? `var vr: array<f32, ${R * NI}>;\n  var gk: array<f32, ${R * NI}>;` : ''}
  ${wantDv ? `var gv: array<f32, ${R * NI}>;` : ''}
${L.loop(
  (i) =>
    each(
      R,
      (r) =>
        `    ks[${r * NI}u + ${i}] = ${ownLoad(L, kb, `ko${r}`, i)} * p.scale;${
          wantDk
            ? `\n    vr[${r * NI}u + ${i}] = ${ownLoad(L, vb, `ko${r}`, i)};\n    gk[${r * NI}u + ${i}] = 0.0;`
            : ''
        }${wantDv ? `\n    gv[${r * NI}u + ${i}] = 0.0;` : ''}`,
    ),
  '  ',
)}
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
${L.shared(qo)}
${L.loop(
  (i, t) => `${L.inLoop(qo, i, t)}
${each(
  R,
  (r) =>
    `          let kk${r} = ks[${r * NI}u + ${i}];${wantDk ? `\n          let vv${r} = vr[${r * NI}u + ${i}];` : ''}\n${each(C, (c) => `          s${r}_${c} += kk${r} * q${c}${t};${wantDk ? `\n          dp${r}_${c} += vv${r} * o${c}${t};` : ''}`)}`,
)}`,
  '        ',
)}
${pairs(R, C, (r, c) => `        let pr${r}_${c} = select(0.0, exp(qsum(s${r}_${c}) - L${c}), vis${r}_${c});${wantDk ? `\n        let ds${r}_${c} = pr${r}_${c} * (qsum(dp${r}_${c}) - dl${c});` : ''}`)}
${L.loop(
  (i, t) => `${L.inLoop(qo, i, t)}
${each(
  R,
  (r) =>
    `${wantDk ? `          gk[${r * NI}u + ${i}] += ${sum(range(C).map((c) => `ds${r}_${c} * q${c}${t}`))};\n` : ''}${
      wantDv
        ? `          gv[${r * NI}u + ${i}] += ${sum(range(C).map((c) => `pr${r}_${c} * o${c}${t}`))};`
        : ''
    }`,
)}`,
  '        ',
)}
      }
    }
  }
${each(
  R,
  (r) => `  if (jb + ${r}u < ${nrows}) {
${L.loop((i) => {
  const live = L.live(i);
  const st = `${wantDk ? `${gkb}[ko${r} + ${L.e(i)}] = gk[${r * NI}u + ${i}] * p.scale; ` : ''}${
    wantDv ? `${gvb}[ko${r} + ${L.e(i)}] = gv[${r * NI}u + ${i}];` : ''
  }`;
  return `      ${live ? `if (${live}) { ${st} }` : st}`;
}, '    ')}
  }`,
)}
}`;
  return { code, bindings };
}
