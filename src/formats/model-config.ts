// Hugging Face config.json → a normalized ModelConfig for the two families the engine runs
// (docs/METHODS.md "Models"): GPT-2 (`gpt2`) and Llama (`llama`, and `qwen2` = Llama + q/k/v biases).
// Also checkpoint validation against the config (every key and shape that architecture.ts's table
// implies, GPT-2 keys with or without the `transformer.` prefix), the parameter count and the
// weight-memory estimate shown before loading. Anything the engine does not
// implement (another model_type, rope scaling, another activation, sliding windows...) is refused
// with the field and value named, rather than loaded and silently computed wrong.
// The model itself (blocks, forward, backward) is src/model/'s; this file only reads and checks.
import {
  BIAS_GROUPS,
  BIAS_RULES,
  type BiasGroup,
  canonicalKey,
  isIgnorableKey,
  modelLinears,
  modelTensors,
  tensorShapes,
  type WeightLayout,
} from './architecture';
import { FormatError, isRecord, parseJsonText } from './errors';
import type { TensorReader } from './safetensors';

export type ModelType = 'gpt2' | 'llama' | 'qwen2';
export type ModelFamily = 'gpt2' | 'llama';

export interface ModelConfig {
  readonly modelType: ModelType;
  readonly family: ModelFamily;
  readonly vocabSize: number;
  /** d: the residual width (n_embd / hidden_size). */
  readonly hiddenSize: number;
  readonly numLayers: number;
  readonly numHeads: number;
  /** Key/value heads (grouped-query attention); = numHeads for GPT-2. */
  readonly numKvHeads: number;
  readonly headDim: number;
  /** MLP inner width (GPT-2: n_inner or 4d). */
  readonly intermediateSize: number;
  /** Positions the model was trained for (GPT-2: the wpe table's rows). */
  readonly maxPositions: number;
  readonly norm: 'layernorm' | 'rmsnorm';
  readonly normEps: number;
  /** GPT-2: GELU tanh approximation (gelu_new); Llama: SiLU in SwiGLU. */
  readonly activation: 'gelu_tanh' | 'silu';
  readonly positional: 'learned' | 'rope';
  /** RoPE base; null for learned positions. */
  readonly ropeTheta: number | null;
  readonly tieWordEmbeddings: boolean;
  /** Biases on q, k, v (GPT-2's c_attn, Qwen2, Llama attention_bias). */
  readonly qkvBias: boolean;
  /** Bias on the attention output projection (GPT-2, Llama attention_bias; not Qwen2). */
  readonly oBias: boolean;
  /** Biases on the MLP projections (GPT-2; Llama mlp_bias). */
  readonly mlpBias: boolean;
  readonly bosTokenId: number | null;
  /** config.json allows one id or a list (Llama 3); empty when absent. */
  readonly eosTokenIds: readonly number[];
  readonly padTokenId: number | null;
  /** As written (e.g. "float32", "bfloat16"); informational. */
  readonly torchDtype: string | null;
}

export const SUPPORTED_MODEL_TYPES: readonly ModelType[] = ['gpt2', 'llama', 'qwen2'];

// ---------------------------------------------------------------------------------------------
// Field readers: each names the field and the value it got.

type Json = Record<string, unknown>;

function show(v: unknown): string {
  return JSON.stringify(v) ?? String(v);
}

function reqInt(c: Json, field: string, file: string): number {
  if (c[field] === undefined || c[field] === null) throw new FormatError(file, `${field} is missing`, field);
  return posInt(c, field, file, 0);
}

function posInt(c: Json, field: string, file: string, dflt: number): number {
  const v = c[field] ?? dflt;
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v <= 0) {
    throw new FormatError(file, `${field} must be a positive integer, got ${show(c[field])}`, field);
  }
  return v;
}

function posNum(c: Json, field: string, file: string, dflt: number): number {
  const v = c[field] ?? dflt;
  if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0) {
    throw new FormatError(file, `${field} must be a positive number, got ${show(c[field])}`, field);
  }
  return v;
}

