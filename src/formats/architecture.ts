// Each family's tensors, declared once: module paths, tensor names, shapes as functions of the config,
// stored layouts, which projections carry biases (and which config.json flag turns them on), and how the
// LM head is tied. Everything else reads this table: checkpoint validation and the parameter count
// (model-config.ts), the model's parameter lookup and linear sites (model/), the ONNX export's
// initializers and the merged checkpoint (export/, peft/export.ts). Nothing outside this file spells a
// tensor name or shape of the base model.
//
//   GPT-2 (GPT2LMHeadModel)                        Llama / Qwen2 (LlamaForCausalLM, Qwen2ForCausalLM)
//   transformer.wte.weight       [V, d]            model.embed_tokens.weight            [V, d]
//   transformer.wpe.weight       [P, d]            (RoPE: no position table)
//   transformer.h.{i}.ln_1       LayerNorm [d] +b  model.layers.{i}.input_layernorm      RMSNorm [d]
//     .attn.c_attn   Conv1D [d, 3d] + b [3d]         .self_attn.{q,k,v}_proj  Linear [H·D|Hkv·D, d] (+b)
//     .attn.c_proj   Conv1D [d, d] + b               .self_attn.o_proj        Linear [d, H·D] (+b)
//   transformer.h.{i}.ln_2       LayerNorm [d] +b  model.layers.{i}.post_attention_layernorm  [d]
//     .mlp.c_fc      Conv1D [d, I] + b [I]           .mlp.{gate,up}_proj      Linear [I, d] (+b)
//     .mlp.c_proj    Conv1D [I, d] + b               .mlp.down_proj           Linear [d, I] (+b)
//   transformer.ln_f             LayerNorm [d] +b  model.norm                           RMSNorm [d]
//   lm_head.weight [V, d], absent when tied (the head is the embedding) — both families.
//
// Conv1D stores [in, out] (y = x·W); nn.Linear stores [out, in] (y = x·Wᵀ). GPT-2 checkpoints saved from
// GPT2Model lack the `transformer.` prefix, so it is optional on the way in.

import type { ModelConfig, ModelFamily, ModelType } from './model-config';

/** Stored weight layout: GPT-2 Conv1D is [in,out]; nn.Linear is [out,in]. */
export type WeightLayout = 'in_out' | 'out_in';

/** A linear layer as PEFT names it: module path (e.g. "transformer.h.0.attn.c_attn") and short name. */
export interface LinearSite {
  layer: number;
  /** Full module path without ".weight". */
  path: string;
  /** The last path component, what `target_modules` matches ("c_attn", "q_proj", ...). */
  module: string;
  inFeatures: number;
  outFeatures: number;
  /** Stored weight layout: GPT-2 Conv1D is [in,out]; nn.Linear is [out,in]. */
  layout: WeightLayout;
}

/** A linear layer's tensors: `<path>.weight` in the site's layout, and `<path>.bias` [out] when `bias`. */
export interface LinearTensors {
  readonly site: LinearSite;
  readonly bias: boolean;
}

/** A norm's tensors: `<path>.weight` [d], and `<path>.bias` [d] when `bias` (LayerNorm). */
export interface NormTensors {
  readonly path: string;
  readonly bias: boolean;
}

/** One decoder block: attention then MLP, each behind a norm, in forward order. */
export interface BlockTensors {
  readonly layer: number;
  readonly path: string;
  /** Module path of the attention sublayer ("transformer.h.0.attn", "model.layers.0.self_attn"). */
  readonly attnPath: string;
  readonly mlpPath: string;
  readonly attnNorm: NormTensors;
  /** GPT-2: one fused projection whose output is [q | k | v]; Llama: three. */
  readonly attnIn:
    | { readonly fused: LinearTensors }
    | { readonly q: LinearTensors; readonly k: LinearTensors; readonly v: LinearTensors };
  readonly attnOut: LinearTensors;
  readonly mlpNorm: NormTensors;
  /** GPT-2: c_fc then GELU; Llama: gate and up, then SwiGLU. */
  readonly mlpIn:
    | { readonly fc: LinearTensors }
    | { readonly gate: LinearTensors; readonly up: LinearTensors };
  readonly mlpOut: LinearTensors;
}

