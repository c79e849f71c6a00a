#!/usr/bin/env python3
"""Pretrain the built-in Llama-style model on the Brown corpus, on the CPU.

  python3 train.py --bench 10                   # time 10 steps, print tokens/s
  python3 train.py --steps 2400 --out work/run  # train; checkpoints + log under --out

Random windows of seq_len+1 tokens from the training stream (documents joined by <|endoftext|>),
AdamW (betas 0.9/0.95, weight decay 0.1 on matrices only), linear warmup then cosine decay to 10%,
global-norm clipping at 1.0, one CPU thread (torch.set_num_threads(1)). The validation loss is the
mean next-token cross-entropy over the held-out documents (2%), cut into windows of seq_len.
"""
import argparse
import json
import math
import os
import sys
import time

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from bpe import Tokenizer  # noqa: E402
from model import LlamaForCausalLM  # noqa: E402

MODEL_NAME = "tiny-llama-brown"
MODEL_DIR = os.path.join(HERE, "..", "..", "public", "models", MODEL_NAME)

CONFIG = {
    "architectures": ["LlamaForCausalLM"],
    "model_type": "llama",
    "hidden_size": 256,
    "intermediate_size": 688,
    "num_hidden_layers": 4,
    "num_attention_heads": 4,
    "num_key_value_heads": 2,
    "head_dim": 64,
    "hidden_act": "silu",
    "rms_norm_eps": 1e-5,
    "rope_theta": 10000.0,
    "rope_scaling": None,
    "max_position_embeddings": 128,
    "vocab_size": 4096,
    "tie_word_embeddings": True,
    "attention_bias": False,
    "mlp_bias": False,
    "attention_dropout": 0.0,
    "initializer_range": 0.02,
    "bos_token_id": 4095,
    "eos_token_id": 4095,
    "pad_token_id": 4095,
    "torch_dtype": "float32",
}


def tokens(split, work):
    cache = os.path.join(work, f"{split}.ids.npy")
    if os.path.exists(cache):
        return np.load(cache)
    tok = Tokenizer.load(os.path.join(MODEL_DIR, "tokenizer.json"))
    with open(os.path.join(work, f"{split}.txt"), encoding="utf-8") as f:
        ids = np.array(tok.encode(f.read()), dtype=np.int16)
    np.save(cache, ids)
    return ids


def val_windows(ids, T):
    """Non-overlapping windows; the last one shorter. Every token after the first is a target once."""
    out = []
    i = 0
    while i < len(ids) - 1:
        out.append(torch.from_numpy(ids[i : i + T + 1].astype(np.int64)))
        i += T
    return out


@torch.no_grad()
def evaluate(model, windows, bs=16):
    model.eval()
    tot, n = 0.0, 0
    full = [w for w in windows if len(w) == len(windows[0])]
    rest = [w for w in windows if len(w) != len(windows[0])]
    batches = [torch.stack(full[i : i + bs]) for i in range(0, len(full), bs)] + [w[None] for w in rest]
    for b in batches:
        _, loss = model(b, b)
        k = b.shape[0] * (b.shape[1] - 1)
        tot += loss.item() * k
        n += k
    model.train()
    return tot / n


