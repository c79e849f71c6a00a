#!/usr/bin/env python3
"""Tiny Hugging Face-layout models with random weights, and PyTorch references for them.

Owns test/fixtures/models/: three models small enough for SwiftShader, each shaped to hit a loading or
model path the engine must get right, and for each the logits, the loss and the gradient of the loss
with respect to every weight on one fixed batch, computed in float64 by a forward written here from
Hugging Face's modeling code (no transformers needed, torch 1.13 is enough):

  gpt2-tiny/   GPT-2: Conv1D (y = x W + b, W [in,out]), gelu_new, learned positions, tied head;
               F32, one file, keys *without* the `transformer.` prefix (as the original gpt2 upload)
               plus the old causal-mask buffers `h.N.attn.bias` that loaders must skip.
  llama-tiny/  Llama: RMSNorm, rotate_half RoPE (theta 500000), GQA (4 heads, 2 kv), SwiGLU, untied
               head; F32, sharded in two files with model.safetensors.index.json.
  qwen2-tiny/  Qwen2: Llama with q/k/v biases, tied head; F16 weights (the reference uses the F16 values).

Every model uses the tokenizer of test/fixtures/formats/tiny-bpe (267 ids).

Usage (scripts/make-fixtures.sh runs both steps with the CLI's `grads` in between, which fixes the batch):
  python3 scripts/make-fixtures.py models                  # writes the three model folders
  python3 scripts/make-fixtures.py reference NAME BATCH.safetensors
      # reads input_ids/labels int32 [B,T] (what `grads` fed that model) and writes into its folder
      # reference.safetensors (logits F32 [B,T,V], every gradient F32 as grad.<checkpoint key>,
      # input_ids, labels) and reference.json (loss, targets, B, T)

No attention mask: the batch pads on the right, so pads never reach an earlier position in causal
attention and the loss (pads are labelled -100) is the same as with Hugging Face's mask.
"""
import json
import math
import re
import os
import shutil
import struct
import sys

import numpy as np
import torch

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
OUT = os.path.join(ROOT, "test", "fixtures", "models")
TOK = os.path.join(ROOT, "test", "fixtures", "formats", "tiny-bpe")
VOCAB = 267

CONFIGS = {
    "gpt2-tiny": {
        "architectures": ["GPT2LMHeadModel"],
        "model_type": "gpt2",
        "vocab_size": VOCAB,
        "n_embd": 16,
        "n_layer": 2,
        "n_head": 2,
        "n_positions": 32,
        "n_inner": None,
        "activation_function": "gelu_new",
        "layer_norm_epsilon": 1e-5,
        "bos_token_id": 264,
        "eos_token_id": 266,
        "torch_dtype": "float32",
    },
    "llama-tiny": {
        "architectures": ["LlamaForCausalLM"],
        "model_type": "llama",
        "vocab_size": VOCAB,
        "hidden_size": 24,
        "intermediate_size": 40,
        "num_hidden_layers": 2,
        "num_attention_heads": 4,
        "num_key_value_heads": 2,
        "hidden_act": "silu",
        "rms_norm_eps": 1e-6,
        "rope_theta": 500000.0,
        "rope_scaling": None,
        "max_position_embeddings": 64,
        "tie_word_embeddings": False,
        "attention_bias": False,
        "mlp_bias": False,
        "bos_token_id": 264,
        "eos_token_id": 266,
        "torch_dtype": "float32",
    },
    "qwen2-tiny": {
        "architectures": ["Qwen2ForCausalLM"],
        "model_type": "qwen2",
        "vocab_size": VOCAB,
        "hidden_size": 16,
        "intermediate_size": 24,
        "num_hidden_layers": 2,
        "num_attention_heads": 4,
        "num_key_value_heads": 1,
        "hidden_act": "silu",
        "rms_norm_eps": 1e-6,
        "rope_theta": 10000.0,
        "rope_scaling": None,
        "max_position_embeddings": 64,
        "tie_word_embeddings": True,
        "use_sliding_window": False,
        "bos_token_id": 264,
        "eos_token_id": 266,
        "torch_dtype": "float16",
    },
}

DT = {torch.float32: "F32", torch.float16: "F16", torch.int32: "I32"}
NP = {"F32": np.float32, "F16": np.float16, "I32": np.int32}


