// WGSL for fused causal attention with grouped KV heads and a key/value prefix: the forward (online softmax,
// one invocation per query row), Δ = rowsum(dOut ⊙ out), dQ (one invocation per query row) and dK/dV (one
// invocation per key row, real or prefix). These 'rows' kernels are barrier-free: each invocation keeps its
// head_dim-long rows in private arrays sized by the template constant D, because workgroup barriers are what
// SwiftShader is slowest at. The 'tiled' forward, dQ and dK/dV at the end do the same per-row sums with the
// looped-over rows staged in workgroup memory, for real GPUs. Dispatch, argument checks and buffer order live
// in attention.ts. Forward, dQ and dK/dV optionally take segment ids (packed rows, see SEG_BINDING below).
//
// Every kernel is templated by D and by a vector width W (4 when D % 4 == 0, so rows load as vec4; else 1).
// Rows are addressed in units of W: a head's row starts at a multiple of D, hence of W.
import { FLAT_BUILTINS, FLAT_INDEX } from './common';

export const ATTENTION_WG = 64;

/** One storage binding as the kernel declares it; attention.ts binds buffers in this order. */
export interface AttentionBinding {
  name: string;
  write: boolean;
  /** f32 for per-row scalars (lse, Δ), else rows of the vector type. */
  scalar?: boolean;
  /** i32 per batch item (the forward's first valid key index). */
  int?: boolean;
}

export interface AttentionShader {
  code: string;
  bindings: AttentionBinding[];
}

/** Uniform fields shared by every attention kernel, in this order (attention.ts packs them). */
// kvStride: rows between batch items in k/v (S when dense; a cache's capacity when reading a KV cache).
const PARAMS = `struct Params { B: u32, T: u32, S: u32, Hq: u32, Hkv: u32, G: u32, P: u32, scale: f32, kvStride: u32 };`;

/** The WGSL array type of a binding (VT is the row vector alias every kernel declares). */
export const attentionBindingType = (b: AttentionBinding): string =>
  `array<${b.int ? 'i32' : b.scalar ? 'f32' : 'VT'}>`;

/**
 * Writes a kernel's binding declarations (storage in order, then `p: Params`). attention.ts passes the shared
 * planner's (bindings.ts), which knows the regions bound; without regions (text-only uses) each binding is
 * declared as the kernel states it, which is what the planner writes when no two bindings share a buffer.
 */
export type AttentionDeclare = (bindings: AttentionBinding[]) => string;

export const plainAttentionDecls: AttentionDeclare = (bindings) =>
  bindings
    .map(
      (b, i) =>
        `@group(0) @binding(${i}) var<storage, ${b.write ? 'read_write' : 'read'}> ${b.name}: ${attentionBindingType(b)};`,
    )
    .concat(`@group(0) @binding(${bindings.length}) var<uniform> p: Params;`)
    .join('\n');

export function preamble(D: number, W: number, decls: string): string {
  const vt = W === 4 ? 'vec4<f32>' : 'f32';
  return `
alias VT = ${vt};
const DW: u32 = ${D / W}u;
${PARAMS}
${decls}
// Horizontal sum of a vector element, so loops read the same for W = 1 and W = 4.
fn hsum(x: VT) -> f32 { return ${W === 4 ? 'x.x + x.y + x.z + x.w' : 'x'}; }
`;
}

/** The vector width the kernels use for head dimension D. */
export const attentionWidth = (D: number): number => (D % 4 === 0 ? 4 : 1);

/**
 * Segment masking (packed rows): \`seg\` is i32 [B, S], one id per key position; query t's id is that of key
 * position t + S − T. A real key is seen only by queries of its own segment, or by every query when its id is
 * negative (tokens shared by all the row's examples, e.g. prompt tuning's virtual tokens). Prefix keys are
 * never masked. Without segments none of this is emitted: the kernels are byte-for-byte the unmasked ones.
 */