/** Every tensor of a model of one config, by role. */
export interface ModelTensors {
  readonly family: ModelFamily;
  /** Token embedding [V, d]. */
  readonly embed: string;
  /** Learned position table [maxPositions, d]; null with RoPE. */
  readonly positions: string | null;
  readonly blocks: readonly BlockTensors[];
  readonly finalNorm: NormTensors;
  /** The LM head's own weight, [V, d] (nn.Linear layout); not in the model when tied. */
  readonly lmHead: string;
  readonly tied: boolean;
  /** What the head reads: lmHead, or the embedding when tied. */
  readonly head: string;
}

// ---------------------------------------------------------------------------------------------
// Biases and the config.json flags that govern them

/** true: always there; false: never; a string: the config.json flag that turns it on (default off). */
export type BiasRule = boolean | 'attention_bias' | 'mlp_bias';
/** The three bias groups a config distinguishes: q/k/v (GPT-2's c_attn), the attention output, the MLP. */
export type BiasGroup = 'qkv' | 'o' | 'mlp';

/**
 * Which projections carry biases per model type. Qwen2's attention always has q/k/v biases and never
 * o_proj or MLP ones, whatever its config says; Llama's attention_bias covers q/k/v/o together.
 */
export const BIAS_RULES: Readonly<Record<ModelType, Readonly<Record<BiasGroup, BiasRule>>>> = {
  gpt2: { qkv: true, o: true, mlp: true },
  llama: { qkv: 'attention_bias', o: 'attention_bias', mlp: 'mlp_bias' },
  qwen2: { qkv: true, o: false, mlp: false },
};

export const BIAS_GROUPS: readonly BiasGroup[] = ['qkv', 'o', 'mlp'];

/** The config's flag for a bias group (ModelConfig's qkvBias / oBias / mlpBias). */
export function hasBias(c: ModelConfig, group: BiasGroup): boolean {
  return group === 'qkv' ? c.qkvBias : group === 'o' ? c.oBias : c.mlpBias;
}

/** The linears of a block in each bias group. */
export function biasGroupLinears(b: BlockTensors, group: BiasGroup): LinearTensors[] {
  if (group === 'o') return [b.attnOut];
  if (group === 'mlp') return [...mlpInLinears(b), b.mlpOut];
  return attnInLinears(b);
}

// ---------------------------------------------------------------------------------------------
// The two tables

function linear(
  layer: number,
  path: string,
  inFeatures: number,
  outFeatures: number,
  layout: WeightLayout,
  bias: boolean,
): LinearTensors {
  const module = path.slice(path.lastIndexOf('.') + 1);
  return { site: { layer, path, module, inFeatures, outFeatures, layout }, bias };
}

function gpt2Tensors(c: ModelConfig): ModelTensors {
  const d = c.hiddenSize;
  const I = c.intermediateSize;
  const blocks = Array.from({ length: c.numLayers }, (_, i): BlockTensors => {
    const p = `transformer.h.${i}`;
    const conv1d = (path: string, inF: number, outF: number, bias: boolean) =>
      linear(i, path, inF, outF, 'in_out', bias);
    return {
      layer: i,
      path: p,
      attnPath: `${p}.attn`,
      mlpPath: `${p}.mlp`,
      attnNorm: { path: `${p}.ln_1`, bias: true },
      attnIn: { fused: conv1d(`${p}.attn.c_attn`, d, 3 * d, c.qkvBias) },
      attnOut: conv1d(`${p}.attn.c_proj`, d, d, c.oBias),
      mlpNorm: { path: `${p}.ln_2`, bias: true },
      mlpIn: { fc: conv1d(`${p}.mlp.c_fc`, d, I, c.mlpBias) },
      mlpOut: conv1d(`${p}.mlp.c_proj`, I, d, c.mlpBias),
    };
  });
  const embed = 'transformer.wte.weight';
  const lmHead = 'lm_head.weight';
  return {
    family: 'gpt2',
    embed,
    positions: 'transformer.wpe.weight',
    blocks,
    finalNorm: { path: 'transformer.ln_f', bias: true },
    lmHead,
    tied: c.tieWordEmbeddings,
    head: c.tieWordEmbeddings ? embed : lmHead,
  };
}