def write_safetensors(path, tensors, metadata=None):
    """safetensors as the reference writes it: u64 header length, JSON header padded with spaces to a
    multiple of 8, tensors back to back (little-endian, row-major)."""
    header, blobs, off = {}, [], 0
    for name in sorted(tensors):
        t = tensors[name].detach().cpu().contiguous()
        b = t.numpy().astype(t.numpy().dtype.newbyteorder("<"), copy=False).tobytes()
        header[name] = {"dtype": DT[t.dtype], "shape": list(t.shape), "data_offsets": [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    if metadata:
        header["__metadata__"] = metadata
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)


def read_safetensors(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    out = {}
    for k, v in header.items():
        if k == "__metadata__":
            continue
        a, b = v["data_offsets"]
        out[k] = torch.from_numpy(np.frombuffer(data[a:b], dtype=NP[v["dtype"]]).reshape(v["shape"]).copy())
    return out


def read_model(d):
    idx = os.path.join(d, "model.safetensors.index.json")
    if os.path.exists(idx):
        w = {}
        for shard in sorted(set(json.load(open(idx))["weight_map"].values())):
            w.update(read_safetensors(os.path.join(d, shard)))
        return w
    return read_safetensors(os.path.join(d, "model.safetensors"))


# ---------------------------------------------------------------------------------------------
# Random weights, under the keys each checkpoint uses


def gpt2_shapes(c):
    d, V, P, I = c["n_embd"], c["vocab_size"], c["n_positions"], c["n_inner"] or 4 * c["n_embd"]
    s = {"wte.weight": [V, d], "wpe.weight": [P, d]}
    for i in range(c["n_layer"]):
        p = f"h.{i}."
        s.update({
            p + "ln_1.weight": [d], p + "ln_1.bias": [d],
            p + "attn.c_attn.weight": [d, 3 * d], p + "attn.c_attn.bias": [3 * d],
            p + "attn.c_proj.weight": [d, d], p + "attn.c_proj.bias": [d],
            p + "ln_2.weight": [d], p + "ln_2.bias": [d],
            p + "mlp.c_fc.weight": [d, I], p + "mlp.c_fc.bias": [I],
            p + "mlp.c_proj.weight": [I, d], p + "mlp.c_proj.bias": [d],
        })
    s.update({"ln_f.weight": [d], "ln_f.bias": [d]})
    return s


def llama_shapes(c):
    d, V, I = c["hidden_size"], c["vocab_size"], c["intermediate_size"]
    hd = d // c["num_attention_heads"]
    q, kv = c["num_attention_heads"] * hd, c["num_key_value_heads"] * hd
    bias = c["model_type"] == "qwen2"
    s = {"model.embed_tokens.weight": [V, d]}
    for i in range(c["num_hidden_layers"]):
        p = f"model.layers.{i}."
        s.update({
            p + "input_layernorm.weight": [d],
            p + "self_attn.q_proj.weight": [q, d], p + "self_attn.k_proj.weight": [kv, d],
            p + "self_attn.v_proj.weight": [kv, d], p + "self_attn.o_proj.weight": [d, q],
            p + "post_attention_layernorm.weight": [d],
            p + "mlp.gate_proj.weight": [I, d], p + "mlp.up_proj.weight": [I, d], p + "mlp.down_proj.weight": [d, I],
        })
        if bias:
            s.update({p + "self_attn.q_proj.bias": [q], p + "self_attn.k_proj.bias": [kv], p + "self_attn.v_proj.bias": [kv]})
    s["model.norm.weight"] = [d]
    if not c["tie_word_embeddings"]:
        s["lm_head.weight"] = [V, d]
    return s


def random_weights(shapes, seed):
    """Matrices N(0, 0.3²) (large enough that every path carries signal in float32), norm gains 1 + N(0, 0.1²),
    biases N(0, 0.1²): a fresh checkpoint's ones and zeros would hide a swapped gain or bias."""
    g = torch.Generator().manual_seed(seed)
    w = {}
    for k, shape in shapes.items():
        n = torch.randn(shape, generator=g, dtype=torch.float64)
        if k.endswith(".bias"):
            w[k] = 0.1 * n
        elif len(shape) == 1:
            w[k] = 1 + 0.1 * n
        else:
            w[k] = 0.3 * n
    return w


def make_models():
    if os.path.exists(OUT):
        for name in CONFIGS:
            shutil.rmtree(os.path.join(OUT, name), ignore_errors=True)
    for seed, (name, c) in enumerate(CONFIGS.items()):
        d = os.path.join(OUT, name)
        os.makedirs(d, exist_ok=True)
        with open(os.path.join(d, "config.json"), "w") as f:
            json.dump(c, f, indent=2)
            f.write("\n")
        for t in ("tokenizer.json", "tokenizer_config.json"):
            shutil.copy(os.path.join(TOK, t), os.path.join(d, t))
        shapes = gpt2_shapes(c) if c["model_type"] == "gpt2" else llama_shapes(c)
        w = {k: v.to(torch.float32) for k, v in random_weights(shapes, 1000 + seed).items()}
        if name == "gpt2-tiny":
            P = c["n_positions"]
            for i in range(c["n_layer"]):  # old GPT-2 exports carry the causal mask as a buffer
                w[f"h.{i}.attn.bias"] = torch.tril(torch.ones(P, P)).view(1, 1, P, P)
            write_safetensors(os.path.join(d, "model.safetensors"), w, {"format": "pt"})
        elif name == "qwen2-tiny":
            write_safetensors(os.path.join(d, "model.safetensors"), {k: v.half() for k, v in w.items()}, {"format": "pt"})
        else:
            keys = list(shapes)  # model order; layer 0 and the embeddings in shard 1, the rest in shard 2
            cut = keys.index("model.layers.1.input_layernorm.weight")
            shards = {"model-00001-of-00002.safetensors": keys[:cut], "model-00002-of-00002.safetensors": keys[cut:]}
            wm = {}
            for f, ks in shards.items():
                write_safetensors(os.path.join(d, f), {k: w[k] for k in ks}, {"format": "pt"})
                wm.update({k: f for k in ks})
            total = sum(v.numel() * 4 for v in w.values())
            with open(os.path.join(d, "model.safetensors.index.json"), "w") as f:
                json.dump({"metadata": {"total_size": total}, "weight_map": dict(sorted(wm.items()))}, f, indent=2)
                f.write("\n")
        print(f"{name}: {sum(w[k].numel() for k in shapes)} weights")


# ---------------------------------------------------------------------------------------------
# Hugging Face forwards, float64


def causal_mask(T):
    return torch.full((T, T), float("-inf"), dtype=torch.float64).triu(1)


def gpt2_forward(c, w, ids):
    """GPT2LMHeadModel: wte + wpe, pre-LN blocks with Conv1D, gelu_new, ln_f, head tied to wte."""
    B, T = ids.shape
    d, H = c["n_embd"], c["n_head"]
    hd = d // H
    eps = c["layer_norm_epsilon"]
    ln = lambda x, p: torch.nn.functional.layer_norm(x, (d,), w[p + ".weight"], w[p + ".bias"], eps)
    conv1d = lambda x, p: x @ w[p + ".weight"] + w[p + ".bias"]
    x = w["wte.weight"][ids] + w["wpe.weight"][torch.arange(T)][None]
    for i in range(c["n_layer"]):
        p = f"h.{i}."
        qkv = conv1d(ln(x, p + "ln_1"), p + "attn.c_attn")
        q, k, v = (t.view(B, T, H, hd).transpose(1, 2) for t in qkv.split(d, dim=2))
        s = q @ k.transpose(-1, -2) / math.sqrt(hd) + causal_mask(T)
        a = (torch.softmax(s, -1) @ v).transpose(1, 2).reshape(B, T, d)
        x = x + conv1d(a, p + "attn.c_proj")
        h = conv1d(ln(x, p + "ln_2"), p + "mlp.c_fc")
        h = 0.5 * h * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (h + 0.044715 * torch.pow(h, 3.0))))
        x = x + conv1d(h, p + "mlp.c_proj")
    return ln(x, "ln_f") @ w["wte.weight"].T


