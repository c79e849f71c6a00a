// ONNX export of a model of either family (GPT-2; Llama/Qwen2) from its weights by canonical key: the
// "deploy preview" path. Any weights of the config's shapes go through it, so a fine-tuned model merged
// into its base weights exports the same way as a pretrained one.
//
// What comes out: one ModelProto, IR 8 / opset 17 (what onnxruntime-web 1.30 runs on every backend).
//   inputs   input_ids int64 [batch, sequence]; with `positionIds`, also position_ids int64 [batch, sequence]
//   output   logits float32 [batch, sequence, vocab]
// Weights are float32 initializers (raw_data, little-endian), named as the checkpoint names them
// (formats/architecture.ts, whose table also gives the graph's structure). Linears stored [out,in]
// (nn.Linear) become pre-transposed `<name>_t` [in,out] initializers so each is one MatMul; a tied
// head reuses the embedding through a Transpose node (onnxruntime folds it at load), so the file is
// not twice the embedding. RoPE's cos/sin
// are tables [max_position_embeddings, head_dim] computed here in float64 from the f32 angle Hugging Face
// forms (f32 inv_freq · position), so the runtime's own sin/cos precision does not enter.
// Size: ≈ 4 bytes × parameters, plus the pre-transposed untied head (same size as the weight it
// replaces), plus 2 × 4 × max_positions × head_dim for the RoPE tables (Llama), plus a few kB of graph.
// A protobuf message is limited to 2 GB, so models above ~500 M parameters would need ONNX external data
// (not written here); exportOnnx refuses them with the figure.
// Ops: Gather, Shape, Range, Unsqueeze, LessOrEqual, Where, MatMul, Add, Mul, Div, Sqrt, ReduceMean,
// Tanh, Sigmoid, Neg, Softmax, Transpose, Reshape, Split, Concat, LayerNormalization (GPT-2). The
// causal mask is built from the sequence length at run time (LessOrEqual over two Ranges), so nothing
// of size max_positions² is stored. Grouped KV heads are not repeated: queries are viewed as
// [B, Hkv, group, T, D] and keys/values as [B, Hkv, 1, T, D], and MatMul broadcasts over the group.

import { type LinearTensors, modelTensors, type NormTensors } from '../../formats/architecture';
import { canonicalKey, expectedTensorShapes, type ModelConfig } from '../../formats/model-config';
import type { ParamSet, ParamSpec } from '../../tensor/params';
import {
  type AttrValue,
  concatMsg,
  DataType,
  type DataTypeId,
  modelProto,
  type NodeSpec,
  type TensorSpec,
} from './proto';

export const ONNX_OPSET = 17;
export const ONNX_IR_VERSION = 8;
/** Protobuf's hard limit on one message. */
export const ONNX_MAX_BYTES = 2 ** 31 - 1;

/** Weights by canonical key (GPT-2 keys with or without `transformer.`), each flat in the stored layout. */
export type OnnxWeights =
  | ReadonlyMap<string, ArrayLike<number>>
  | Readonly<Record<string, ArrayLike<number>>>;

export interface OnnxExportOptions {
  /** Add a `position_ids` input (packing, left padding); default: positions 0..T−1. */
  positionIds?: boolean;
  /** Graph name and producer metadata. */
  name?: string;
}

/** Reads every tensor of a ParamSet (GPU or CPU twin) into f32 arrays by name: what exportOnnx takes. */
export async function weightsFromParamSet<S, I>(ps: ParamSet<S, I>): Promise<Map<string, Float32Array>> {
  const out = new Map<string, Float32Array>();
  for (const name of ps.tensors.keys()) out.set(name, Float32Array.from(await ps.read(name)));
  return out;
}

/** The weights of loaded or generated ParamSpecs (loadCheckpointSpecs, randomModelParams). */
export function weightsFromSpecs(specs: readonly ParamSpec[]): Map<string, ArrayLike<number>> {
  // A spec without values (a plan's) stands for zeros, as it does on a real backend.
  return new Map(specs.map((s) => [s.name, s.data ?? new Float32Array(s.shape.reduce((a, b) => a * b, 1))]));
}