function bool(c: Json, field: string, file: string, dflt: boolean): boolean {
  const v = c[field] ?? dflt;
  if (typeof v !== 'boolean')
    throw new FormatError(file, `${field} must be true or false, got ${show(c[field])}`, field);
  return v;
}

function tokenId(c: Json, field: string, file: string, dflt: number | null): number | null {
  const v = c[field] !== undefined ? c[field] : dflt;
  if (v === null) return null;
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) {
    throw new FormatError(file, `${field} must be a token id, got ${show(v)}`, field);
  }
  return v;
}

function tokenIds(c: Json, field: string, file: string, dflt: number | null): number[] {
  const v = c[field] !== undefined ? c[field] : dflt;
  if (Array.isArray(v)) {
    return v.map((x, i) => {
      if (typeof x !== 'number' || !Number.isSafeInteger(x) || x < 0) {
        throw new FormatError(file, `${field}[${i}] must be a token id, got ${show(x)}`, field);
      }
      return x;
    });
  }
  const one = tokenId({ [field]: v }, field, file, null);
  return one === null ? [] : [one];
}

/** A feature the engine lacks: the field must be absent, or equal `allowed`. */
function refuseUnless(c: Json, field: string, file: string, allowed: unknown[], why: string): void {
  if (c[field] === undefined) return;
  const v = c[field];
  if (allowed.some((a) => a === v)) return;
  throw new FormatError(file, `${field} = ${show(v)} is not supported: ${why}`, field);
}

// ---------------------------------------------------------------------------------------------
// Parsing

/** Parses config.json (text or already-parsed JSON) into a ModelConfig, or refuses it. */
export function parseModelConfig(input: unknown, file = 'config.json'): ModelConfig {
  const c = typeof input === 'string' ? parseJsonText(input, file) : input;
  if (!isRecord(c)) throw new FormatError(file, 'must be a JSON object');
  const mt = c.model_type;
  if (mt === 'gpt2') return parseGpt2(c, file);
  if (mt === 'llama' || mt === 'qwen2') return parseLlama(c, mt, file);
  throw new FormatError(
    file,
    `model_type ${show(mt)} is not supported (supported: ${SUPPORTED_MODEL_TYPES.join(', ')})`,
    'model_type',
  );
}

function torchDtype(c: Json): string | null {
  const v = c.torch_dtype ?? c.dtype;
  return typeof v === 'string' ? v : null;
}

function parseGpt2(c: Json, file: string): ModelConfig {
  const act = c.activation_function ?? 'gelu_new';
  if (act !== 'gelu_new' && act !== 'gelu_pytorch_tanh') {
    throw new FormatError(
      file,
      `activation_function = ${show(act)} is not supported (only gelu_new or gelu_pytorch_tanh, the tanh-approximated GELU)`,
      'activation_function',
    );
  }
  refuseUnless(
    c,
    'scale_attn_weights',
    file,
    [true],
    'attention scores are always scaled by 1/sqrt(head_dim)',
  );
  refuseUnless(
    c,
    'scale_attn_by_inverse_layer_idx',
    file,
    [false],
    'per-layer score scaling is not implemented',
  );
  refuseUnless(c, 'add_cross_attention', file, [false], 'cross-attention is not implemented');
  const d = reqInt(c, 'n_embd', file);
  const heads = reqInt(c, 'n_head', file);
  if (d % heads !== 0) {
    throw new FormatError(file, `n_embd = ${d} is not divisible by n_head = ${heads}`, 'n_head');
  }
  const inner = c.n_inner === null || c.n_inner === undefined ? 4 * d : posInt(c, 'n_inner', file, 0);
  return {
    modelType: 'gpt2',
    family: 'gpt2',
    vocabSize: reqInt(c, 'vocab_size', file),
    hiddenSize: d,
    numLayers: reqInt(c, 'n_layer', file),
    numHeads: heads,
    numKvHeads: heads,
    headDim: d / heads,
    intermediateSize: inner,
    maxPositions: posInt(c, 'n_positions', file, 1024),
    norm: 'layernorm',
    normEps: posNum(c, 'layer_norm_epsilon', file, 1e-5),
    activation: 'gelu_tanh',
    positional: 'learned',
    ropeTheta: null,
    tieWordEmbeddings: bool(c, 'tie_word_embeddings', file, true),
    ...biasFlags(c, 'gpt2', file),
    bosTokenId: tokenId(c, 'bos_token_id', file, 50256),
    eosTokenIds: tokenIds(c, 'eos_token_id', file, 50256),
    padTokenId: tokenId(c, 'pad_token_id', file, null),
    torchDtype: torchDtype(c),
  };
}