def rope_cos_sin(T, hd, theta):
    # As Hugging Face: inverse frequencies, angles and their cos/sin in float32, then cast to the model dtype.
    inv_freq = 1.0 / (theta ** (torch.arange(0, hd, 2, dtype=torch.int64).float() / hd))
    freqs = torch.outer(torch.arange(T, dtype=torch.float32), inv_freq)
    emb = torch.cat((freqs, freqs), dim=-1)
    return emb.cos().double(), emb.sin().double()


def rotate_half(x):
    h = x.shape[-1] // 2
    return torch.cat((-x[..., h:], x[..., :h]), dim=-1)


def llama_forward(c, w, ids):
    """LlamaForCausalLM / Qwen2ForCausalLM: RMSNorm, rotate_half RoPE, repeat_kv GQA, SwiGLU."""
    B, T = ids.shape
    d, H, Hkv = c["hidden_size"], c["num_attention_heads"], c["num_key_value_heads"]
    hd = d // H
    eps = c["rms_norm_eps"]
    rms = lambda x, k: w[k] * (x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps))
    lin = lambda x, p: x @ w[p + ".weight"].T + (w[p + ".bias"] if p + ".bias" in w else 0)
    cos, sin = rope_cos_sin(T, hd, c["rope_theta"])
    x = w["model.embed_tokens.weight"][ids]
    for i in range(c["num_hidden_layers"]):
        p = f"model.layers.{i}."
        h = rms(x, p + "input_layernorm.weight")
        q = lin(h, p + "self_attn.q_proj").view(B, T, H, hd).transpose(1, 2)
        k = lin(h, p + "self_attn.k_proj").view(B, T, Hkv, hd).transpose(1, 2)
        v = lin(h, p + "self_attn.v_proj").view(B, T, Hkv, hd).transpose(1, 2)
        q = q * cos + rotate_half(q) * sin
        k = k * cos + rotate_half(k) * sin
        rep = H // Hkv  # repeat_kv: query head h reads kv head h // rep
        k = k[:, :, None].expand(B, Hkv, rep, T, hd).reshape(B, H, T, hd)
        v = v[:, :, None].expand(B, Hkv, rep, T, hd).reshape(B, H, T, hd)
        s = q @ k.transpose(-1, -2) / math.sqrt(hd) + causal_mask(T)
        a = (torch.softmax(s, -1) @ v).transpose(1, 2).reshape(B, T, H * hd)
        x = x + lin(a, p + "self_attn.o_proj")
        h = rms(x, p + "post_attention_layernorm.weight")
        g = lin(h, p + "mlp.gate_proj")
        x = x + lin(torch.nn.functional.silu(g) * lin(h, p + "mlp.up_proj"), p + "mlp.down_proj")
    x = rms(x, "model.norm.weight")
    head = w["model.embed_tokens.weight"] if c["tie_word_embeddings"] else w["lm_head.weight"]
    return x @ head.T