function llamaTensors(c: ModelConfig): ModelTensors {
  const d = c.hiddenSize;
  const I = c.intermediateSize;
  const q = c.numHeads * c.headDim;
  const kv = c.numKvHeads * c.headDim;
  const blocks = Array.from({ length: c.numLayers }, (_, i): BlockTensors => {
    const p = `model.layers.${i}`;
    const nnLinear = (path: string, inF: number, outF: number, bias: boolean) =>
      linear(i, path, inF, outF, 'out_in', bias);
    return {
      layer: i,
      path: p,
      attnPath: `${p}.self_attn`,
      mlpPath: `${p}.mlp`,
      attnNorm: { path: `${p}.input_layernorm`, bias: false },
      attnIn: {
        q: nnLinear(`${p}.self_attn.q_proj`, d, q, c.qkvBias),
        k: nnLinear(`${p}.self_attn.k_proj`, d, kv, c.qkvBias),
        v: nnLinear(`${p}.self_attn.v_proj`, d, kv, c.qkvBias),
      },
      attnOut: nnLinear(`${p}.self_attn.o_proj`, q, d, c.oBias),
      mlpNorm: { path: `${p}.post_attention_layernorm`, bias: false },
      mlpIn: {
        gate: nnLinear(`${p}.mlp.gate_proj`, d, I, c.mlpBias),
        up: nnLinear(`${p}.mlp.up_proj`, d, I, c.mlpBias),
      },
      mlpOut: nnLinear(`${p}.mlp.down_proj`, I, d, c.mlpBias),
    };
  });
  const embed = 'model.embed_tokens.weight';
  const lmHead = 'lm_head.weight';
  return {
    family: 'llama',
    embed,
    positions: null,
    blocks,
    finalNorm: { path: 'model.norm', bias: false },
    lmHead,
    tied: c.tieWordEmbeddings,
    head: c.tieWordEmbeddings ? embed : lmHead,
  };
}

/** What checkpoints of a family look like beyond the model's own tensors. */
interface CheckpointConventions {
  /** A prefix checkpoints may leave off (GPT-2 saved from GPT2Model); '' for none. */
  readonly optionalPrefix: string;
  /**
   * Tensors real checkpoints carry that the model does not load: GPT-2's causal-mask buffers and old
   * Llama exports' rotary inv_freq (transformers ignores them). Matched on the canonical key.
   */
  readonly buffers: RegExp;
}

const CONVENTIONS: Readonly<Record<ModelFamily, CheckpointConventions>> = {
  gpt2: { optionalPrefix: 'transformer.', buffers: /^transformer\.h\.\d+\.attn\.(bias|masked_bias)$/ },
  llama: { optionalPrefix: '', buffers: /\.rotary_emb\.inv_freq$/ },
};

// Configs are immutable; forward() asks for the table once per layer and validation once per key, so
// it is built once per config object.
const cache = new WeakMap<ModelConfig, { tensors: ModelTensors; roots: ReadonlySet<string> }>();

function cached(c: ModelConfig): { tensors: ModelTensors; roots: ReadonlySet<string> } {
  let e = cache.get(c);
  if (!e) {
    const tensors = c.family === 'gpt2' ? gpt2Tensors(c) : llamaTensors(c);
    e = { tensors, roots: prefixedRoots(c.family, tensors) };
    cache.set(c, e);
  }
  return e;
}

/** The tensors of a model of this config. */
export function modelTensors(c: ModelConfig): ModelTensors {
  return cached(c).tensors;
}

// ---------------------------------------------------------------------------------------------
// Views of the table

/** A block's attention input projections (GPT-2: c_attn; Llama: q, k, v). */
export function attnInLinears(b: BlockTensors): LinearTensors[] {
  return 'fused' in b.attnIn ? [b.attnIn.fused] : [b.attnIn.q, b.attnIn.k, b.attnIn.v];
}