export const SEG_BINDING: AttentionBinding = { name: 'seg', write: false, int: true };

// Each pass binds the same names in every variant (rows, tiled, flash), so attention.ts dispatches any of
// them with one binding plan.

/** The forward's bindings: q, k, v, the prefix's keys and values, left-padding starts, segments, out, lse. */
export function forwardBindings(prefix: boolean, start: boolean, seg: boolean): AttentionBinding[] {
  return [
    ...QKV_BINDINGS(prefix),
    ...(start ? [{ name: 'kvstart', write: false, int: true }] : []),
    ...(seg ? [SEG_BINDING] : []),
    { name: 'out', write: true },
    { name: 'lse', write: true, scalar: true },
  ];
}

/** dQ's bindings: the forward's inputs, dO, lse and Δ in; dq out. */
export function dqBindings(prefix: boolean, seg: boolean): AttentionBinding[] {
  return [
    ...QKV_BINDINGS(prefix),
    ...(seg ? [SEG_BINDING] : []),
    { name: 'dout', write: false },
    { name: 'lse', write: false, scalar: true },
    { name: 'delta', write: false, scalar: true },
    { name: 'dq', write: true },
  ];
}

/** dK/dV's bindings, over the real keys (k, v → dk, dv) or the prefix's (pk, pv → dpk, dpv). */
export function dkvBindings(
  prefix: boolean,
  wantDk: boolean,
  wantDv: boolean,
  masked: boolean,
): AttentionBinding[] {
  const [kb, vb, gk, gv] = prefix ? ['pk', 'pv', 'dpk', 'dpv'] : ['k', 'v', 'dk', 'dv'];
  return [
    { name: 'q', write: false },
    { name: kb, write: false },
    ...(wantDk ? [{ name: vb, write: false }] : []),
    ...(masked ? [SEG_BINDING] : []),
    { name: 'dout', write: false },
    { name: 'lse', write: false, scalar: true },
    ...(wantDk ? [{ name: 'delta', write: false, scalar: true }] : []),
    ...(wantDk ? [{ name: gk, write: true }] : []),
    ...(wantDv ? [{ name: gv, write: true }] : []),
  ];
}

const QKV_BINDINGS = (prefix: boolean): AttentionBinding[] => [
  { name: 'q', write: false },
  { name: 'k', write: false },
  { name: 'v', write: false },
  ...(prefix
    ? [
        { name: 'pk', write: false },
        { name: 'pv', write: false },
      ]
    : []),
];

/** Wraps a key-loop body so it runs only for keys of the query's segment (id sq) or shared ones. */
const segGuard = (seg: boolean, key: string, body: string): string =>
  seg
    ? `
    let sk = seg[${key}];
    if (sk == sq || sk < 0) {${body}
    }`
    : body;

/** Decodes a flat query-row index into (b, h, t); rows run t-fastest so neighbours share k/v rows. */
const QUERY_ROW = `
  let n = p.B * p.Hq * p.T;
  if (i >= n) { return; }
  let t = i % p.T;
  let h = (i / p.T) % p.Hq;
  let b = i / (p.T * p.Hq);
  let kh = h / p.G;
  let qo = ((b * p.T + t) * p.Hq + h) * DW;
  let row = (b * p.Hq + h) * p.T + t;
  // Query t sits at position t + S − T among the real keys (S − T of them come from a cache).
  let last = t + p.S - p.T;`;

/**
 * Forward. Keys are visited prefix first, then real keys first..last, each folded into a running max m,
 * normaliser l and unnormalised output acc; out = acc / l and lse = m + log l. Real keys of batch item b
 * start at row b·kvStride. With `start`, first = kvstart[b] (left padding: keys before it are never seen, and
 * a query that sees no key at all, a padding row, gets out = 0); otherwise first = 0.
 */