/** The bias flags, by architecture.ts's rules: fixed per model type, or read from config.json's flag. */
function biasFlags(c: Json, mt: ModelType, file: string): Pick<ModelConfig, 'qkvBias' | 'oBias' | 'mlpBias'> {
  const on = (g: BiasGroup) => {
    const rule = BIAS_RULES[mt][g];
    return typeof rule === 'boolean' ? rule : bool(c, rule, file, false);
  };
  const [qkvBias, oBias, mlpBias] = BIAS_GROUPS.map(on);
  return { qkvBias, oBias, mlpBias };
}

function ropeTheta(c: Json, file: string): number {
  // transformers v5 moves rope_theta into rope_parameters; accept both, refuse any scaling type.
  const rp = c.rope_parameters;
  if (rp !== undefined && rp !== null) {
    if (!isRecord(rp))
      throw new FormatError(file, `rope_parameters must be an object, got ${show(rp)}`, 'rope_parameters');
    const type = rp.rope_type ?? rp.type ?? 'default';
    if (type !== 'default') {
      throw new FormatError(
        file,
        `rope_parameters.rope_type = ${show(type)} is not supported (only plain RoPE, "default")`,
        'rope_parameters',
      );
    }
    if (rp.rope_theta !== undefined && c.rope_theta === undefined)
      return posNum(rp, 'rope_theta', file, 10000);
  }
  return posNum(c, 'rope_theta', file, 10000);
}

function parseLlama(c: Json, mt: 'llama' | 'qwen2', file: string): ModelConfig {
  const act = c.hidden_act ?? 'silu';
  if (act !== 'silu') {
    throw new FormatError(
      file,
      `hidden_act = ${show(act)} is not supported (only silu, for SwiGLU)`,
      'hidden_act',
    );
  }
  if (c.rope_scaling !== undefined && c.rope_scaling !== null) {
    throw new FormatError(
      file,
      `rope_scaling = ${show(c.rope_scaling)} is not supported (only null: plain RoPE with rope_theta)`,
      'rope_scaling',
    );
  }
  if (mt === 'qwen2') {
    refuseUnless(c, 'use_sliding_window', file, [false], 'sliding-window attention is not implemented');
  }
  refuseUnless(
    c,
    'pretraining_tp',
    file,
    [1, null],
    'tensor-parallel pretraining splits are not implemented',
  );
  const d = reqInt(c, 'hidden_size', file);
  const heads = reqInt(c, 'num_attention_heads', file);
  const kvHeads = posInt(c, 'num_key_value_heads', file, heads);
  if (heads % kvHeads !== 0) {
    throw new FormatError(
      file,
      `num_key_value_heads = ${kvHeads} does not divide num_attention_heads = ${heads}`,
      'num_key_value_heads',
    );
  }
  let headDim: number;
  if (c.head_dim !== undefined && c.head_dim !== null) headDim = posInt(c, 'head_dim', file, 0);
  else if (d % heads !== 0) {
    throw new FormatError(
      file,
      `hidden_size = ${d} is not divisible by num_attention_heads = ${heads}`,
      'hidden_size',
    );
  } else headDim = d / heads;
  if (headDim % 2 !== 0)
    throw new FormatError(file, `head_dim = ${headDim} must be even for RoPE`, 'head_dim');
  return {
    modelType: mt,
    family: 'llama',
    vocabSize: reqInt(c, 'vocab_size', file),
    hiddenSize: d,
    numLayers: reqInt(c, 'num_hidden_layers', file),
    numHeads: heads,
    numKvHeads: kvHeads,
    headDim,
    intermediateSize: reqInt(c, 'intermediate_size', file),
    maxPositions: posInt(c, 'max_position_embeddings', file, mt === 'qwen2' ? 32768 : 2048),
    norm: 'rmsnorm',
    normEps: posNum(c, 'rms_norm_eps', file, 1e-6),
    activation: 'silu',
    positional: 'rope',
    ropeTheta: ropeTheta(c, file),
    tieWordEmbeddings: bool(c, 'tie_word_embeddings', file, false),
    // Qwen2's attention always has q/k/v biases and no o_proj bias, whatever the config says.
    ...biasFlags(c, mt, file),
    bosTokenId: tokenId(c, 'bos_token_id', file, null),
    eosTokenIds: tokenIds(c, 'eos_token_id', file, null),
    padTokenId: tokenId(c, 'pad_token_id', file, null),
    torchDtype: torchDtype(c),
  };
}

