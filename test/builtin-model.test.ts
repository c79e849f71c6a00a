// The built-in model (public/models/tiny-llama-brown, pretrained by scripts/pretrain): its files are in
// Hugging Face layout, its tokenizer loads in @huggingface/tokenizers and encodes exactly as the Python
// trainer did, its chat template renders, and an independent float64 Llama forward written here from
// docs/METHODS.md reproduces the logits and loss PyTorch recorded (test/fixtures/builtin-model-reference.json).
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { Template } from '@huggingface/jinja';
import { Tokenizer } from '@huggingface/tokenizers';
import { describe, expect, it } from 'vitest';

const DIR = join(import.meta.dirname, '..', 'public', 'models', 'tiny-llama-brown');
const FIX = join(import.meta.dirname, 'fixtures');
const readJson = <T>(p: string): T => JSON.parse(readFileSync(p, 'utf8')) as T;

interface Config {
  model_type: string;
  hidden_size: number;
  intermediate_size: number;
  num_hidden_layers: number;
  num_attention_heads: number;
  num_key_value_heads: number;
  head_dim: number;
  rms_norm_eps: number;
  rope_theta: number;
  max_position_embeddings: number;
  vocab_size: number;
  tie_word_embeddings: boolean;
  hidden_act: string;
  bos_token_id: number;
  eos_token_id: number;
  torch_dtype: string;
}
interface TensorInfo {
  dtype: string;
  shape: number[];
  data_offsets: [number, number];
}
interface Reference {
  input_ids: number[];
  logits_rows: number[];
  logits: number[][];
  argmax: number[];
  logsumexp: number[];
  loss: number;
  loss_masked: number;
}

const config = readJson<Config>(join(DIR, 'config.json'));
const tokenizerJson = readJson<Record<string, unknown>>(join(DIR, 'tokenizer.json'));
const tokenizerConfig = readJson<Record<string, unknown>>(join(DIR, 'tokenizer_config.json'));

function readSafetensors(path: string): {
  header: Record<string, TensorInfo>;
  headerLen: number;
  data: Buffer;
} {
  const buf = readFileSync(path);
  const n = Number(buf.readBigUInt64LE(0));
  const header = JSON.parse(buf.subarray(8, 8 + n).toString('utf8')) as Record<string, TensorInfo>;
  delete header.__metadata__;
  return { header, headerLen: n, data: buf.subarray(8 + n) };
}

function expectedShapes(c: Config): Record<string, number[]> {
  const d = c.hidden_size;
  const q = c.num_attention_heads * c.head_dim;
  const kv = c.num_key_value_heads * c.head_dim;
  const f = c.intermediate_size;
  const s: Record<string, number[]> = {
    'model.embed_tokens.weight': [c.vocab_size, d],
    'model.norm.weight': [d],
  };
  for (let i = 0; i < c.num_hidden_layers; i++) {
    const p = `model.layers.${i}.`;
    s[p + 'input_layernorm.weight'] = [d];
    s[p + 'post_attention_layernorm.weight'] = [d];
    s[p + 'self_attn.q_proj.weight'] = [q, d];
    s[p + 'self_attn.k_proj.weight'] = [kv, d];
    s[p + 'self_attn.v_proj.weight'] = [kv, d];
    s[p + 'self_attn.o_proj.weight'] = [d, q];
    s[p + 'mlp.gate_proj.weight'] = [f, d];
    s[p + 'mlp.up_proj.weight'] = [f, d];
    s[p + 'mlp.down_proj.weight'] = [d, f];
  }
  if (!c.tie_word_embeddings) s['lm_head.weight'] = [c.vocab_size, d];
  return s;
}

