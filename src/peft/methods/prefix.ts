// Prefix tuning (PEFT's PREFIX_TUNING): a table [n, L·2·td] (td = Hkv·D, PEFT's token_dim after its GQA
// adjustment) viewed as [n, L·2, Hkv, D]; layer i's attention sees n extra keys from slot 2i and values from
// slot 2i+1 ahead of the real ones, visible to every query (the attention op's prefix argument), keys not
// rotated (Llama). HF treats them as past keys, so real tokens take positions n..n+T−1 (the positionOffset
// hook). Labels are not shifted: nothing is inserted into the sequence.
//
// With prefix_projection the table is computed, as PEFT's PrefixEncoder: embedding [n, td] → Linear(td, e) →
// tanh → Linear(e, L·2·td); the embedding and both linears train, and a save writes the computed table as
// `prompt_embeddings` (what PEFT's get_peft_model_state_dict writes). PEFT then loads it in inference mode,
// the table itself being the parameter; so does an adapter rebuilt here from that adapter_config.json.
// Not mergeable: its inference cost is n extra keys/values per layer.

import type { ModelConfig } from '../../formats/model-config';
import type { ModelHooks } from '../../model/transformer';
import * as op from '../../tensor/ops';
import { tanh } from '../../tensor/ops-tanh';
import type { ParamSet, ParamSpec } from '../../tensor/params';
import { Tape, type Tensor } from '../../tensor/tape';
import { hashString, randn, randu } from '../../util/rng';
import { OptionReader } from '../options';
import type { MethodContext, OptionSpec, PeftMethod, RawOptions } from '../types';
import { checkPromptDims, PROMPT_KEY } from './prompt';

export interface PrefixOptions {
  numVirtualTokens: number;
  prefixProjection: boolean;
  /** The MLP's hidden width (PEFT: encoder_hidden_size, default token_dim). */
  encoderHiddenSize: number;
  /**
   * Rebuilt from a saved config with prefix_projection: the saved table is the parameter (PEFT's
   * inference_mode), there is no MLP.
   */
  tableOnly: boolean;
}

/** PEFT's token_dim for prefix tuning: head_dim × key/value heads (its grouped-query adjustment). */
export const prefixTokenDim = (c: ModelConfig): number => c.numKvHeads * c.headDim;
/** Columns of the table: a key and a value slot per layer. */
export const prefixWidth = (c: ModelConfig): number => c.numLayers * 2 * prefixTokenDim(c);

/** Internal names of the reparametrisation's tensors (PEFT's prompt_encoder, adapter name stripped). */
export const PREFIX_MLP = {
  embedding: 'prompt_encoder.embedding.weight',
  w0: 'prompt_encoder.transform.0.weight',
  b0: 'prompt_encoder.transform.0.bias',
  w2: 'prompt_encoder.transform.2.weight',
  b2: 'prompt_encoder.transform.2.bias',
} as const;

const PREFIX_OPTIONS = [
  {
    key: 'num_virtual_tokens',
    kind: 'int',
    default: 20,
    min: 1,
    group: 'main',
    help: 'prefix length per layer, fewer than the model’s positions (PEFT requires it; its examples use 20)',
  },
  {
    key: 'prefix_projection',
    kind: 'bool',
    default: false,
    group: 'main',
    help: 'compute the prefixes with a two-layer tanh MLP (reparametrisation)',
  },
  {
    key: 'encoder_hidden_size',
    kind: 'int',
    default: null,
    min: 1,
    max: 1 << 20,
    group: 'advanced',
    help: 'hidden width of that MLP (default: token_dim = key/value heads × head dim)',
  },
] as const satisfies readonly OptionSpec[];

function parsePrefix(raw: RawOptions, c: ModelConfig, ctx?: MethodContext): PrefixOptions {
  const rd = new OptionReader('prefix', PREFIX_OPTIONS, raw);
  const prefixProjection = rd.get('prefix_projection');
  return {
    numVirtualTokens: rd.get('num_virtual_tokens', { max: c.maxPositions - 1 }),
    prefixProjection,
    encoderHiddenSize: rd.get('encoder_hidden_size') ?? prefixTokenDim(c),
    // A saved MLP-computed table is the parameter itself (PEFT's inference_mode): no MLP to rebuild.
    tableOnly: ctx?.saved === true && prefixProjection,
  };
}

const mlp = (o: PrefixOptions) => o.prefixProjection && !o.tableOnly;

