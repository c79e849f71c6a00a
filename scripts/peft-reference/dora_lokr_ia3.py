"""PyTorch references for DoRA, LoKr and IA3 on one linear layer each, written to test/fixtures/peft/.

No peft/transformers here: each forward is PEFT's formula re-stated from its source (peft/tuners/lora/dora.py
DoraLinearLayer + variants.DoraLinearVariant, tuners/lokr/layer.py, tuners/ia3/layer.py), in float64 on
float32-representable inputs. For each case the JSON holds the base weight (stored layout: nn.Linear
[out, in], GPT-2 Conv1D [in, out]), bias, the adapter tensors by their PEFT keys, an input x, an upstream
gradient g, the output y, the gradients of sum(y * g) for x and every adapter tensor, and the merged base
weight/bias. Run: /usr/bin/python3 scripts/peft-reference/dora_lokr_ia3.py
"""
import json
import math
import os

import torch

torch.manual_seed(0)
OUT = os.path.join(os.path.dirname(__file__), "..", "..", "test", "fixtures", "peft")
DT = torch.float64


def f32(*shape, scale=1.0):
    # float32-representable values, so the float32 GPU sees exactly the reference's inputs
    return (torch.randn(*shape) * scale).float().to(DT)


def kaiming(*shape):
    # nn.init.kaiming_uniform_(a=sqrt(5)) on [rows, cols]: bound 1/sqrt(fan_in = cols)
    b = 1 / math.sqrt(shape[1])
    return (torch.rand(*shape) * 2 * b - b).float().to(DT)


def listed(t):
    return {"shape": list(t.shape), "data": t.detach().reshape(-1).tolist()}


def key(path, suffix):
    return f"base_model.model.{path}.{suffix}"


def base_layer(x, w, b, fan_in_fan_out):
    # nn.Linear: x W^T + b; transformers Conv1D: x W + b
    y = x @ w if fan_in_fan_out else x @ w.T
    return y + b if b is not None else y


def transpose(w, fan_in_fan_out):
    return w.T if fan_in_fan_out else w


def record(case, x, g, y, params):
    (y * g).sum().backward()
    case["x"] = listed(x)
    case["g"] = listed(g)
    case["y"] = listed(y)
    case["grads"] = {"x": x.grad.reshape(-1).tolist()}
    for name, p in params.items():
        case["grads"][name] = p.grad.reshape(-1).tolist()


SITES = {
    # family, module path, in, out, layout (fan_in_fan_out), has bias — as TINY_LLAMA (qwen2) / TINY_GPT2
    "llama_k": ("llama", "model.layers.0.self_attn.k_proj", 16, 8, False, True),
    "llama_down": ("llama", "model.layers.1.mlp.down_proj", 24, 16, False, False),
    "gpt2_attn": ("gpt2", "transformer.h.0.attn.c_attn", 16, 48, True, True),
    "gpt2_proj": ("gpt2", "transformer.h.1.mlp.c_proj", 64, 16, True, True),
}


def base(site_id, rows=5):
    family, path, nin, nout, fifo, has_bias = SITES[site_id]
    w = f32(*((nin, nout) if fifo else (nout, nin)), scale=0.3)
    b = f32(nout, scale=0.1) if has_bias else None
    x = f32(rows, nin).requires_grad_(True)
    g = f32(rows, nout)
    case = {"family": family, "path": path, "in": nin, "out": nout, "weight": listed(w)}
    if b is not None:
        case["bias"] = listed(b)
    return case, w, b, x, g, fifo


def dora_case(site_id, r, alpha, rows=5):
    case, w, b, x, g, fifo = base(site_id, rows)
    path, nin, nout = case["path"], case["in"], case["out"]
    s = alpha / r
    A = kaiming(r, nin).requires_grad_(True)
    B = f32(nout, r, scale=0.2).requires_grad_(True)  # non-zero, as after some training
    # DoraLinearLayer.update_layer: magnitude = ||transpose(W) + s * B@A|| per output row
    with torch.no_grad():
        m0 = torch.linalg.norm(transpose(w, fifo) + s * (B @ A), dim=1)
    m = (m0 * (1 + 0.1 * torch.randn(nout).to(DT))).float().to(DT).requires_grad_(True)
    # DoraLinearLayer.forward (no dropout: base_result = result - bias)
    result = base_layer(x, w, b, fifo)
    lora_weight = B @ A
    weight_norm = torch.linalg.norm(transpose(w, fifo) + s * lora_weight.detach(), dim=1).detach()
    mag_norm_scale = (m / weight_norm).view(1, -1)
    base_result = result - b if b is not None else result
    y = result + (mag_norm_scale - 1) * base_result + mag_norm_scale * ((x @ A.T) @ B.T) * s
    case["options"] = {"r": r, "lora_alpha": alpha, "target_modules": [path], "init_lora_weights": "false"}
    case["tensors"] = {
        key(path, "lora_A.weight"): listed(A),
        key(path, "lora_B.weight"): listed(B),
        key(path, "lora_magnitude_vector"): listed(m),
    }
    case["magnitude_init"] = m0.tolist()
    record(case, x, g, y, {
        key(path, "lora_A.weight"): A,
        key(path, "lora_B.weight"): B,
        key(path, "lora_magnitude_vector"): m,
    })
    # DoraLinearVariant.merge_safe: W' = (m / ||W + ΔW||) * (W + ΔW), factor transposed for fan_in_fan_out
    with torch.no_grad():
        delta = transpose(B @ A, fifo) * s
        norm = torch.linalg.norm(transpose(w + delta, fifo), dim=1)
        factor = transpose((m / norm).view(-1, 1), fifo)
        case["merged"] = {"weight": (factor * (w + delta)).reshape(-1).tolist()}
    return case