describe('built-in model files', () => {
  it('is a Llama config with every field the loader needs', () => {
    expect(config.model_type).toBe('llama');
    expect(config.hidden_act).toBe('silu');
    expect(config.num_attention_heads % config.num_key_value_heads).toBe(0);
    expect(config.num_key_value_heads).toBeLessThan(config.num_attention_heads);
    expect(config.rope_theta).toBe(10000);
    for (const k of ['hidden_size', 'intermediate_size', 'num_hidden_layers', 'head_dim', 'vocab_size']) {
      expect(Number.isInteger(config[k as keyof Config])).toBe(true);
    }
    expect(config.eos_token_id).toBe(config.vocab_size - 1);
  });

  it('fits in 25 MB', () => {
    const total = readdirSync(DIR).reduce((s, f) => s + statSync(join(DIR, f)).size, 0);
    expect(total).toBeLessThanOrEqual(25 * 1024 * 1024);
  });

  it('has a well-formed safetensors file with exactly the HF Llama keys and shapes', () => {
    const { header, headerLen, data } = readSafetensors(join(DIR, 'model.safetensors'));
    expect(headerLen % 8).toBe(0);
    const want = expectedShapes(config);
    expect(Object.keys(header).sort()).toEqual(Object.keys(want).sort());
    const spans: [number, number][] = [];
    for (const [k, t] of Object.entries(header)) {
      expect(['F32', 'F16']).toContain(t.dtype);
      expect(t.shape, k).toEqual(want[k]);
      const n = t.shape.reduce((a, b) => a * b, 1);
      expect(t.data_offsets[1] - t.data_offsets[0]).toBe(n * (t.dtype === 'F32' ? 4 : 2));
      spans.push(t.data_offsets);
    }
    spans.sort((a, b) => a[0] - b[0]);
    let at = 0;
    for (const [a, b] of spans) {
      expect(a).toBe(at);
      at = b;
    }
    expect(at).toBe(data.length);
  });
});

describe('built-in tokenizer', () => {
  const tok = new Tokenizer(tokenizerJson, tokenizerConfig);
  const fixture = readJson<{ samples: { text: string; ids: number[] }[] }>(
    join(FIX, 'builtin-tokenizer-samples.json'),
  );

  it('is a byte-level BPE with <|endoftext|> as its special token', () => {
    const model = tokenizerJson.model as { type: string; vocab: Record<string, number>; merges: unknown[] };
    expect(model.type).toBe('BPE');
    expect(Object.keys(model.vocab).length).toBe(config.vocab_size);
    expect(model.merges.length).toBe(config.vocab_size - 257);
    expect(tokenizerJson.pre_tokenizer).toMatchObject({
      type: 'ByteLevel',
      add_prefix_space: false,
      use_regex: true,
    });
    expect(tokenizerJson.decoder).toMatchObject({ type: 'ByteLevel' });
    expect(tok.token_to_id('<|endoftext|>')).toBe(config.eos_token_id);
    expect(tokenizerConfig.eos_token).toBe('<|endoftext|>');
  });

  it('encodes and decodes every sample exactly as the Python trainer', () => {
    for (const { text, ids } of fixture.samples) {
      const got = tok.encode(text, { add_special_tokens: false }).ids;
      expect(got, text).toEqual(ids);
      if (ids.length) expect(tok.decode(got, { skip_special_tokens: false })).toBe(text);
    }
  });

  it('renders its chat template', () => {
    const tpl = new Template(tokenizerConfig.chat_template as string);
    const text = tpl.render({
      messages: [
        { role: 'user', content: 'Who wrote it?' },
        { role: 'assistant', content: 'The jury.' },
        { role: 'user', content: 'When?' },
      ],
      add_generation_prompt: true,
      eos_token: '<|endoftext|>',
      bos_token: '<|endoftext|>',
    });
    expect(text).toBe('User: Who wrote it?\nAssistant: The jury.<|endoftext|>\nUser: When?\nAssistant:');
    const ids = tok.encode(text, { add_special_tokens: false }).ids;
    expect(ids.filter((i) => i === config.eos_token_id).length).toBe(1);
  });
});

// ---- an independent float64 forward pass (HF LlamaForCausalLM semantics) ----