/** A block's MLP input projections (GPT-2: c_fc; Llama: gate, up). */
export function mlpInLinears(b: BlockTensors): LinearTensors[] {
  return 'fc' in b.mlpIn ? [b.mlpIn.fc] : [b.mlpIn.gate, b.mlpIn.up];
}

/** A block's linear layers in forward order. */
export function blockLinears(b: BlockTensors): LinearTensors[] {
  return [...attnInLinears(b), b.attnOut, ...mlpInLinears(b), b.mlpOut];
}

/** Every linear layer of the model in forward order (the LM head is not a site). */
export function modelLinears(c: ModelConfig): LinearTensors[] {
  return modelTensors(c).blocks.flatMap(blockLinears);
}

/** Every norm of the model (per block: attention's, the MLP's; then the final one). */
export function modelNorms(c: ModelConfig): NormTensors[] {
  const t = modelTensors(c);
  return [...t.blocks.flatMap((b) => [b.attnNorm, b.mlpNorm]), t.finalNorm];
}

/** A stored weight's shape in its layout. */
export function linearWeightShape(site: LinearSite): number[] {
  return site.layout === 'in_out' ? [site.inFeatures, site.outFeatures] : [site.outFeatures, site.inFeatures];
}

/**
 * Every tensor a checkpoint must hold for this config, with its shape, in model order. GPT-2 keys
 * carry the `transformer.` prefix and Conv1D weights are [in, out]; Llama linears are [out, in].
 * A tied head has no `lm_head.weight` entry (it is the embedding).
 */
export function tensorShapes(c: ModelConfig): Map<string, number[]> {
  const t = modelTensors(c);
  const d = c.hiddenSize;
  const m = new Map<string, number[]>();
  const norm = (n: NormTensors) => {
    m.set(`${n.path}.weight`, [d]);
    if (n.bias) m.set(`${n.path}.bias`, [d]);
  };
  const lin = (l: LinearTensors) => {
    m.set(`${l.site.path}.weight`, linearWeightShape(l.site));
    if (l.bias) m.set(`${l.site.path}.bias`, [l.site.outFeatures]);
  };
  m.set(t.embed, [c.vocabSize, d]);
  if (t.positions) m.set(t.positions, [c.maxPositions, d]);
  for (const b of t.blocks) {
    norm(b.attnNorm);
    for (const l of [...attnInLinears(b), b.attnOut]) lin(l);
    norm(b.mlpNorm);
    for (const l of [...mlpInLinears(b), b.mlpOut]) lin(l);
  }
  norm(t.finalNorm);
  if (!t.tied) m.set(t.lmHead, [c.vocabSize, d]);
  return m;
}

/** The canonical key (the one tensorShapes uses) for a key as found in a checkpoint. */
export function canonicalKey(c: ModelConfig, key: string): string {
  const prefix = CONVENTIONS[c.family].optionalPrefix;
  if (!prefix || key.startsWith(prefix)) return key;
  // Only keys under the prefix's top-level modules take it (GPT-2: wte, wpe, h, ln_f; not lm_head).
  const root = key.slice(0, key.indexOf('.') + 1);
  return root && cached(c).roots.has(root) ? `${prefix}${key}` : key;
}

/** The first path components under the optional prefix that the table uses ("wte.", "h.", ...). */
function prefixedRoots(family: ModelFamily, t: ModelTensors): Set<string> {
  const prefix = CONVENTIONS[family].optionalPrefix;
  const names = [t.embed, t.positions ?? '', t.finalNorm.path, ...t.blocks.map((b) => b.path)];
  const roots = new Set<string>();
  if (!prefix) return roots;
  for (const name of names) {
    if (!name.startsWith(prefix)) continue;
    roots.add(`${name.slice(prefix.length).split('.')[0]}.`);
  }
  return roots;
}

/** A checkpoint tensor (canonical key) that is not a weight and is skipped: buffers, a saved tied head. */
export function isIgnorableKey(c: ModelConfig, key: string): boolean {
  if (CONVENTIONS[c.family].buffers.test(key)) return true;
  const t = modelTensors(c);
  // A tied head saved anyway (transformers ignores it too).
  return t.tied && key === t.lmHead;
}