def make_reference(name, batch_path):
    batch = read_safetensors(batch_path)
    ids = batch["input_ids"].long()
    labels = batch["labels"].long()
    B, T = ids.shape
    c = CONFIGS[name]
    d = os.path.join(OUT, name)
    # One model per call: each has its own batch (Llama's starts with BOS, the others' do not).
    raw = read_model(d)
    # Skip GPT-2's causal-mask buffers (h.N.attn.bias): not weights, as transformers ignores them.
    w = {k: v.double().requires_grad_(True) for k, v in raw.items() if not re.fullmatch(r"h\.\d+\.attn\.bias", k)}
    logits = (gpt2_forward if c["model_type"] == "gpt2" else llama_forward)(c, w, ids)
    V = logits.shape[-1]
    loss = torch.nn.functional.cross_entropy(
        logits[:, :-1].reshape(-1, V), labels[:, 1:].reshape(-1), ignore_index=-100
    )
    loss.backward()
    out = {"logits": logits.detach().float(), "input_ids": ids.int(), "labels": labels.int()}
    for k, t in w.items():
        out[f"grad.{k}"] = t.grad.float()
    write_safetensors(os.path.join(d, "reference.safetensors"), out)
    targets = int((labels[:, 1:] != -100).sum())
    with open(os.path.join(d, "reference.json"), "w") as f:
        json.dump({"loss": loss.item(), "targets": targets, "B": B, "T": T, "torch": torch.__version__}, f, indent=2)
        f.write("\n")
    print(f"{name}: loss {loss.item():.6f} over {targets} targets")


if __name__ == "__main__":
    torch.manual_seed(0)
    if len(sys.argv) >= 2 and sys.argv[1] == "models":
        make_models()
    elif len(sys.argv) == 4 and sys.argv[1] == "reference" and sys.argv[2] in CONFIGS:
        make_reference(sys.argv[2], sys.argv[3])
    else:
        sys.exit(__doc__)