/** Checks the weights against the config and returns them as f32 by canonical key. */
function collectWeights(config: ModelConfig, weights: OnnxWeights): Map<string, Float32Array> {
  const entries: [string, ArrayLike<number>][] =
    weights instanceof Map
      ? [...weights.entries()]
      : Object.entries(weights as Record<string, ArrayLike<number>>);
  const expected = expectedTensorShapes(config);
  const got = new Map<string, Float32Array>();
  for (const [key, data] of entries) {
    const canon = canonicalKey(config, key);
    const shape = expected.get(canon);
    if (!shape) {
      throw new Error(
        `ONNX export: weight "${key}" is not part of a ${config.modelType} model of this config` +
          (/lora|adapter|ia3|lokr|prompt|sparse|row_|magnitude|phm/.test(key)
            ? ' (merge the adapter into the base weights before exporting)'
            : ''),
      );
    }
    if (got.has(canon)) throw new Error(`ONNX export: weight "${canon}" is given twice`);
    const n = shape.reduce((a, b) => a * b, 1);
    if (data.length !== n)
      throw new Error(`ONNX export: weight "${key}" has ${data.length} values, expected [${shape}] = ${n}`);
    got.set(canon, data instanceof Float32Array ? data : Float32Array.from(data));
  }
  const missing = [...expected.keys()].filter((k) => !got.has(k));
  if (missing.length) {
    const more = missing.length > 3 ? ` and ${missing.length - 3} more` : '';
    throw new Error(`ONNX export: missing weight ${missing.slice(0, 3).join(', ')}${more}`);
  }
  return got;
}

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

function f32Bytes(a: Float32Array): Uint8Array {
  if (LITTLE_ENDIAN) return new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
  const b = new Uint8Array(a.length * 4);
  const dv = new DataView(b.buffer);
  for (let i = 0; i < a.length; i++) dv.setFloat32(i * 4, a[i], true);
  return b;
}

function i64Bytes(v: readonly number[]): Uint8Array {
  const b = new Uint8Array(v.length * 8);
  const dv = new DataView(b.buffer);
  for (let i = 0; i < v.length; i++) dv.setBigInt64(i * 8, BigInt(v[i]), true);
  return b;
}

/** [rows, cols] row-major → [cols, rows]. */
function transpose2d(a: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(a.length);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[c * rows + r] = a[r * cols + c];
  return out;
}

/** Accumulates nodes and initializers with unique value names. */
class GraphBuilder {
  readonly nodes: NodeSpec[] = [];
  readonly initializers: TensorSpec[] = [];
  private readonly used = new Set<string>();
  private readonly consts = new Map<string, string>();
  private counter = 0;

  private fresh(hint: string): string {
    let name = hint;
    while (this.used.has(name)) name = `${hint}_${++this.counter}`;
    this.used.add(name);
    return name;
  }

  reserve(name: string): string {
    if (this.used.has(name)) throw new Error(`ONNX export: value name ${name} used twice`);
    this.used.add(name);
    return name;
  }

  /** A node with `nOut` outputs named after `hint`. */
  nodeN(
    op: string,
    inputs: readonly string[],
    hint: string,
    nOut: number,
    attrs?: Record<string, AttrValue>,
  ) {
    const outputs = Array.from({ length: nOut }, (_, k) => this.fresh(nOut === 1 ? hint : `${hint}_${k}`));
    this.nodes.push({ op, inputs, outputs, name: this.fresh(`${hint}/${op}`), attrs });
    return outputs;
  }

  node(op: string, inputs: readonly string[], hint: string, attrs?: Record<string, AttrValue>): string {
    return this.nodeN(op, inputs, hint, 1, attrs)[0];
  }

  f32(name: string, dims: readonly number[], data: Float32Array): string {
    const n = this.reserve(name);
    this.initializers.push({ name: n, dims, dataType: DataType.FLOAT, raw: f32Bytes(data) });
    return n;
  }

  private constant(key: string, make: () => TensorSpec): string {
    const have = this.consts.get(key);
    if (have) return have;
    const t = make();
    this.initializers.push(t);
    this.consts.set(key, t.name);
    return t.name;
  }

  /** An int64 constant: a scalar when `scalar`, else a 1-D tensor (shapes, axes, indices). */
  i64(values: readonly number[], scalar = false): string {
    return this.constant(`i64:${scalar}:${values.join(',')}`, () => ({
      name: this.fresh(`const_i64_${scalar ? 's' : 'v'}${values.join('_').replace(/-/g, 'm')}`),
      dims: scalar ? [] : [values.length],
      dataType: DataType.INT64,
      raw: i64Bytes(values),
    }));
  }