export function attentionForwardWgsl(
  D: number,
  prefix: boolean,
  start = false,
  seg = false,
  declare: AttentionDeclare = plainAttentionDecls,
): AttentionShader {
  const W = attentionWidth(D);
  const bindings = forwardBindings(prefix, start, seg);
  const step = (kb: string, vb: string, ko: string) => `
    {
      let ko = ${ko};
      var s = 0.0;
      for (var d = 0u; d < DW; d++) { s += hsum(qs[d] * ${kb}[ko + d]); }
      if (s > m) {
        // A new maximum: rescale what has been accumulated so exponents stay <= 0.
        let c = exp(m - s);
        l *= c;
        for (var d = 0u; d < DW; d++) { acc[d] *= c; }
        m = s;
      }
      let e = exp(s - m);
      l += e;
      for (var d = 0u; d < DW; d++) { acc[d] += e * ${vb}[ko + d]; }
    }`;
  const code = `${preamble(D, W, declare(bindings))}
@compute @workgroup_size(${ATTENTION_WG})
fn main(${FLAT_BUILTINS}) {
  let i = ${FLAT_INDEX(ATTENTION_WG)};
  ${QUERY_ROW}${seg ? '\n  let sq = seg[b * p.S + last];' : ''}
  var qs: array<VT, DW>;
  var acc: array<VT, DW>;
  for (var d = 0u; d < DW; d++) { qs[d] = q[qo + d] * p.scale; acc[d] = VT(0.0); }
  // Finite start so the first rescale is exp(-huge) = 0 rather than exp(-inf + inf) = NaN.
  var m = -3.0e38;
  var l = 0.0;
  ${prefix ? `for (var j = 0u; j < p.P; j++) {${step('pk', 'pv', '(j * p.Hkv + kh) * DW')}\n  }` : ''}
  for (var j = ${start ? 'u32(kvstart[b])' : '0u'}; j <= last; j++) {${segGuard(seg, 'b * p.S + j', step('k', 'v', '((b * p.kvStride + j) * p.Hkv + kh) * DW'))}
  }
  // Every query sees at least its own key (l >= 1), except a padding query under kvstart: zeros, not 0/0.
  let inv = ${start ? 'select(0.0, 1.0 / l, l > 0.0)' : '1.0 / l'};
  for (var d = 0u; d < DW; d++) { out[qo + d] = acc[d] * inv; }
  lse[row] = m + log(l);
}`;
  return { code, bindings };
}

/** Δ[b,h,t] = Σ_d dOut·out: the softmax backward's row term, shared by dQ and dK/dV. */
export function attentionDeltaWgsl(D: number, declare = plainAttentionDecls): AttentionShader {
  const W = attentionWidth(D);
  const bindings: AttentionBinding[] = [
    { name: 'dout', write: false },
    { name: 'out', write: false },
    { name: 'delta', write: true, scalar: true },
  ];
  const code = `${preamble(D, W, declare(bindings))}
@compute @workgroup_size(${ATTENTION_WG})
fn main(${FLAT_BUILTINS}) {
  let i = ${FLAT_INDEX(ATTENTION_WG)};
  let n = p.B * p.Hq * p.T;
  if (i >= n) { return; }
  let t = i % p.T;
  let h = (i / p.T) % p.Hq;
  let b = i / (p.T * p.Hq);
  let qo = ((b * p.T + t) * p.Hq + h) * DW;
  var s = 0.0;
  for (var d = 0u; d < DW; d++) { s += hsum(dout[qo + d] * out[qo + d]); }
  delta[(b * p.Hq + h) * p.T + t] = s;
}`;
  return { code, bindings };
}