// ---------------------------------------------------------------------------------------------
// Checkpoint keys and shapes (the names and shapes themselves are architecture.ts's table)

export { canonicalKey } from './architecture';

/**
 * Every tensor a checkpoint must hold for this config, with its shape, in model order (architecture.ts).
 * A tied head has no `lm_head.weight` entry (it is the embedding).
 */
export function expectedTensorShapes(config: ModelConfig): Map<string, number[]> {
  return tensorShapes(config);
}

/** Number of weights (a tied head counted once). */
export function countParameters(config: ModelConfig): number {
  let n = 0;
  for (const s of expectedTensorShapes(config).values()) n += s.reduce((a, b) => a * b, 1);
  return n;
}

const BYTES_PER: Record<'F32' | 'F16' | 'BF16', number> = { F32: 4, F16: 2, BF16: 2 };

/** A frozen base's storage dtype (the same names as tensor/weight-format.ts's BaseDtype, a layer above). */
export type StorageDtype = 'f32' | 'f16' | 'bf16' | 'int8' | 'nf4';

/** A buffer's size as the arena counts it: at least 16 bytes, rounded up to 16. */
const aligned16 = (b: number) => Math.max(16, Math.ceil(b / 16) * 16);

/**
 * Bytes one frozen tensor takes on the device in `dtype`, as the arena counts it: 16-bit halves two per u32
 * word; int8 four per word plus one f32 scale per output channel (`outChannels`); NF4 eight per word plus
 * one f32 absmax per block of 64; each buffer (values, scales) 16-byte aligned.
 */
export function storedTensorBytes(n: number, dtype: StorageDtype, outChannels = 1): number {
  switch (dtype) {
    case 'f32':
      return aligned16(n * 4);
    case 'f16':
    case 'bf16':
      return aligned16(Math.ceil(n / 2) * 4);
    case 'int8':
      return aligned16(Math.ceil(n / 4) * 4) + aligned16(outChannels * 4);
    case 'nf4':
      return aligned16(Math.ceil(n / 8) * 4) + aligned16(Math.ceil(n / 64) * 4);
  }
}

const ELEMS_PER_WORD: Record<StorageDtype, number> = { f32: 1, f16: 2, bf16: 2, int8: 4, nf4: 8 };
/** Elements a part must be a whole multiple of: a u32 word of 16-bit or int8 values, an NF4 block of 64. */
const PART_QUANTUM: Record<StorageDtype, number> = { f32: 1, f16: 2, bf16: 2, int8: 4, nf4: 64 };
const gcd = (a: number, b: number): number => (b === 0 ? a : gcd(b, a % b));

/**
 * The largest of the buffers (values, scales) that `rows` rows of a [rows, cols] tensor take in `dtype`,
 * 16-byte aligned as the arena allocates them: what must fit the per-buffer binding limit.
 */