export function prefixSpecs(o: PrefixOptions, c: ModelConfig, seed: number): ParamSpec[] {
  const n = o.numVirtualTokens;
  const td = prefixTokenDim(c);
  const W = prefixWidth(c);
  const e = o.encoderHiddenSize;
  const s = (name: string) => (seed ^ hashString(name)) >>> 0;
  // nn.Embedding: N(0, 1); nn.Linear: weight and bias U(±1/√fan_in) (kaiming_uniform(a=√5) and its bias rule).
  const normal = (name: string, shape: number[]): ParamSpec => ({
    name,
    shape,
    trainable: true,
    data: Float32Array.from(randn(shape[0] * shape[1], s(name), 1)),
  });
  const uniform = (name: string, shape: number[], fanIn: number): ParamSpec => {
    const b = 1 / Math.sqrt(fanIn);
    const size = shape.reduce((a, x) => a * x, 1);
    return { name, shape, trainable: true, data: Float32Array.from(randu(size, s(name), -b, b)) };
  };
  if (!mlp(o)) return [normal(PROMPT_KEY, [n, W])];
  return [
    normal(PREFIX_MLP.embedding, [n, td]),
    uniform(PREFIX_MLP.w0, [e, td], td),
    uniform(PREFIX_MLP.b0, [e], td),
    uniform(PREFIX_MLP.w2, [W, e], e),
    uniform(PREFIX_MLP.b2, [W], e),
  ];
}

/** The table [n, L·2·td] on a tape: the parameter itself, or the MLP's output. */
export function prefixTable<S, I>(tp: Tape<S, I>, o: PrefixOptions, ps: ParamSet<S, I>): Tensor<S> {
  if (!mlp(o)) return ps.get(PROMPT_KEY);
  const h = op.linear(
    tp,
    ps.get(PREFIX_MLP.embedding),
    ps.get(PREFIX_MLP.w0),
    ps.get(PREFIX_MLP.b0),
    'out_in',
    'prefix.transform.0',
  );
  const t = tanh(tp, h, 'prefix.transform.1');
  return op.linear(tp, t, ps.get(PREFIX_MLP.w2), ps.get(PREFIX_MLP.b2), 'out_in', 'prefix.transform.2');
}

export const prefix: PeftMethod<PrefixOptions> = {
  info: {
    name: 'prefix',
    label: 'Prefix tuning',
    family: 'additive',
    peftType: 'PREFIX_TUNING',
    mergeable: false,
    identityAtInit: false,
    // PEFT's prefix-tuning examples train at 1e-2.
    defaultLr: 1e-2,
    options: PREFIX_OPTIONS,
  },
  parse: parsePrefix,
  build: (o, c, _base, seed) => ({ baseTrainable: () => false, added: prefixSpecs(o, c, seed) }),
  count(o, c) {
    const n = o.numVirtualTokens;
    const td = prefixTokenDim(c);
    const W = prefixWidth(c);
    const e = o.encoderHiddenSize;
    return mlp(o) ? n * td + e * td + e + W * e + W : n * W;
  },
  hooks<S, I>(o: PrefixOptions, c: ModelConfig, ps: ParamSet<S, I>): ModelHooks<S, I> {
    const td = prefixTokenDim(c);
    // The MLP runs once per forward pass (per tape), not once per layer.
    const tables = new WeakMap<Tape<S, I>, Tensor<S>>();
    const tableOf = (tp: Tape<S, I>): Tensor<S> => {
      let t = tables.get(tp);
      if (!t) {
        t = prefixTable(tp, o, ps);
        tables.set(tp, t);
      }
      return t;
    };
    return {
      prefix(tp, layer) {
        const table = tableOf(tp);
        // Slot 2i of the [n, L·2, Hkv, D] view holds layer i's keys, slot 2i+1 its values.
        return {
          k: op.sliceCols(tp, table, 2 * layer * td, td, `prefix.${layer}.k`),
          v: op.sliceCols(tp, table, (2 * layer + 1) * td, td, `prefix.${layer}.v`),
        };
      },
      positionOffset: () => o.numVirtualTokens,
    };
  },
  async exportTensors(o, c, ps) {
    if (!mlp(o)) return null;
    const tp = new Tape(ps.be, false);
    try {
      const t = prefixTable(tp, o, ps);
      const data = Float32Array.from(await ps.be.read(t.store, t.size));
      return new Map([[PROMPT_KEY, { shape: [o.numVirtualTokens, prefixWidth(c)], data }]]);
    } finally {
      tp.dispose();
    }
  },
  loadError: (o) =>
    mlp(o)
      ? 'this prefix-tuning adapter trains a reparametrisation MLP, and a saved adapter holds only the table it ' +
        'computed (as PEFT saves it), which cannot be turned back into the MLP: rebuild the adapter from the ' +
        'saved adapter_config.json, which loads the table itself (as PEFT does)'
      : null,
  adapterConfig: (o, c) => ({
    peft_type: 'PREFIX_TUNING',
    task_type: 'CAUSAL_LM',
    auto_mapping: null,
    revision: null,
    inference_mode: true,
    num_virtual_tokens: o.numVirtualTokens,
    token_dim: prefixTokenDim(c),
    num_transformer_submodules: 1,
    num_attention_heads: c.numKvHeads,
    num_layers: c.numLayers,
    modules_to_save: null,
    encoder_hidden_size: o.encoderHiddenSize,
    prefix_projection: o.prefixProjection,
  }),
  checkAdapterConfig(json, c) {
    checkPromptDims(
      json,
      { token_dim: prefixTokenDim(c), num_attention_heads: c.numKvHeads, num_layers: c.numLayers },
      'key/value width / heads / layers',
    );
  },
  testOptions: () => ({ num_virtual_tokens: 3 }),
};