/** dQ per query row: probabilities recomputed from lse, dS = P·(dO·v − Δ), dq = scale·Σ dS·k. */
export function attentionDqWgsl(
  D: number,
  prefix: boolean,
  seg = false,
  declare: AttentionDeclare = plainAttentionDecls,
): AttentionShader {
  const W = attentionWidth(D);
  const bindings = dqBindings(prefix, seg);
  const step = (kb: string, vb: string, ko: string) => `
    {
      let ko = ${ko};
      var s = 0.0;
      var dp = 0.0;
      for (var d = 0u; d < DW; d++) {
        s += hsum(qs[d] * ${kb}[ko + d]);
        dp += hsum(dor[d] * ${vb}[ko + d]);
      }
      let ds = exp(s - L) * (dp - dl);
      for (var d = 0u; d < DW; d++) { acc[d] += ds * ${kb}[ko + d]; }
    }`;
  const code = `${preamble(D, W, declare(bindings))}
@compute @workgroup_size(${ATTENTION_WG})
fn main(${FLAT_BUILTINS}) {
  let i = ${FLAT_INDEX(ATTENTION_WG)};
  ${QUERY_ROW}${seg ? '\n  let sq = seg[b * p.S + last];' : ''}
  var qs: array<VT, DW>;
  var dor: array<VT, DW>;
  var acc: array<VT, DW>;
  for (var d = 0u; d < DW; d++) {
    qs[d] = q[qo + d] * p.scale;
    dor[d] = dout[qo + d];
    acc[d] = VT(0.0);
  }
  let L = lse[row];
  let dl = delta[row];
  ${prefix ? `for (var j = 0u; j < p.P; j++) {${step('pk', 'pv', '(j * p.Hkv + kh) * DW')}\n  }` : ''}
  for (var j = 0u; j <= last; j++) {${segGuard(seg, 'b * p.S + j', step('k', 'v', '((b * p.S + j) * p.Hkv + kh) * DW'))}
  }
  for (var d = 0u; d < DW; d++) { dq[qo + d] = acc[d] * p.scale; }
}`;
  return { code, bindings };
}

/**
 * dK/dV per key row, looping over every query that sees it and the G query heads of its group:
 * dv = Σ P·dO, dk = scale·Σ dS·q. `prefix` selects the prefix-key form: one invocation per (P row, kv head),
 * seen by every query of every batch item, reading pk/pv and writing dpk/dpv; otherwise one invocation per
 * (b, real key j, kv head), seen by queries t ≥ j − (S − T). A gradient not wanted is neither declared nor
 * computed (dk alone needs v and Δ; dv alone needs neither). With `seg` (real keys only: prefix keys are seen by
 * every segment) a query of another segment is skipped unless the key is shared (negative id).
 */