export function largestBufferBytes(
  rows: number,
  cols: number,
  dtype: StorageDtype,
  layout: WeightLayout,
): number {
  const n = rows * cols;
  const values = aligned16(Math.ceil(n / ELEMS_PER_WORD[dtype]) * 4);
  const scales =
    dtype === 'int8'
      ? aligned16((layout === 'out_in' ? rows : cols) * 4)
      : dtype === 'nf4'
        ? aligned16(Math.ceil(n / 64) * 4)
        : 0;
  return Math.max(values, scales);
}

/**
 * Rows of each part a frozen tensor is held in so that every buffer fits `maxBufferBytes` (WebGPU's
 * maxStorageBufferBindingSize): [rows] when it fits whole, else parts along the first axis, as even as
 * whole row blocks allow, each starting on a whole word (16-bit, int8) or NF4 block of 64 so the stored
 * values of every part are exactly those of the whole tensor (int8's per-row scales split with their rows).
 * Throws, saying why, what cannot be split: a vector, a per-column int8 matrix (its scales span all rows),
 * a row block that alone exceeds the limit.
 */
export function frozenPartRows(
  shape: readonly number[],
  dtype: StorageDtype,
  layout: WeightLayout,
  maxBufferBytes: number,
): number[] {
  const rows = shape[0] ?? 1;
  const cols = shape.slice(1).reduce((a, b) => a * b, 1);
  if (largestBufferBytes(rows, cols, dtype, layout) <= maxBufferBytes) return [rows];
  if (shape.length !== 2) throw new Error(`a ${shape.length}-D tensor cannot be split into row parts`);
  if (dtype === 'int8' && layout === 'in_out')
    throw new Error('an int8 matrix with per-column scales cannot be split into row parts');
  const q = PART_QUANTUM[dtype];
  const unit = q / gcd(cols, q);
  let most = Math.floor((maxBufferBytes * ELEMS_PER_WORD[dtype]) / ((4 * cols) / 1));
  most -= most % unit;
  while (most > 0 && largestBufferBytes(most, cols, dtype, layout) > maxBufferBytes) most -= unit;
  if (most <= 0)
    throw new Error(
      `${unit} row(s) of ${cols} values already exceed ${maxBufferBytes} bytes, the smallest part it could be split into`,
    );
  const parts = Math.ceil(rows / most);
  const even = Math.ceil(rows / parts / unit) * unit;
  const out: number[] = [];
  for (let r = 0; r < rows; r += even) out.push(Math.min(even, rows - r));
  return out;
}

/** Bytes a frozen tensor takes held in the parts frozenPartRows gives (the sum of each part's buffers). */
export function storedPartsBytes(
  shape: readonly number[],
  dtype: StorageDtype,
  layout: WeightLayout,
  maxBufferBytes = Number.POSITIVE_INFINITY,
): number {
  if (shape.length !== 2)
    return storedTensorBytes(
      shape.reduce((a, b) => a * b, 1),
      dtype,
      1,
    );
  const cols = shape[1];
  return frozenPartRows(shape, dtype, layout, maxBufferBytes).reduce(
    (sum, r) => sum + storedTensorBytes(r * cols, dtype, layout === 'out_in' ? r : cols),
    0,
  );
}

/** One frozen tensor of the base as the device holds it: its dtype, and the output axis of a matrix. */
export interface FrozenTensorPlan {
  shape: number[];
  dtype: StorageDtype;
  layout: WeightLayout;
}

/**
 * Which dtype each base tensor is held in when the user chooses `dtype`: the matrices the matmuls and the
 * embedding read (linear weights, the token embedding, an untied LM head) take it; norms, biases and the
 * learned position table stay f32 (small, and read by kernels that take f32 only).
 */
