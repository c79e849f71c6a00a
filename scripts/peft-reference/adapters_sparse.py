"""PyTorch references for the bottleneck adapters (Houlsby, Pfeiffer, Compacter) and sparse fine-tuning,
written to test/fixtures/peft/{bottleneck,sparse}.json.

No adapters/peft package here: each forward is the adapters library's formula re-stated from its source
(adapters/methods/modeling.py: Adapter = adapter_up(f(adapter_down(h))) added to h, scaling 1, dropout 0;
PHMLayer: H = sum_i kron(phm_rule[i], W_left[i] @ W_right[i]), y = x @ H + b; Activation_Function_Class via
transformers' get_activation: "swish" = x*sigmoid(x), "relu", "gelu" = exact erf GELU), and sparse as
W + scatter(values) with indices flat row-major in [out, in]. Float64 on float32-representable inputs. Each
case holds the adapter tensors by their key suffix, the input h, an upstream gradient g, the output and the
gradients of sum(out * g) for h and every trained tensor.
Run: /usr/bin/python3 scripts/peft-reference/adapters_sparse.py
"""
import json
import os

import torch
import torch.nn.functional as F

torch.manual_seed(0)
OUT = os.path.join(os.path.dirname(__file__), "..", "..", "test", "fixtures", "peft")
DT = torch.float64


def f32(*shape, scale=1.0):
    return (torch.randn(*shape) * scale).float().to(DT).requires_grad_(True)


def listed(t):
    return {"shape": list(t.shape), "data": t.detach().reshape(-1).tolist()}


ACT = {"swish": lambda x: x * torch.sigmoid(x), "relu": F.relu, "gelu": F.gelu}


def bottleneck_case(name, act, d=16, m=4, rows=5):
    h = f32(rows, d)
    g = f32(rows, d).detach()
    t = {
        "adapter.down.weight": f32(m, d, scale=0.5),
        "adapter.down.bias": f32(m, scale=0.5),
        "adapter.up.weight": f32(d, m, scale=0.5),
        "adapter.up.bias": f32(d, scale=0.5),
    }
    down = F.linear(h, t["adapter.down.weight"], t["adapter.down.bias"])
    out = h + F.linear(ACT[act](down), t["adapter.up.weight"], t["adapter.up.bias"])
    (out * g).sum().backward()
    return {
        "method": name,
        "non_linearity": act,
        "d": d,
        "m": m,
        "h": listed(h),
        "g": listed(g),
        "tensors": {k: listed(v) for k, v in t.items()},
        "out": listed(out),
        "grads": {**{k: listed(v.grad) for k, v in t.items()}, "h": listed(h.grad)},
    }


def phm_weight(rule, left, right):
    # kronecker_product(rule, bmm(left, right)).sum(0): H[(a,p),(b,q)] = sum_i rule[i,a,b] * W_i[p,q]
    w = torch.bmm(left, right)
    n, P, Q = w.shape
    return torch.einsum("iab,ipq->apbq", rule, w).reshape(n * P, n * Q)


def compacter_case(d=16, m=4, n=4, r=1, rows=5):
    h = f32(rows, d)
    g = f32(rows, d).detach()
    t = {
        "phm_rule": f32(n, n, n, scale=0.5),
        "adapter.down.phm_left": f32(n, d // n, r, scale=0.5),
        "adapter.down.phm_right": f32(n, r, m // n, scale=0.5),
        "adapter.down.bias": f32(m, scale=0.5),
        "adapter.up.phm_left": f32(n, m // n, r, scale=0.5),
        "adapter.up.phm_right": f32(n, r, d // n, scale=0.5),
        "adapter.up.bias": f32(d, scale=0.5),
    }
    hd = phm_weight(t["phm_rule"], t["adapter.down.phm_left"], t["adapter.down.phm_right"])
    hu = phm_weight(t["phm_rule"], t["adapter.up.phm_left"], t["adapter.up.phm_right"])
    down = h @ hd + t["adapter.down.bias"]
    out = h + (F.gelu(down) @ hu + t["adapter.up.bias"])
    (out * g).sum().backward()
    return {
        "method": "compacter",
        "non_linearity": "gelu",
        "d": d,
        "m": m,
        "phm_dim": n,
        "phm_rank": r,
        "h": listed(h),
        "g": listed(g),
        "tensors": {k: listed(v) for k, v in t.items()},
        "out": listed(out),
        "grads": {**{k: listed(v.grad) for k, v in t.items()}, "h": listed(h.grad)},
        "H_down": listed(hd),
    }


def sparse_case(layout, out_f=6, in_f=8, k=10, rows=5):
    x = f32(rows, in_f)
    g = f32(rows, out_f).detach()
    w_canon = f32(out_f, in_f).detach()
    b = f32(out_f).detach()
    idx = torch.sort(torch.randperm(out_f * in_f)[:k]).values
    values = f32(k, scale=0.5)
    delta = torch.zeros(out_f * in_f, dtype=DT).index_add(0, idx, values).reshape(out_f, in_f)
    y = F.linear(x, w_canon + delta, b)
    (y * g).sum().backward()
    stored = w_canon if layout == "out_in" else w_canon.t().contiguous()
    merged = (w_canon + delta) if layout == "out_in" else (w_canon + delta).t()
    return {
        "layout": layout,
        "out": out_f,
        "in": in_f,
        "k": k,
        "weight": listed(stored),
        "bias": listed(b),
        "indices": idx.tolist(),
        "values": listed(values),
        "x": listed(x),
        "g": listed(g),
        "y": listed(y),
        "grads": {"values": listed(values.grad), "x": listed(x.grad)},
        "merged_weight": listed(merged),
    }


cases = [bottleneck_case("houlsby", "swish"), bottleneck_case("pfeiffer", "relu"), compacter_case()]
with open(os.path.join(OUT, "bottleneck.json"), "w") as f:
    json.dump({"torch": torch.__version__, "cases": cases}, f)
with open(os.path.join(OUT, "sparse.json"), "w") as f:
    json.dump({"torch": torch.__version__, "cases": [sparse_case("out_in"), sparse_case("in_out")]}, f)
print("wrote bottleneck.json, sparse.json")