export function attentionDkvWgsl(
  D: number,
  prefix: boolean,
  wantDk: boolean,
  wantDv: boolean,
  seg = false,
  declare: AttentionDeclare = plainAttentionDecls,
): AttentionShader {
  if (!wantDk && !wantDv) throw new Error('attentionDkvWgsl: nothing to compute');
  const masked = seg && !prefix;
  const W = attentionWidth(D);
  const kb = prefix ? 'pk' : 'k';
  const vb = prefix ? 'pv' : 'v';
  const gk = prefix ? 'dpk' : 'dk';
  const gv = prefix ? 'dpv' : 'dv';
  const bindings = dkvBindings(prefix, wantDk, wantDv, masked);
  const locate = prefix
    ? `
  let n = p.P * p.Hkv;
  if (i >= n) { return; }
  let kh = i % p.Hkv;
  let ko = i * DW;
  let b0 = 0u;
  let b1 = p.B;
  let t0 = 0u;`
    : `
  let n = p.B * p.S * p.Hkv;
  if (i >= n) { return; }
  let kh = i % p.Hkv;
  let j = (i / p.Hkv) % p.S;
  let b0 = i / (p.Hkv * p.S);
  let b1 = b0 + 1u;
  let ko = i * DW;
  // The first query that sees key j: t + S − T >= j.
  let t0 = max(j + p.T, p.S) - p.S;${masked ? '\n  let sk = seg[b0 * p.S + j];' : ''}`;
  const code = `${preamble(D, W, declare(bindings))}
@compute @workgroup_size(${ATTENTION_WG})
fn main(${FLAT_BUILTINS}) {
  let i = ${FLAT_INDEX(ATTENTION_WG)};
  ${locate}
  var ks: array<VT, DW>;
  ${wantDk ? 'var vr: array<VT, DW>;\n  var gk: array<VT, DW>;' : ''}
  ${wantDv ? 'var gv: array<VT, DW>;' : ''}
  for (var d = 0u; d < DW; d++) {
    ks[d] = ${kb}[ko + d] * p.scale;
    ${wantDk ? `vr[d] = ${vb}[ko + d];\n    gk[d] = VT(0.0);` : ''}
    ${wantDv ? 'gv[d] = VT(0.0);' : ''}
  }
  for (var b = b0; b < b1; b++) {
    for (var g = 0u; g < p.G; g++) {
      let h = kh * p.G + g;
      for (var t = t0; t < p.T; t++) {${masked ? '\n        if (sk >= 0 && seg[b * p.S + t + p.S - p.T] != sk) { continue; }' : ''}
        let qo = ((b * p.T + t) * p.Hq + h) * DW;
        let row = (b * p.Hq + h) * p.T + t;
        var s = 0.0;
        ${wantDk ? 'var dp = 0.0;' : ''}
        for (var d = 0u; d < DW; d++) {
          s += hsum(q[qo + d] * ks[d]);
          ${wantDk ? 'dp += hsum(dout[qo + d] * vr[d]);' : ''}
        }
        let pr = exp(s - lse[row]);
        ${wantDk ? 'let ds = pr * (dp - delta[row]);' : ''}
        for (var d = 0u; d < DW; d++) {
          ${wantDk ? 'gk[d] += ds * q[qo + d];' : ''}
          ${wantDv ? 'gv[d] += pr * dout[qo + d];' : ''}
        }
      }
    }
  }
  for (var d = 0u; d < DW; d++) {
    ${wantDk ? `${gk}[ko + d] = gk[d] * p.scale;` : ''}
    ${wantDv ? `${gv}[ko + d] = gv[d];` : ''}
  }
}`;
  return { code, bindings };
}

// ---------------------------------------------------------------------------------------------------------
// The 'tiled' variant, for real GPUs: the same arithmetic, but a workgroup of rows shares each tile of the
// rows they all loop over (keys for forward and dQ, queries for dK/dV) through workgroup memory, so a k/v
// (or q/dO) row is read from global memory once per workgroup instead of once per invocation. Each
// invocation still owns one row, so the sums run in the same order as 'rows' and stay deterministic.
// Grids are 3-D: x = block of own rows, y = head (query head, or kv head for dK/dV), z = batch item.

/** Own rows per workgroup (= workgroup size) in the tiled kernels. */
export const ATTENTION_TILE_ROWS = 64;

/** Rows per shared tile: two D-long rows (plus two scalars) each, within the 16 KiB WebGPU guarantees. */
export const attentionTileCols = (D: number): number =>
  Math.max(1, Math.min(64, Math.floor(16000 / (8 * D + 8))));

/** Loads a tile of up to TC key rows (prefix rows first, then real keys) into ksh/vsh, zeros past the end. */
function keyTileLoad(prefix: boolean, stride: 'S' | 'kvStride'): string {
  const real = `let j = u - p.P;
        let go = ((b * p.${stride} + j) * p.Hkv + kh) * DW + d;
        ka = k[go];
        va = v[go];`;
  return `
    for (var e = lid.x; e < TC * DW; e += TR) {
      let u = k0 + e / DW;
      let d = e % DW;
      var ka = VT(0.0);
      var va = VT(0.0);
      ${
        prefix
          ? `if (u < p.P) {
        let go = (u * p.Hkv + kh) * DW + d;
        ka = pk[go];
        va = pv[go];
      } else if (u < nkeys) {
        ${real}
      }`
          : `if (u < nkeys) {
        ${real}
      }`
      }
      ksh[e] = ka;
      vsh[e] = va;
    }`;
}