export function frozenTensorPlan(config: ModelConfig, dtype: StorageDtype): Map<string, FrozenTensorPlan> {
  const t = modelTensors(config);
  const formatted = new Map<string, WeightLayout>();
  for (const l of modelLinears(config)) formatted.set(`${l.site.path}.weight`, l.site.layout);
  formatted.set(t.embed, 'out_in');
  if (!t.tied) formatted.set(t.lmHead, 'out_in');
  const out = new Map<string, FrozenTensorPlan>();
  for (const [name, shape] of expectedTensorShapes(config)) {
    const layout = formatted.get(name);
    out.set(name, { shape, dtype: layout ? dtype : 'f32', layout: layout ?? 'out_in' });
  }
  return out;
}

/**
 * Bytes the weights take (a tied head counted once): the loader's pre-flight figure. A safetensors dtype
 * (F32/F16/BF16) counts bare elements; a base dtype (f32/f16/bf16/int8/nf4) counts what the device holds
 * for that choice, exactly as the arena does (frozenTensorPlan, storedTensorBytes).
 */
export function estimateWeightBytes(
  config: ModelConfig,
  dtype: 'F32' | 'F16' | 'BF16' | StorageDtype = 'F32',
  /** The per-buffer limit: a tensor above it counts as the parts it is held in (frozenPartRows). */
  maxBufferBytes = Number.POSITIVE_INFINITY,
): number {
  if (dtype === 'F32' || dtype === 'F16' || dtype === 'BF16')
    return countParameters(config) * BYTES_PER[dtype];
  let bytes = 0;
  for (const p of frozenTensorPlan(config, dtype).values())
    bytes += storedPartsBytes(p.shape, p.dtype, p.layout, maxBufferBytes);
  return bytes;
}

export interface CheckpointMatch {
  /** Canonical key → the key as it appears in the checkpoint. */
  readonly keyMap: ReadonlyMap<string, string>;
  /** Keys the checkpoint has that the config does not use and that are not known-ignorable. */
  readonly unexpected: readonly string[];
  /** Known extra tensors skipped (GPT-2 attn.bias buffers, a saved tied head...). */
  readonly ignored: readonly string[];
}

function listSome(keys: string[]): string {
  const shown = keys.slice(0, 5).map((k) => `"${k}"`);
  return keys.length > 5 ? `${shown.join(', ')} and ${keys.length - 5} more` : shown.join(', ');
}

/**
 * Checks a checkpoint's keys and shapes against the config before anything is allocated: every
 * expected tensor present with the right shape (else a FormatError naming file, key and both
 * shapes). Extra keys are reported, not fatal, as transformers only warns about them.
 */
export function validateCheckpointShapes(
  config: ModelConfig,
  shapes: ReadonlyMap<string, readonly number[]>,
  file = 'model.safetensors',
  configFile = 'config.json',
): CheckpointMatch {
  const expected = expectedTensorShapes(config);
  const keyMap = new Map<string, string>();
  const unexpected: string[] = [];
  const ignored: string[] = [];
  for (const [key, shape] of shapes) {
    const canon = canonicalKey(config, key);
    const want = expected.get(canon);
    if (!want) {
      (isIgnorableKey(config, canon) ? ignored : unexpected).push(key);
      continue;
    }
    if (keyMap.has(canon)) {
      throw new FormatError(file, `holds "${canon}" twice (as "${keyMap.get(canon)}" and "${key}")`, key);
    }
    if (want.length !== shape.length || want.some((w, i) => w !== shape[i])) {
      throw new FormatError(
        file,
        `tensor "${key}" has shape [${shape}] but ${configFile} implies [${want}]`,
        key,
      );
    }
    keyMap.set(canon, key);
  }
  const missing = [...expected.keys()].filter((k) => !keyMap.has(k));
  if (missing.length > 0) {
    throw new FormatError(
      file,
      `is missing ${missing.length} tensor(s) that ${configFile} implies: ${listSome(missing)}`,
      missing[0],
    );
  }
  return { keyMap, unexpected, ignored };
}

/** Shapes of every tensor a reader holds, for validateCheckpointShapes. */
export function readerShapes(reader: TensorReader): Map<string, readonly number[]> {
  const m = new Map<string, readonly number[]>();
  for (const k of reader.keys()) m.set(k, reader.info(k).shape);
  return m;
}