def factorization(dimension, factor=-1):
    # tuners/lokr/layer.py (from LyCORIS)
    if factor > 0 and (dimension % factor) == 0:
        return factor, dimension // factor
    if factor == -1:
        factor = dimension
    m, n = 1, dimension
    length = m + n
    while m < n:
        new_m = m + 1
        while dimension % new_m != 0:
            new_m += 1
        new_n = dimension // new_m
        if new_m + new_n > length or new_m > factor:
            break
        m, n = new_m, new_n
    if m > n:
        n, m = m, n
    return m, n


def lokr_case(site_id, r, alpha, decompose_both, rows=5):
    case, w, b, x, g, fifo = base(site_id, rows)
    path, nin, nout = case["path"], case["in"], case["out"]
    in_m, in_n = factorization(nin, -1)
    out_l, out_k = factorization(nout, -1)
    use_w1 = not (decompose_both and r < max(out_l, in_m) / 2)
    use_w2 = not (r < max(out_k, in_n) / 2)
    params = {}
    if use_w1:
        params["lokr_w1"] = kaiming(out_l, in_m)  # init_weights=False: random w1
    else:
        params["lokr_w1_a"] = kaiming(out_l, r)
        params["lokr_w1_b"] = kaiming(r, in_m)
    if use_w2:
        params["lokr_w2"] = kaiming(out_k, in_n)
    else:
        params["lokr_w2_a"] = kaiming(out_k, r)
        params["lokr_w2_b"] = kaiming(r, in_n)
    for p in params.values():
        p.requires_grad_(True)
    w1 = params["lokr_w1"] if use_w1 else params["lokr_w1_a"] @ params["lokr_w1_b"]
    w2 = params["lokr_w2"] if use_w2 else params["lokr_w2_a"] @ params["lokr_w2_b"]
    delta = torch.kron(w1, w2) * (alpha / r)  # [out, in]; applied as F.linear(x, ΔW) (also on GPT-2)
    y = base_layer(x, w, b, fifo) + x @ delta.T
    case["options"] = {
        "r": r,
        "alpha": alpha,
        "target_modules": [path],
        "decompose_both": decompose_both,
        "init_weights": "false",
    }
    case["shapes"] = {"a": out_l, "b": out_k, "c": in_m, "d": in_n, "use_w1": use_w1, "use_w2": use_w2}
    case["tensors"] = {key(path, k): listed(v) for k, v in params.items()}
    record(case, x, g, y, {key(path, k): v for k, v in params.items()})
    with torch.no_grad():
        case["merged"] = {"weight": (w + transpose(delta, fifo)).reshape(-1).tolist()}
    return case


def ia3_case(site_id, feedforward, rows=5):
    case, w, b, x, g, fifo = base(site_id, rows)
    path, nin, nout = case["path"], case["in"], case["out"]
    # IA3Layer.update_layer: [1, in] for feed-forward targets, [out, 1] otherwise
    l = (1 + 0.3 * torch.randn(*((1, nin) if feedforward else (nout, 1)))).float().to(DT).requires_grad_(True)
    scaling = l.flatten()
    if feedforward:
        y = base_layer(x * scaling, w, b, fifo)
    else:
        y = base_layer(x, w, b, fifo) * scaling
    case["options"] = {"target_modules": [path], "feedforward_modules": [path] if feedforward else []}
    case["feedforward"] = feedforward
    case["tensors"] = {key(path, "ia3_l"): listed(l)}
    record(case, x, g, y, {key(path, "ia3_l"): l})
    # Linear.merge: weight * transpose(l, fan_in_fan_out); bias * l on non-feed-forward targets
    with torch.no_grad():
        merged = {"weight": (w * transpose(l, fifo)).reshape(-1).tolist()}
        if b is not None:
            merged["bias"] = (b * l.reshape(b.shape)).tolist() if not feedforward else b.tolist()
        case["merged"] = merged
    return case


def write(name, cases):
    os.makedirs(OUT, exist_ok=True)
    with open(os.path.join(OUT, f"{name}.json"), "w") as f:
        json.dump({"source": "scripts/peft-reference/dora_lokr_ia3.py", "torch": torch.__version__, "cases": cases}, f)
        f.write("\n")


write("dora", [dora_case("llama_k", 4, 8), dora_case("gpt2_attn", 2, 3)])
write(
    "lokr",
    [
        lokr_case("llama_k", 1, 2, True),  # w1 and w2 both decomposed
        lokr_case("gpt2_proj", 8, 4, False),  # full w1 and w2, on a Conv1D layer
        lokr_case("llama_down", 2, 4, True),  # full w1, decomposed w2
    ],
)
write(
    "ia3",
    [
        ia3_case("llama_k", False),
        ia3_case("llama_down", True),
        ia3_case("gpt2_attn", False),
        ia3_case("gpt2_proj", True),
    ],
)
print("wrote", OUT)