/**
 * Skeleton of the tiled forward and dQ: one query row per invocation, key tiles in workgroup memory. The
 * forward reads k/v rows at batch stride kvStride and may skip keys before kvstart[b] (`start`); dQ reads
 * dense k/v (stride S) from key 0. With \`seg\` a real key outside the query's segment (and not shared) is skipped.
 */
function queryTiled(
  D: number,
  decls: string,
  prefix: boolean,
  init: string,
  step: string,
  finish: string,
  forward = false,
  start = false,
  seg = false,
): string {
  const W = attentionWidth(D);
  return `${preamble(D, W, decls)}
const TR: u32 = ${ATTENTION_TILE_ROWS}u;
const TC: u32 = ${attentionTileCols(D)}u;
var<workgroup> ksh: array<VT, ${attentionTileCols(D) * (D / W)}>;
var<workgroup> vsh: array<VT, ${attentionTileCols(D) * (D / W)}>;
@compute @workgroup_size(${ATTENTION_TILE_ROWS})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let h = wid.y;
  let b = wid.z;
  let kh = h / p.G;
  let t = wid.x * TR + lid.x;
  let live = t < p.T;
  // Invocations past T still load tiles and meet every barrier; they compute on a clamped row, never stored.
  let tc = min(t, p.T - 1u);
  let qo = ((b * p.T + tc) * p.Hq + h) * DW;
  let row = (b * p.Hq + h) * p.T + tc;
  let last = tc + p.S - p.T;
  let first = ${start ? 'u32(kvstart[b])' : '0u'};${seg ? '\n  let sq = seg[b * p.S + last];' : ''}
  // Keys the block needs, prefix first: uniform across the workgroup, so the barriers below are too.
  let nkeys = p.P + min(wid.x * TR + TR - 1u, p.T - 1u) + p.S - p.T + 1u;
  ${init}
  for (var k0 = 0u; k0 < nkeys; k0 += TC) {
    ${keyTileLoad(prefix, forward ? 'kvStride' : 'S')}
    workgroupBarrier();
    let rn = min(TC, nkeys - k0);
    for (var r = 0u; r < rn; r++) {
      let u = k0 + r;
      if (u < p.P || (u - p.P <= last && u - p.P >= first${seg ? ' && (seg[b * p.S + u - p.P] == sq || seg[b * p.S + u - p.P] < 0)' : ''})) {
        let ko = r * DW;
        ${step}
      }
    }
    workgroupBarrier();
  }
  if (live) {
    ${finish}
  }
}`;
}

function queryBindings(prefix: boolean, rest: AttentionBinding[]): AttentionBinding[] {
  return [
    { name: 'q', write: false },
    { name: 'k', write: false },
    { name: 'v', write: false },
    ...(prefix
      ? [
          { name: 'pk', write: false },
          { name: 'pv', write: false },
        ]
      : []),
    ...rest,
  ];
}

