#!/usr/bin/env python3
"""PyTorch references for prompt tuning and prefix tuning, as Hugging Face PEFT computes them.

Owns test/fixtures/peft/prompt-prefix.json, read by src/peft/methods/prompt-prefix.reference.test.ts (no torch
needed there). Runs on torch 1.13 alone: neither transformers nor peft is imported. Instead the forward of
the two tiny fixture models (test/fixtures/models/gpt2-tiny, llama-tiny: GPT-2 and Llama with GQA) is
written here after Hugging Face's modeling code, in float64, with what PEFT's PeftModelForCausalLM feeds it:

  prompt  (PEFT's PromptEmbedding + PeftModelForCausalLM.forward for PROMPT_TUNING): inputs_embeds =
          cat(prompt_embeddings expanded over the batch, embed(input_ids)); labels prefixed with n × -100;
          positions 0..n+T−1 over the whole sequence (the model numbers inputs_embeds itself).
  prefix  (PEFT's PrefixEncoder + get_prompt for PREFIX_TUNING): past_key_values = the table
          [n, L·2·token_dim] viewed [B, n, L·2, n_kv, head_dim], permuted to [L·2, B, n_kv, n, head_dim] and
          split in pairs: layer i's past keys are slot 2i, its values slot 2i+1; keys enter the cache as they
          are (RoPE is applied only to the new tokens' keys); the attention mask is prefixed with n ones, so
          every query sees every prefix entry; new tokens take positions n..n+T−1 (past length + arange).
          token_dim is head_dim · num_key_value_heads (PEFT's GQA adjustment, _prepare_prompt_learning_config).
  prefix with prefix_projection: the table is transform(embedding(arange(n))) with transform =
          Linear(token_dim, encoder_hidden_size) → Tanh → Linear(encoder_hidden_size, L·2·token_dim).

For each case the JSON holds the method's tensors (set into our ParamSet by the test), the loss (HF's shift,
-100 ignored, mean), each item's last-position logits and the gradient of the loss for every method tensor.

Usage: python3 scripts/peft-reference/prompt_prefix.py
"""
import json
import math
import os
import struct

import numpy as np
import torch

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
MODELS = os.path.join(ROOT, "test", "fixtures", "models")
OUT = os.path.join(ROOT, "test", "fixtures", "peft", "prompt-prefix.json")
NP = {"F32": np.float32, "F16": np.float16, "I32": np.int32}


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


def read_model(name):
    d = os.path.join(MODELS, name)
    idx = os.path.join(d, "model.safetensors.index.json")
    w = {}
    if os.path.exists(idx):
        for shard in sorted(set(json.load(open(idx))["weight_map"].values())):
            w.update(read_safetensors(os.path.join(d, shard)))
    else:
        w = read_safetensors(os.path.join(d, "model.safetensors"))
    c = json.load(open(os.path.join(d, "config.json")))
    # GPT-2's old causal-mask buffers (h.N.attn.bias, 4-D) are not weights.
    return c, {k: v.double() for k, v in w.items() if v.dim() < 4}


def attend(q, k, v, n_past):
    """q [B,H,T,D], k/v [B,H,n_past+T,D]: query t sees every past entry and new keys 0..t."""
    T, S = q.shape[2], k.shape[2]
    mask = torch.zeros(T, S, dtype=torch.float64)
    mask[:, n_past:] = torch.full((T, T), float("-inf"), dtype=torch.float64).triu(1)
    s = q @ k.transpose(-1, -2) / math.sqrt(q.shape[-1]) + mask
    return torch.softmax(s, -1) @ v


def gpt2_forward(c, w, x_emb, positions, past):
    """GPT2LMHeadModel from inputs_embeds [B,T,d], position ids [T] and per-layer past (k, v) [B,H,n,D] or None."""
    B, T, d = x_emb.shape
    H = c["n_head"]
    hd = d // H
    eps = c["layer_norm_epsilon"]
    ln = lambda x, p: torch.nn.functional.layer_norm(x, (d,), w[p + ".weight"], w[p + ".bias"], eps)
    conv1d = lambda x, p: x @ w[p + ".weight"] + w[p + ".bias"]
    x = x_emb + w["wpe.weight"][positions][None]
    for i in range(c["n_layer"]):
        p = f"h.{i}."
        qkv = conv1d(ln(x, p + "ln_1"), p + "attn.c_attn")
        q, k, v = (t.view(B, T, H, hd).transpose(1, 2) for t in qkv.split(d, dim=2))
        n_past = 0
        if past is not None:
            pk, pv = past[i]
            k, v = torch.cat([pk, k], 2), torch.cat([pv, v], 2)
            n_past = pk.shape[2]
        a = attend(q, k, v, n_past).transpose(1, 2).reshape(B, T, d)
        x = x + conv1d(a, p + "attn.c_proj")
        h = conv1d(ln(x, p + "ln_2"), p + "mlp.c_fc")
        h = 0.5 * h * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (h + 0.044715 * torch.pow(h, 3.0))))
        x = x + conv1d(h, p + "mlp.c_proj")
    return ln(x, "ln_f") @ w["wte.weight"].T