function loadWeights(): Map<string, Float64Array> {
  const { header, data } = readSafetensors(join(DIR, 'model.safetensors'));
  const out = new Map<string, Float64Array>();
  for (const [k, t] of Object.entries(header)) {
    const [a, b] = t.data_offsets;
    const bytes = data.subarray(a, b);
    const n = (b - a) / (t.dtype === 'F32' ? 4 : 2);
    const w = new Float64Array(n);
    const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    for (let i = 0; i < n; i++)
      w[i] = t.dtype === 'F32' ? dv.getFloat32(i * 4, true) : f16(dv.getUint16(i * 2, true));
    out.set(k, w);
  }
  return out;
}

function f16(h: number): number {
  const s = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const m = h & 0x3ff;
  if (e === 0) return s * m * 2 ** -24;
  if (e === 31) return m ? Number.NaN : s * Number.POSITIVE_INFINITY;
  return s * (1 + m / 1024) * 2 ** (e - 15);
}

/** y[T,out] = x[T,in] · W[out,in]ᵀ */
function linear(x: Float64Array, T: number, W: Float64Array, nin: number, nout: number): Float64Array {
  const y = new Float64Array(T * nout);
  for (let t = 0; t < T; t++) {
    for (let o = 0; o < nout; o++) {
      let s = 0;
      for (let i = 0; i < nin; i++) s += x[t * nin + i] * W[o * nin + i];
      y[t * nout + o] = s;
    }
  }
  return y;
}

function rmsnorm(x: Float64Array, T: number, d: number, w: Float64Array, eps: number): Float64Array {
  const y = new Float64Array(T * d);
  for (let t = 0; t < T; t++) {
    let ss = 0;
    for (let i = 0; i < d; i++) ss += x[t * d + i] ** 2;
    const r = 1 / Math.sqrt(ss / d + eps);
    for (let i = 0; i < d; i++) y[t * d + i] = x[t * d + i] * r * w[i];
  }
  return y;
}

/**
 * RoPE, rotate_half layout: pairs (j, j + hd/2) rotate by angle pos·theta^(-2j/hd). Hugging Face
 * computes inv_freq, the angles and their cos/sin in float32 whatever the model's dtype; so do we.
 */
function rope(x: Float64Array, T: number, heads: number, hd: number, theta: number): void {
  const half = hd / 2;
  const f = Math.fround;
  const invFreq = Array.from({ length: half }, (_, j) => f(1 / f(theta ** f((2 * j) / hd))));
  for (let t = 0; t < T; t++) {
    for (let h = 0; h < heads; h++) {
      const base = (t * heads + h) * hd;
      for (let j = 0; j < half; j++) {
        const ang = f(t * invFreq[j]);
        const c = f(Math.cos(ang));
        const s = f(Math.sin(ang));
        const a = x[base + j];
        const b = x[base + j + half];
        x[base + j] = a * c - b * s;
        x[base + j + half] = b * c + a * s;
      }
    }
  }
}