export function attentionForwardTiledWgsl(
  D: number,
  prefix: boolean,
  start = false,
  seg = false,
  declare: AttentionDeclare = plainAttentionDecls,
): AttentionShader {
  const bindings = queryBindings(prefix, [
    ...(start ? [{ name: 'kvstart', write: false, int: true }] : []),
    ...(seg ? [SEG_BINDING] : []),
    { name: 'out', write: true },
    { name: 'lse', write: true, scalar: true },
  ]);
  const code = queryTiled(
    D,
    declare(bindings),
    prefix,
    `var qs: array<VT, DW>;
  var acc: array<VT, DW>;
  for (var d = 0u; d < DW; d++) { qs[d] = q[qo + d] * p.scale; acc[d] = VT(0.0); }
  var m = -3.0e38;
  var l = 0.0;`,
    `var s = 0.0;
        for (var d = 0u; d < DW; d++) { s += hsum(qs[d] * ksh[ko + d]); }
        if (s > m) {
          let c = exp(m - s);
          l *= c;
          for (var d = 0u; d < DW; d++) { acc[d] *= c; }
          m = s;
        }
        let e = exp(s - m);
        l += e;
        for (var d = 0u; d < DW; d++) { acc[d] += e * vsh[ko + d]; }`,
    `let inv = ${start ? 'select(0.0, 1.0 / l, l > 0.0)' : '1.0 / l'};
    for (var d = 0u; d < DW; d++) { out[qo + d] = acc[d] * inv; }
    lse[row] = m + log(l);`,
    true,
    start,
    seg,
  );
  return { code, bindings };
}

export function attentionDqTiledWgsl(
  D: number,
  prefix: boolean,
  seg = false,
  declare: AttentionDeclare = plainAttentionDecls,
): AttentionShader {
  const bindings = queryBindings(prefix, [
    ...(seg ? [SEG_BINDING] : []),
    { name: 'dout', write: false },
    { name: 'lse', write: false, scalar: true },
    { name: 'delta', write: false, scalar: true },
    { name: 'dq', write: true },
  ]);
  const code = queryTiled(
    D,
    declare(bindings),
    prefix,
    `var qs: array<VT, DW>;
  var dor: array<VT, DW>;
  var acc: array<VT, DW>;
  for (var d = 0u; d < DW; d++) {
    qs[d] = q[qo + d] * p.scale;
    dor[d] = dout[qo + d];
    acc[d] = VT(0.0);
  }
  let L = lse[row];
  let dl = delta[row];`,
    `var s = 0.0;
        var dp = 0.0;
        for (var d = 0u; d < DW; d++) {
          s += hsum(qs[d] * ksh[ko + d]);
          dp += hsum(dor[d] * vsh[ko + d]);
        }
        let ds = exp(s - L) * (dp - dl);
        for (var d = 0u; d < DW; d++) { acc[d] += ds * ksh[ko + d]; }`,
    `for (var d = 0u; d < DW; d++) { dq[qo + d] = acc[d] * p.scale; }`,
    false,
    false,
    seg,
  );
  return { code, bindings };
}

/**
 * Tiled dK/dV: one key row per invocation (real: grid [key blocks, Hkv, B]; prefix: [prefix blocks, Hkv, 1],
 * looping over the batch), query tiles (q, dO, lse and, for dk, Δ) shared through workgroup memory. \`seg\` masks
 * real keys as in attentionDkvWgsl (the query's segment id is read from global memory: one i32 per pair).
 */