def unigram_baseline(train_ids, val_ids, V):
    counts = np.bincount(train_ids.astype(np.int64), minlength=V).astype(np.float64) + 1.0  # add-one
    p = counts / counts.sum()
    v = val_ids[1:].astype(np.int64)  # the same targets the model is scored on
    return float(-np.log(p[v]).mean())


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--work", default=os.path.join(HERE, "work"))
    ap.add_argument("--out", default=os.path.join(HERE, "work", "run"))
    ap.add_argument("--bench", type=int, default=0)
    ap.add_argument("--steps", type=int, default=100000)
    ap.add_argument("--budget-min", type=float, default=0.0, help="wall-clock budget: the cosine follows elapsed/budget and training stops at the budget (the machine is shared, so its speed varies)")
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--seq", type=int, default=128)
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--warmup", type=int, default=60)
    ap.add_argument("--eval-every", type=int, default=200)
    ap.add_argument("--seed", type=int, default=1234)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--layers", type=int, default=None)
    ap.add_argument("--hidden", type=int, default=None)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)

    c = dict(CONFIG)
    if args.layers:
        c["num_hidden_layers"] = args.layers
    if args.hidden:
        c["hidden_size"] = args.hidden
        c["intermediate_size"] = int(round(args.hidden * 8 / 3 / 16)) * 16
        c["head_dim"] = args.hidden // c["num_attention_heads"]
    c["max_position_embeddings"] = args.seq

    train_ids = tokens("train", args.work)
    val_ids = tokens("val", args.work)
    V = c["vocab_size"]
    assert int(train_ids.max()) < V
    print(f"tokens: train {len(train_ids)}, val {len(val_ids)}", flush=True)

    model = LlamaForCausalLM(c)
    model.init_weights(args.seed)
    nparams = sum(p.numel() for p in model.parameters())
    print(f"params: {nparams} ({json.dumps({k: c[k] for k in ('hidden_size', 'intermediate_size', 'num_hidden_layers', 'num_attention_heads', 'num_key_value_heads', 'vocab_size')})})", flush=True)

    decay = [p for n, p in model.named_parameters() if p.dim() >= 2]
    no_decay = [p for n, p in model.named_parameters() if p.dim() < 2]
    opt = torch.optim.AdamW(
        [{"params": decay, "weight_decay": 0.1}, {"params": no_decay, "weight_decay": 0.0}],
        lr=args.lr, betas=(0.9, 0.95), eps=1e-8,
    )
    steps = args.bench or args.steps
    T, B = args.seq, args.batch

    def progress(s):
        q = s / steps
        if args.budget_min > 0:
            q = max(q, (time.time() - t0) / (60 * args.budget_min))
        return q

    def lr_at(s):
        if s < args.warmup:
            return args.lr * (s + 1) / args.warmup
        q = progress(s)
        return args.lr * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * min(1.0, q))))

    rng = np.random.default_rng(args.seed)
    vw = val_windows(val_ids, T)
    os.makedirs(args.out, exist_ok=True)
    log = open(os.path.join(args.out, "log.jsonl"), "a") if not args.bench else None
    if not args.bench:
        base = unigram_baseline(train_ids, val_ids, V)
        v0 = evaluate(model, vw)
        rec = {"step": 0, "val_loss": v0, "unigram_val_loss": base, "params": nparams, "config": c, "args": vars(args)}
        print(json.dumps(rec), flush=True)
        log.write(json.dumps(rec) + "\n")
        log.flush()

    t0 = time.time()
    seen = 0
    done_steps = 0
    for s in range(steps):
        if not args.bench and progress(s) >= 1.0:
            break
        starts = rng.integers(0, len(train_ids) - T - 1, size=B)
        batch = torch.from_numpy(np.stack([train_ids[i : i + T + 1] for i in starts]).astype(np.int64))
        x = batch[:, :T]
        y = batch[:, 1 : T + 1]
        for g in opt.param_groups:
            g["lr"] = lr_at(s)
        logits = model(x)
        loss = torch.nn.functional.cross_entropy(logits.reshape(-1, V), y.reshape(-1))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        gn = torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        seen += B * T
        done_steps = s + 1
        el = time.time() - t0
        if args.bench:
            print(f"step {s} loss {loss.item():.4f} {seen / el:.0f} tok/s", flush=True)
            continue
        if (s + 1) % 20 == 0:
            rec = {"step": s + 1, "loss": loss.item(), "grad_norm": float(gn), "lr": lr_at(s), "tokens": seen, "elapsed_s": el, "tok_s": seen / el}
            log.write(json.dumps(rec) + "\n")
            log.flush()
        last = s + 1 == steps or (args.budget_min > 0 and progress(s + 1) >= 1.0)
        if (s + 1) % args.eval_every == 0 or last:
            vl = evaluate(model, vw)
            rec = {"step": s + 1, "loss": loss.item(), "val_loss": vl, "tokens": seen, "elapsed_s": time.time() - t0, "tok_s": seen / el}
            print(json.dumps(rec), flush=True)
            log.write(json.dumps(rec) + "\n")
            log.flush()
            torch.save({"model": model.state_dict(), "config": c, "step": s + 1, "tokens": seen, "val_loss": vl}, os.path.join(args.out, "ckpt.pt"))
    if not args.bench:
        rec = {"done": True, "steps": done_steps, "tokens": seen, "elapsed_s": time.time() - t0}
        print(json.dumps(rec), flush=True)
        log.write(json.dumps(rec) + "\n")


if __name__ == "__main__":
    main()