def rope_cos_sin(positions, hd, theta):
    # As Hugging Face: inverse frequencies and angles in float32, cos/sin cast to the model's dtype.
    inv_freq = 1.0 / (theta ** (torch.arange(0, hd, 2, dtype=torch.int64).float() / hd))
    freqs = torch.outer(positions.float(), inv_freq)
    emb = torch.cat((freqs, freqs), dim=-1)
    return emb.cos().double(), emb.sin().double()


def rotate_half(x):
    h = x.shape[-1] // 2
    return torch.cat((-x[..., h:], x[..., :h]), dim=-1)


def llama_forward(c, w, x_emb, positions, past):
    """LlamaForCausalLM from inputs_embeds; past keys enter the cache unrotated, new keys are rotated."""
    B, T, d = x_emb.shape
    H, Hkv = c["num_attention_heads"], c["num_key_value_heads"]
    hd = d // H
    eps = c["rms_norm_eps"]
    rms = lambda x, k: w[k] * (x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps))
    lin = lambda x, p: x @ w[p + ".weight"].T + (w[p + ".bias"] if p + ".bias" in w else 0)
    cos, sin = rope_cos_sin(positions, hd, c["rope_theta"])
    x = x_emb
    rep = H // Hkv
    for i in range(c["num_hidden_layers"]):
        p = f"model.layers.{i}."
        h = rms(x, p + "input_layernorm.weight")
        q = lin(h, p + "self_attn.q_proj").view(B, T, H, hd).transpose(1, 2)
        k = lin(h, p + "self_attn.k_proj").view(B, T, Hkv, hd).transpose(1, 2)
        v = lin(h, p + "self_attn.v_proj").view(B, T, Hkv, hd).transpose(1, 2)
        q = q * cos + rotate_half(q) * sin
        k = k * cos + rotate_half(k) * sin
        n_past = 0
        if past is not None:
            pk, pv = past[i]
            k, v = torch.cat([pk, k], 2), torch.cat([pv, v], 2)
            n_past = pk.shape[2]
        S = k.shape[2]
        k = k[:, :, None].expand(B, Hkv, rep, S, hd).reshape(B, H, S, hd)  # repeat_kv
        v = v[:, :, None].expand(B, Hkv, rep, S, hd).reshape(B, H, S, hd)
        a = attend(q, k, v, n_past).transpose(1, 2).reshape(B, T, H * hd)
        x = x + lin(a, p + "self_attn.o_proj")
        h = rms(x, p + "post_attention_layernorm.weight")
        x = x + lin(torch.nn.functional.silu(lin(h, p + "mlp.gate_proj")) * lin(h, p + "mlp.up_proj"), p + "mlp.down_proj")
    x = rms(x, "model.norm.weight")
    head = w["model.embed_tokens.weight"] if c.get("tie_word_embeddings") else w["lm_head.weight"]
    return x @ head.T


def dims(c):
    if c["model_type"] == "gpt2":
        return c["n_layer"], c["n_head"], c["n_head"], c["n_embd"] // c["n_head"]
    H = c["num_attention_heads"]
    return c["num_hidden_layers"], H, c["num_key_value_heads"], c["hidden_size"] // H


def past_from_table(table, c, B):
    """PEFT's get_prompt: view [B, n, L·2, n_kv, hd], permute [2, 0, 3, 1, 4], split into (k, v) per layer."""
    L, _, Hkv, hd = dims(c)
    n = table.shape[0]
    pkv = table[None].expand(B, -1, -1).reshape(B, n, L * 2, Hkv, hd).permute(2, 0, 3, 1, 4)
    return [(pkv[2 * i], pkv[2 * i + 1]) for i in range(L)]