export function attentionDkvTiledWgsl(
  D: number,
  prefix: boolean,
  wantDk: boolean,
  wantDv: boolean,
  seg = false,
  declare: AttentionDeclare = plainAttentionDecls,
): AttentionShader {
  if (!wantDk && !wantDv) throw new Error('attentionDkvTiledWgsl: nothing to compute');
  const masked = seg && !prefix;
  const W = attentionWidth(D);
  const TC = attentionTileCols(D);
  const kb = prefix ? 'pk' : 'k';
  const vb = prefix ? 'pv' : 'v';
  const gkb = prefix ? 'dpk' : 'dk';
  const gvb = prefix ? 'dpv' : 'dv';
  const bindings = dkvBindings(prefix, wantDk, wantDv, masked);
  const locate = prefix
    ? `
  let nrows = p.P;
  let jc = min(j, nrows - 1u);
  let ko = (jc * p.Hkv + kh) * DW;
  let b0 = 0u;
  let b1 = p.B;
  let t0 = 0u;
  let blockT0 = 0u;`
    : `
  let nrows = p.S;
  let jc = min(j, nrows - 1u);
  let ko = ((wid.z * p.S + jc) * p.Hkv + kh) * DW;
  let b0 = wid.z;
  let b1 = b0 + 1u;
  // The first query that sees key j is t = j − (S − T); the block's first key sets where its tiles start.
  let t0 = max(jc + p.T, p.S) - p.S;
  let blockT0 = max(wid.x * TR + p.T, p.S) - p.S;${masked ? '\n  let sk = seg[wid.z * p.S + jc];' : ''}`;
  const code = `${preamble(D, W, declare(bindings))}
const TR: u32 = ${ATTENTION_TILE_ROWS}u;
const TC: u32 = ${TC}u;
var<workgroup> qsh: array<VT, ${TC * (D / W)}>;
var<workgroup> dosh: array<VT, ${TC * (D / W)}>;
var<workgroup> lsh: array<f32, ${TC}>;
${wantDk ? `var<workgroup> dsh: array<f32, ${TC}>;` : ''}
@compute @workgroup_size(${ATTENTION_TILE_ROWS})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let kh = wid.y;
  let j = wid.x * TR + lid.x;
  ${locate}
  let live = j < nrows;
  var ks: array<VT, DW>;
  ${wantDk ? 'var vr: array<VT, DW>;\n  var gk: array<VT, DW>;' : ''}
  ${wantDv ? 'var gv: array<VT, DW>;' : ''}
  for (var d = 0u; d < DW; d++) {
    ks[d] = ${kb}[ko + d] * p.scale;
    ${wantDk ? `vr[d] = ${vb}[ko + d];\n    gk[d] = VT(0.0);` : ''}
    ${wantDv ? 'gv[d] = VT(0.0);' : ''}
  }
  for (var b = b0; b < b1; b++) {
    for (var g = 0u; g < p.G; g++) {
      let h = kh * p.G + g;
      for (var tq = blockT0; tq < p.T; tq += TC) {
        for (var e = lid.x; e < TC * DW; e += TR) {
          let t = tq + e / DW;
          var qa = VT(0.0);
          var da = VT(0.0);
          if (t < p.T) {
            let go = ((b * p.T + t) * p.Hq + h) * DW + e % DW;
            qa = q[go];
            da = dout[go];
          }
          qsh[e] = qa;
          dosh[e] = da;
        }
        for (var r = lid.x; r < TC; r += TR) {
          let t = min(tq + r, p.T - 1u);
          let row = (b * p.Hq + h) * p.T + t;
          lsh[r] = lse[row];
          ${wantDk ? 'dsh[r] = delta[row];' : ''}
        }
        workgroupBarrier();
        let rn = min(TC, p.T - tq);
        for (var r = 0u; r < rn; r++) {
          if (tq + r >= t0${masked ? ' && (sk < 0 || seg[b * p.S + tq + r + p.S - p.T] == sk)' : ''}) {
            let qo = r * DW;
            var s = 0.0;
            ${wantDk ? 'var dp = 0.0;' : ''}
            for (var d = 0u; d < DW; d++) {
              s += hsum(qsh[qo + d] * ks[d]);
              ${wantDk ? 'dp += hsum(dosh[qo + d] * vr[d]);' : ''}
            }
            let pr = exp(s - lsh[r]);
            ${wantDk ? 'let ds = pr * (dp - dsh[r]);' : ''}
            for (var d = 0u; d < DW; d++) {
              ${wantDk ? 'gk[d] += ds * qsh[qo + d];' : ''}
              ${wantDv ? 'gv[d] += pr * dosh[qo + d];' : ''}
            }
          }
        }
        workgroupBarrier();
      }
    }
  }
  if (live) {
    for (var d = 0u; d < DW; d++) {
      ${wantDk ? `${gkb}[ko + d] = gk[d] * p.scale;` : ''}
      ${wantDv ? `${gvb}[ko + d] = gv[d];` : ''}
    }
  }
}`;
  return { code, bindings };
}
