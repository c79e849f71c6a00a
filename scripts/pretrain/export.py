#!/usr/bin/env python3
"""Export the trained checkpoint in Hugging Face layout and record PyTorch references.

Writes
  public/models/tiny-llama-brown/config.json
  public/models/tiny-llama-brown/model.safetensors     (F32, tied head omitted as HF saves it)
  test/fixtures/builtin-model-reference.json           (logits and loss on a fixed sequence)
  scripts/pretrain/results.json                        (figures for the README)
  scripts/pretrain/samples.txt                         (greedy and sampled generations)

Usage: python3 scripts/pretrain/export.py [--run scripts/pretrain/work/run]
"""
import argparse
import json
import os
import struct
import sys

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from bpe import EOT, Tokenizer  # noqa: E402
from model import LlamaForCausalLM  # noqa: E402
from train import MODEL_DIR  # noqa: E402

ROOT = os.path.join(HERE, "..", "..")
REFERENCE_TEXT = "The jury said it did find that many of Georgia's registration and election laws are outmoded."
DTYPES = {torch.float32: "F32", torch.float16: "F16"}


def write_safetensors(path, tensors, metadata=None):
    """8-byte little-endian header length, JSON header (padded with spaces to a multiple of 8),
    then the tensors' bytes back to back, row-major little-endian, in header order."""
    header = {}
    blobs = []
    off = 0
    for name in sorted(tensors):
        t = tensors[name].detach().cpu().contiguous()
        b = t.numpy().astype(t.numpy().dtype.newbyteorder("<"), copy=False).tobytes()
        header[name] = {"dtype": DTYPES[t.dtype], "shape": list(t.shape), "data_offsets": [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    if metadata:
        header["__metadata__"] = metadata
    h = json.dumps(header, separators=(",", ":")).encode("utf-8")
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
        dt = {"F32": np.float32, "F16": np.float16}[v["dtype"]]
        out[k] = torch.from_numpy(np.frombuffer(data[a:b], dtype=dt).reshape(v["shape"]).copy())
    return out


@torch.no_grad()
def generate(model, tok, prompt, n, temperature=0.0, top_k=0, seed=0):
    g = torch.Generator().manual_seed(seed)
    ids = [tok.vocab[EOT]] + tok.encode(prompt)
    T = model.c["max_position_embeddings"]
    for _ in range(n):
        logits = model(torch.tensor([ids[-T:]]))[0, -1].double()
        if temperature <= 0:
            nxt = int(logits.argmax())
        else:
            logits = logits / temperature
            if top_k:
                kth = torch.topk(logits, top_k).values[-1]
                logits[logits < kth] = -float("inf")
            nxt = int(torch.multinomial(torch.softmax(logits, -1), 1, generator=g))
        if nxt == tok.vocab[EOT]:
            break
        ids.append(nxt)
    return tok.decode(ids[1:])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--run", default=os.path.join(HERE, "work", "run"))
    args = ap.parse_args()
    torch.set_num_threads(1)
    ck = torch.load(os.path.join(args.run, "ckpt.pt"))
    c = ck["config"]
    model = LlamaForCausalLM(c)
    model.load_state_dict(ck["model"])
    model.eval()

    cfg = {k: v for k, v in c.items() if k != "initializer_range"}
    cfg["initializer_range"] = c["initializer_range"]
    with open(os.path.join(MODEL_DIR, "config.json"), "w") as f:
        json.dump(cfg, f, indent=2)
        f.write("\n")
    st_path = os.path.join(MODEL_DIR, "model.safetensors")
    write_safetensors(st_path, model.export_state(), {"format": "pt"})

    # reload what was written, into a fresh model, so the references come from the file
    loaded = read_safetensors(st_path)
    m2 = LlamaForCausalLM(c)
    missing, unexpected = m2.load_state_dict(loaded, strict=False)
    assert unexpected == [] and set(missing) <= {"lm_head.weight"}, (missing, unexpected)
    m2.eval()

    tok = Tokenizer.load(os.path.join(MODEL_DIR, "tokenizer.json"))
    ids = [tok.vocab[EOT]] + tok.encode(REFERENCE_TEXT)
    x = torch.tensor([ids])
    with torch.no_grad():
        logits32, loss32 = m2(x, x)
        m64 = LlamaForCausalLM(c).double()
        m64.load_state_dict({k: v.double() for k, v in loaded.items()}, strict=False)
        m64.eval()
        logits64, loss64 = m64(x, x)
        # a label of -100 is ignored: mask the first half of the targets
        lab = x.clone()
        lab[0, : len(ids) // 2] = -100
        _, loss_masked64 = m64(x, lab)
    l64 = logits64[0]
    rows = [0, 1, 2, len(ids) - 1]
    ref = {
        "model": "public/models/tiny-llama-brown",
        "text": REFERENCE_TEXT,
        "input_ids": ids,
        "note": "computed by scripts/pretrain/export.py with the PyTorch model in float64 from model.safetensors; "
        "loss is the HF causal-LM loss (shifted, mean over targets); loss_masked uses labels = input_ids with the "
        "first half set to -100; float32 values are the same model in float32",
        "logits_rows": rows,
        "logits": [[round(float(v), 7) for v in l64[r]] for r in rows],
        "argmax": [int(v) for v in l64.argmax(-1)],
        "logsumexp": [float(v) for v in torch.logsumexp(l64, -1)],
        "loss": float(loss64),
        "loss_masked": float(loss_masked64),
        "loss_float32": float(loss32),
        "max_abs_diff_float32_vs_float64": float((logits32[0].double() - l64).abs().max()),
    }
    with open(os.path.join(ROOT, "test", "fixtures", "builtin-model-reference.json"), "w") as f:
        json.dump(ref, f)
        f.write("\n")

    log = [json.loads(line) for line in open(os.path.join(args.run, "log.jsonl"))]
    first = log[0]
    evals = [r for r in log if "val_loss" in r and r["step"] > 0]
    done = [r for r in log if r.get("done")]
    nparams = sum(p.numel() for p in model.parameters())
    res = {
        "params": nparams,
        "params_non_embedding": nparams - c["vocab_size"] * c["hidden_size"],
        "steps": ck["step"],
        "tokens_seen": ck["tokens"],
        "val_loss": ck["val_loss"],
        "val_ppl": float(np.exp(ck["val_loss"])),
        "unigram_val_loss": first["unigram_val_loss"],
        "initial_val_loss": first["val_loss"],
        "train_s": done[-1]["elapsed_s"] if done else evals[-1]["elapsed_s"],
        "tok_s": evals[-1]["tok_s"],
        "val_curve": [[r["step"], round(r["val_loss"], 4)] for r in evals],
        "args": first["args"],
        "safetensors_bytes": os.path.getsize(st_path),
    }
    with open(os.path.join(HERE, "results.json"), "w") as f:
        json.dump(res, f, indent=1)
        f.write("\n")
    print(json.dumps({k: v for k, v in res.items() if k not in ("val_curve", "args")}, indent=1))

    prompts = ["The jury said", "In the morning", "The government of the United States", "She looked at him and", "It is"]
    lines = []
    for p in prompts:
        lines.append(f"[greedy] {generate(m2, tok, p, 40)}")
        for s in range(2):
            lines.append(f"[t=0.8 top-k 40 seed {s}] {generate(m2, tok, p, 40, 0.8, 40, s)}")
    with open(os.path.join(HERE, "samples.txt"), "w") as f:
        f.write("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