def flat(t):
    return [float("%.9g" % v) for v in t.detach().reshape(-1).tolist()]


def run_case(name, model, method, n, options, g):
    c, w = read_model(model)
    gpt2 = c["model_type"] == "gpt2"
    fwd = gpt2_forward if gpt2 else llama_forward
    embed = w["wte.weight"] if gpt2 else w["model.embed_tokens.weight"]
    V, d = embed.shape
    L, _, Hkv, hd = dims(c)
    td = Hkv * hd
    B, T = 2, 6
    ids = torch.tensor([[5, 17, 42, 99, 3, 250], [7, 7, 130, 64, 201, 11]], dtype=torch.long)
    labels = ids.clone()
    labels[1, 2] = -100
    tensors = {}

    def param(key, shape, kind):
        if kind == "normal":
            t = torch.randn(shape, generator=g, dtype=torch.float64) * 0.5
        else:  # nn.Linear's U(±1/√fan_in)
            b = 1 / math.sqrt(kind)
            t = (torch.rand(shape, generator=g, dtype=torch.float64) * 2 - 1) * b
        tensors[key] = t.requires_grad_(True)
        return tensors[key]

    if method == "prompt":
        P = param("prompt_embeddings", (n, d), "normal")
        x = torch.cat([P[None].expand(B, -1, -1), embed[ids]], 1)
        positions = torch.arange(n + T)
        logits = fwd(c, w, x, positions, None)
        labels_full = torch.cat([torch.full((B, n), -100, dtype=torch.long), labels], 1)
    else:
        if options.get("prefix_projection"):
            e = options["encoder_hidden_size"]
            emb = param("prompt_encoder.embedding.weight", (n, td), "normal")
            w0 = param("prompt_encoder.transform.0.weight", (e, td), td)
            b0 = param("prompt_encoder.transform.0.bias", (e,), td)
            w2 = param("prompt_encoder.transform.2.weight", (L * 2 * td, e), e)
            b2 = param("prompt_encoder.transform.2.bias", (L * 2 * td,), e)
            table = torch.tanh(emb @ w0.T + b0) @ w2.T + b2
        else:
            table = param("prompt_embeddings", (n, L * 2 * td), "normal")
        past = past_from_table(table, c, B)
        positions = torch.arange(n, n + T)
        logits = fwd(c, w, embed[ids], positions, past)
        labels_full = labels
    Vv = logits.shape[-1]
    loss = torch.nn.functional.cross_entropy(
        logits[:, :-1].reshape(-1, Vv), labels_full[:, 1:].reshape(-1), ignore_index=-100
    )
    loss.backward()
    case = {
        "name": name,
        "model": model,
        "method": method,
        "options": {"num_virtual_tokens": n, **options},
        "B": B,
        "T": T,
        "input_ids": ids.reshape(-1).tolist(),
        "labels": labels.reshape(-1).tolist(),
        "tensors": {k: {"shape": list(t.shape), "data": flat(t)} for k, t in tensors.items()},
        "loss": loss.item(),
        "last_logits": flat(logits[:, -1]),
        "grads": {k: flat(t.grad) for k, t in tensors.items()},
    }
    if method == "prefix" and options.get("prefix_projection"):
        case["table"] = flat(table)  # what a save writes as prompt_embeddings
    print(f"{name}: loss {loss.item():.6f}")
    return case


def main():
    torch.manual_seed(0)
    g = torch.Generator().manual_seed(1234)
    cases = [
        run_case("prompt gpt2", "gpt2-tiny", "prompt", 3, {}, g),
        run_case("prompt llama", "llama-tiny", "prompt", 3, {}, g),
        run_case("prefix gpt2", "gpt2-tiny", "prefix", 3, {}, g),
        run_case("prefix llama", "llama-tiny", "prefix", 3, {}, g),
        run_case("prefix+mlp gpt2", "gpt2-tiny", "prefix", 3, {"prefix_projection": True, "encoder_hidden_size": 10}, g),
        run_case("prefix+mlp llama", "llama-tiny", "prefix", 3, {"prefix_projection": True, "encoder_hidden_size": 10}, g),
    ]
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    with open(OUT, "w") as f:
        json.dump({"torch": torch.__version__, "cases": cases}, f, separators=(",", ":"))
        f.write("\n")
    print(f"wrote {os.path.relpath(OUT, ROOT)} ({os.path.getsize(OUT)} bytes)")


if __name__ == "__main__":
    main()