  /** A float32 scalar constant. */
  scalar(v: number): string {
    return this.constant(`f32:${Object.is(v, -0) ? '-0' : String(v)}`, () => ({
      name: this.fresh(`const_f32_${this.counter++}`),
      dims: [],
      dataType: DataType.FLOAT,
      raw: f32Bytes(Float32Array.of(v)),
    }));
  }
}

/** The dtype ids that appear in the graph's inputs and outputs. */
const INT64: DataTypeId = DataType.INT64;
const FLOAT: DataTypeId = DataType.FLOAT;

/**
 * The model as ONNX bytes (a serialised ModelProto); see the header for inputs, outputs, ops and size.
 * Throws, naming the key, when a weight is missing, mis-sized, or not part of the model.
 */
export function exportOnnx(
  config: ModelConfig,
  weights: OnnxWeights,
  options: OnnxExportOptions = {},
): Uint8Array {
  const W = collectWeights(config, weights);
  const c = config;
  const g = new GraphBuilder();
  const d = c.hiddenSize;
  const H = c.numHeads;
  const Hkv = c.numKvHeads;
  const D = c.headDim;
  const rep = H / Hkv;
  const t = modelTensors(c);
  const w = (key: string) => W.get(key)!;

  const ids = g.reserve('input_ids');
  const posInput = options.positionIds ? g.reserve('position_ids') : null;
  const logitsName = g.reserve('logits');

  // Sequence length at run time → positions 0..T−1 and the causal mask keep[i, j] = j ≤ i.
  const shape = g.node('Shape', [ids], 'ids_shape');
  const T = g.node('Gather', [shape, g.i64([1], true)], 'seq_len', { axis: 0 });
  const steps = g.node('Range', [g.i64([0], true), T, g.i64([1], true)], 'steps');
  const rowIdx = g.node('Unsqueeze', [steps, g.i64([1])], 'mask_rows');
  const colIdx = g.node('Unsqueeze', [steps, g.i64([0])], 'mask_cols');
  const keep = g.node('LessOrEqual', [colIdx, rowIdx], 'causal_keep');
  // [B, T] given, or [1, T] (broadcast over the batch).
  const pos = posInput ?? g.node('Unsqueeze', [steps, g.i64([0])], 'positions');

  const linear = (x: string, l: LinearTensors, hint: string) => {
    // Conv1D weights (GPT-2) are stored [in,out] already; nn.Linear's [out,in] is transposed once here.
    const { path, inFeatures: inF, outFeatures: outF, layout } = l.site;
    const raw = w(`${path}.weight`);
    const wt =
      layout === 'in_out'
        ? g.f32(`${path}.weight`, [inF, outF], raw)
        : g.f32(`${path}.weight_t`, [inF, outF], transpose2d(raw, outF, inF));
    const y = g.node('MatMul', [x, wt], hint);
    return l.bias ? g.node('Add', [y, g.f32(`${path}.bias`, [outF], w(`${path}.bias`))], `${hint}+b`) : y;
  };
  const layerNorm = (x: string, { path }: NormTensors) =>
    g.node(
      'LayerNormalization',
      [x, g.f32(`${path}.weight`, [d], w(`${path}.weight`)), g.f32(`${path}.bias`, [d], w(`${path}.bias`))],
      path,
      {
        axis: -1,
        epsilon: { float: c.normEps },
      },
    );
  const rmsNorm = (x: string, { path }: NormTensors) => {
    const ms = g.node('ReduceMean', [g.node('Mul', [x, x], `${path}.sq`)], `${path}.ms`, {
      axes: [-1],
      keepdims: 1,
    });
    const rms = g.node('Sqrt', [g.node('Add', [ms, g.scalar(c.normEps)], `${path}.ms+eps`)], `${path}.rms`);
    return g.node(
      'Mul',
      [g.node('Div', [x, rms], `${path}.normed`), g.f32(`${path}.weight`, [d], w(`${path}.weight`))],
      path,
    );
  };
  const norm = (x: string, n: NormTensors) => (c.norm === 'layernorm' ? layerNorm(x, n) : rmsNorm(x, n));

  // RoPE tables, gathered at the positions once for every layer: [B|1, 1, T, D].
  let cosT = '';
  let sinT = '';
  if (c.positional === 'rope') {
    const P = c.maxPositions;
    const theta = c.ropeTheta ?? 10000;
    const cos = new Float32Array(P * D);
    const sin = new Float32Array(P * D);
    for (let j = 0; j < D / 2; j++) {
      const invFreq = Math.fround(theta ** ((-2 * j) / D));
      for (let p = 0; p < P; p++) {
        const a = Math.fround(p * invFreq);
        cos[p * D + j] = cos[p * D + j + D / 2] = Math.cos(a);
        sin[p * D + j] = sin[p * D + j + D / 2] = Math.sin(a);
      }
    }
    const axis1 = g.i64([1]);
    cosT = g.node(
      'Unsqueeze',
      [g.node('Gather', [g.f32('rope.cos', [P, D], cos), pos], 'rope.cos_at', { axis: 0 }), axis1],
      'rope.cos_bt',
    );
    sinT = g.node(
      'Unsqueeze',
      [g.node('Gather', [g.f32('rope.sin', [P, D], sin), pos], 'rope.sin_at', { axis: 0 }), axis1],
      'rope.sin_bt',
    );
  }
  /** x [B, h, T, D] → x·cos + rotate_half(x)·sin, rotate_half(x) = [−x₂, x₁]. */
  const rope = (x: string, hint: string) => {
    const [x1, x2] = g.nodeN('Split', [x], `${hint}.half`, 2, { axis: -1 });
    const rot = g.node('Concat', [g.node('Neg', [x2], `${hint}.neg`), x1], `${hint}.rot`, { axis: -1 });
    return g.node(
      'Add',
      [g.node('Mul', [x, cosT], `${hint}.xcos`), g.node('Mul', [rot, sinT], `${hint}.rsin`)],
      `${hint}.rope`,
    );
  };
  const ropeIf = (x: string, hint: string) => (c.positional === 'rope' ? rope(x, hint) : x);
  /** [B, T, h·D] → [B, h, T, D]. */
  const heads = (x: string, h: number, hint: string) =>
    g.node('Transpose', [g.node('Reshape', [x, g.i64([0, 0, h, D])], `${hint}.bthd`)], `${hint}.bhtd`, {
      perm: [0, 2, 1, 3],
    });

  const embed = g.f32(t.embed, [c.vocabSize, d], w(t.embed));
  let x = g.node('Gather', [embed, ids], 'embed', { axis: 0 });
  if (t.positions) {
    const wpe = g.f32(t.positions, [c.maxPositions, d], w(t.positions));
    x = g.node('Add', [x, g.node('Gather', [wpe, pos], 'wpe', { axis: 0 })], 'embed+pos');
  }
  const scale = g.scalar(1 / Math.sqrt(D));
  const negInf = g.scalar(Number.NEGATIVE_INFINITY);

  for (const b of t.blocks) {
    const { path: lp, attnPath: ap, mlpPath: mp } = b;
    const n1 = norm(x, b.attnNorm);
    let q: string;
    let k: string;
    let v: string;
    if ('fused' in b.attnIn) {
      const qkv = linear(n1, b.attnIn.fused, `${ap}.qkv`);
      const [q0, k0, v0] = g.nodeN('Split', [qkv], `${ap}.qkv_split`, 3, { axis: -1 });
      q = heads(q0, H, `${ap}.q`);
      k = heads(k0, Hkv, `${ap}.k`);
      v = heads(v0, Hkv, `${ap}.v`);
    } else {
      q = ropeIf(heads(linear(n1, b.attnIn.q, `${ap}.q`), H, `${ap}.q`), `${ap}.q`);
      k = ropeIf(heads(linear(n1, b.attnIn.k, `${ap}.k`), Hkv, `${ap}.k`), `${ap}.k`);
      v = heads(linear(n1, b.attnIn.v, `${ap}.v`), Hkv, `${ap}.v`);
    }
    // Grouped heads: q [B, Hkv, rep, T, D] against k, v [B, Hkv, 1, T, D]; MatMul broadcasts the group.
    const qg = g.node('Reshape', [q, g.i64([0, Hkv, rep, -1, D])], `${ap}.q_grouped`);
    const kg = g.node('Unsqueeze', [k, g.i64([2])], `${ap}.k_grouped`);
    const vg = g.node('Unsqueeze', [v, g.i64([2])], `${ap}.v_grouped`);
    const kt = g.node('Transpose', [kg], `${ap}.k_t`, { perm: [0, 1, 2, 4, 3] });
    const scores = g.node('Mul', [g.node('MatMul', [qg, kt], `${ap}.qk`), scale], `${ap}.scores`);
    const masked = g.node('Where', [keep, scores, negInf], `${ap}.masked`);
    const probs = g.node('Softmax', [masked], `${ap}.probs`, { axis: -1 });
    const ctx = g.node('MatMul', [probs, vg], `${ap}.ctx`);
    const merged = g.node('Reshape', [ctx, g.i64([0, H, -1, D])], `${ap}.ctx_bhtd`);
    const bt = g.node('Transpose', [merged], `${ap}.ctx_bthd`, { perm: [0, 2, 1, 3] });
    const a = g.node('Reshape', [bt, g.i64([0, 0, H * D])], `${ap}.ctx_flat`);
    const o = linear(a, b.attnOut, `${ap}.out`);
    x = g.node('Add', [x, o], `${lp}.resid_attn`);

    const h = norm(x, b.mlpNorm);
    let act: string;
    if ('fc' in b.mlpIn) {
      const f = linear(h, b.mlpIn.fc, `${mp}.fc`);
      // gelu_new: 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³)))
      const cube = g.node('Mul', [f, g.node('Mul', [f, f], `${mp}.x2`)], `${mp}.x3`);
      const inner = g.node('Add', [f, g.node('Mul', [cube, g.scalar(0.044715)], `${mp}.cx3`)], `${mp}.inner`);
      const th = g.node(
        'Tanh',
        [g.node('Mul', [inner, g.scalar(Math.sqrt(2 / Math.PI))], `${mp}.arg`)],
        `${mp}.tanh`,
      );
      const half = g.node('Mul', [f, g.scalar(0.5)], `${mp}.half`);
      act = g.node('Mul', [half, g.node('Add', [th, g.scalar(1)], `${mp}.1+t`)], `${mp}.gelu`);
    } else {
      const gate = linear(h, b.mlpIn.gate, `${mp}.gate`);
      const up = linear(h, b.mlpIn.up, `${mp}.up`);
      const silu = g.node('Mul', [gate, g.node('Sigmoid', [gate], `${mp}.sig`)], `${mp}.silu`);
      act = g.node('Mul', [silu, up], `${mp}.swiglu`);
    }
    const m = linear(act, b.mlpOut, `${mp}.out`);
    x = g.node('Add', [x, m], `${lp}.resid_mlp`);
  }
  const xf = norm(x, t.finalNorm);
  const head = t.tied
    ? g.node('Transpose', [embed], `${t.lmHead}_t`, { perm: [1, 0] })
    : g.f32(`${t.lmHead}_t`, [d, c.vocabSize], transpose2d(w(t.lmHead), c.vocabSize, d));
  g.nodes.push({ op: 'MatMul', inputs: [xf, head], outputs: [logitsName], name: 'lm_head/MatMul' });

  const inputs = [{ name: ids, elemType: INT64, shape: ['batch', 'sequence'] }];
  if (posInput) inputs.push({ name: posInput, elemType: INT64, shape: ['batch', 'sequence'] });
  const msg = modelProto({
    irVersion: ONNX_IR_VERSION,
    opset: ONNX_OPSET,
    producerName: 'peft-playground',
    producerVersion: '0.1.0',
    docString: `${c.modelType} causal LM exported by PEFT Playground`,
    graph: {
      name: options.name ?? `${c.modelType}-causal-lm`,
      nodes: g.nodes,
      initializers: g.initializers,
      inputs,
      outputs: [{ name: logitsName, elemType: FLOAT, shape: ['batch', 'sequence', c.vocabSize] }],
    },
    metadata: {
      model_type: c.modelType,
      vocab_size: String(c.vocabSize),
      max_positions: String(c.maxPositions),
    },
  });
  if (msg.len > ONNX_MAX_BYTES) {
    throw new Error(
      `ONNX export: the model would be ${(msg.len / 2 ** 30).toFixed(2)} GiB, over protobuf's 2 GiB limit for one file (external data is not supported)`,
    );
  }
  return concatMsg(msg);
}