function forward(c: Config, W: Map<string, Float64Array>, ids: number[]): Float64Array {
  const T = ids.length;
  const d = c.hidden_size;
  const nh = c.num_attention_heads;
  const nkv = c.num_key_value_heads;
  const hd = c.head_dim;
  const f = c.intermediate_size;
  const emb = W.get('model.embed_tokens.weight')!;
  let x = new Float64Array(T * d);
  ids.forEach((id, t) => {
    x.set(emb.subarray(id * d, (id + 1) * d), t * d);
  });
  for (let l = 0; l < c.num_hidden_layers; l++) {
    const p = `model.layers.${l}.`;
    const g = (k: string) => W.get(p + k)!;
    const h = rmsnorm(x, T, d, g('input_layernorm.weight'), c.rms_norm_eps);
    const q = linear(h, T, g('self_attn.q_proj.weight'), d, nh * hd);
    const k = linear(h, T, g('self_attn.k_proj.weight'), d, nkv * hd);
    const v = linear(h, T, g('self_attn.v_proj.weight'), d, nkv * hd);
    rope(q, T, nh, hd, c.rope_theta);
    rope(k, T, nkv, hd, c.rope_theta);
    const att = new Float64Array(T * nh * hd);
    const rep = nh / nkv;
    for (let head = 0; head < nh; head++) {
      const kh = Math.floor(head / rep);
      for (let t = 0; t < T; t++) {
        const sc = new Float64Array(t + 1);
        let mx = Number.NEGATIVE_INFINITY;
        for (let u = 0; u <= t; u++) {
          let s = 0;
          for (let j = 0; j < hd; j++) s += q[(t * nh + head) * hd + j] * k[(u * nkv + kh) * hd + j];
          sc[u] = s / Math.sqrt(hd);
          mx = Math.max(mx, sc[u]);
        }
        let z = 0;
        for (let u = 0; u <= t; u++) {
          sc[u] = Math.exp(sc[u] - mx);
          z += sc[u];
        }
        for (let u = 0; u <= t; u++) {
          for (let j = 0; j < hd; j++)
            att[(t * nh + head) * hd + j] += (sc[u] / z) * v[(u * nkv + kh) * hd + j];
        }
      }
    }
    const o = linear(att, T, g('self_attn.o_proj.weight'), nh * hd, d);
    x = x.map((xi, i) => xi + o[i]);
    const h2 = rmsnorm(x, T, d, g('post_attention_layernorm.weight'), c.rms_norm_eps);
    const gate = linear(h2, T, g('mlp.gate_proj.weight'), d, f);
    const up = linear(h2, T, g('mlp.up_proj.weight'), d, f);
    const act = gate.map((a, i) => (a / (1 + Math.exp(-a))) * up[i]);
    const down = linear(act, T, g('mlp.down_proj.weight'), f, d);
    x = x.map((xi, i) => xi + down[i]);
  }
  const hf = rmsnorm(x, T, d, W.get('model.norm.weight')!, c.rms_norm_eps);
  const head = c.tie_word_embeddings ? emb : W.get('lm_head.weight')!;
  return linear(hf, T, head, d, c.vocab_size);
}

function causalLmLoss(logits: Float64Array, V: number, labels: number[]): number {
  let tot = 0;
  let n = 0;
  for (let t = 0; t + 1 < labels.length; t++) {
    const y = labels[t + 1];
    if (y === -100) continue;
    const row = logits.subarray(t * V, (t + 1) * V);
    const mx = row.reduce((a, b) => Math.max(a, b), Number.NEGATIVE_INFINITY);
    const lse = mx + Math.log(row.reduce((a, b) => a + Math.exp(b - mx), 0));
    tot += lse - row[y];
    n++;
  }
  return tot / n;
}

describe('built-in model against the PyTorch reference', () => {
  it('reproduces the recorded logits and losses in float64', () => {
    const ref = readJson<Reference>(join(FIX, 'builtin-model-reference.json'));
    const V = config.vocab_size;
    const logits = forward(config, loadWeights(), ref.input_ids);
    ref.logits_rows.forEach((r, i) => {
      const row = logits.subarray(r * V, (r + 1) * V);
      let worst = 0;
      for (let j = 0; j < V; j++) worst = Math.max(worst, Math.abs(row[j] - ref.logits[i][j]));
      expect(worst, `row ${r}`).toBeLessThan(1e-6);
    });
    ref.argmax.forEach((a, t) => {
      const row = logits.subarray(t * V, (t + 1) * V);
      expect(
        row.indexOf(row.reduce((m, b) => Math.max(m, b), Number.NEGATIVE_INFINITY)),
        `position ${t}`,
      ).toBe(a);
    });
    expect(causalLmLoss(logits, V, ref.input_ids)).toBeCloseTo(ref.loss, 6);
    const masked = ref.input_ids.map((id, i) => (i < Math.floor(ref.input_ids.length / 2) ? -100 : id));
    expect(causalLmLoss(logits, V, masked)).toBeCloseTo(ref.loss_masked, 6);
  });
});
