#!/usr/bin/env python3
# PyTorch on the same GPU and the same shapes as the bundle's bench (bench.mjs's last JSON line): f32
# matmul at its sizes (TF32 off, as ours is f32; the TF32 figure is printed too, for reference), a LoRA
# training step on the same models (the built-in model's own weights, GPT-2 from the same config.json with
# Hugging Face's random init) with PEFT's defaults as ours (r 8, alpha 8, dropout 0, its per-architecture
# targets), AdamW, clipping at 1, constant lr, the same token ids; and greedy decode ms/token with the KV
# cache. Prints one JSON line with torch's figures, then a last line of ratios ours/torch (speed: above 1
# means ours is faster) and the first-step loss difference on the built-in model (same weights, same
# batch: a check that both compute the same thing). Each part runs on its own: one failing (no
# transformers, out of memory) is reported in its entry and the others still run.
#
#   python3 torch_ref.py results/bench.jsonl
import json
import math
import os
import sys
import time
import traceback


def bench_line(path):
    last = None
    with open(path) as f:
        for line in f:
            line = line.strip()
            if line.startswith("{"):
                obj = json.loads(line)
                if obj.get("bench") == "gpu-bundle":
                    last = obj
    if last is None:
        raise SystemExit(f"{path}: no bench line (\"bench\": \"gpu-bundle\")")
    if last.get("version") != 1:
        raise SystemExit(f"{path}: bench version {last.get('version')}, this script reads version 1")
    return last


def best_seconds_per_call(run, sync):
    """As bench/timing.ts's bestSecondsPerCall: one warm call, ~0.5 s of repetitions, best of three."""
    run()
    sync()
    t0 = time.perf_counter()
    run()
    sync()
    once = time.perf_counter() - t0
    reps = max(1, min(50, round(0.5 / max(once, 1e-4))))
    best = math.inf
    for _ in range(3):
        t0 = time.perf_counter()
        for _ in range(reps):
            run()
        sync()
        best = min(best, (time.perf_counter() - t0) / reps)
    return best


def main():
    # The GPU machine has no network: transformers must not try the Hub for anything.
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    import torch

    ours = bench_line(sys.argv[1])
    cuda = torch.cuda.is_available()
    dev = torch.device("cuda" if cuda else "cpu")
    sync = torch.cuda.synchronize if cuda else (lambda: None)
    info = {
        "bench": "torch_ref",
        "device": str(dev),
        "gpu": torch.cuda.get_device_name(0) if cuda else None,
        "torch": torch.__version__,
        "matmul": [],
        "train": [],
        "decode": [],
    }

    for m in ours["matmul"]:
        n = m["size"]
        entry = {"size": n}
        try:
            i = torch.arange(n * n, dtype=torch.float64)
            a = torch.sin(i * 0.37 + 0.1).float().reshape(n, n).to(dev)
            b = torch.cos(i * 0.53 + 0.2).float().reshape(n, n).to(dev)
            out = torch.empty(n, n, device=dev)
            for tf32 in (False, True):
                if cuda:
                    torch.backends.cuda.matmul.allow_tf32 = tf32
                secs = best_seconds_per_call(lambda: torch.matmul(a, b, out=out), sync)
                entry["tf32_gflops" if tf32 else "gflops"] = round(2 * n**3 / secs / 1e9, 3)
                if not cuda:
                    break
            if cuda:
                torch.backends.cuda.matmul.allow_tf32 = False
            del a, b, out
        except Exception as e:  # noqa: BLE001 - reported, the other parts go on
            entry["error"] = f"{type(e).__name__}: {e}"
        info["matmul"].append(entry)

    try:
        import peft
        import transformers

        info["transformers"] = transformers.__version__
        info["peft"] = peft.__version__
        have_hf = True
    except Exception as e:  # noqa: BLE001
        have_hf = False
        info["hf_error"] = f"transformers/peft not importable: {e}"

    decodes = {d["model"]: d for d in ours["decode"]}
    for t in ours["train"] if have_hf else []:
        tr = {"model": t["model"], "batch": t["batch"], "seq": t["seq"], "steps": t["steps"]}
        dec = decodes.get(t["model"])
        model = None
        try:
            model = load_model(t, dev)
            if dec is not None:
                info["decode"].append(time_decode(model, dec, dev, sync))
            tr.update(time_train(model, t, dev, sync))
        except Exception as e:  # noqa: BLE001
            tr["error"] = f"{type(e).__name__}: {e}"
            traceback.print_exc(file=sys.stderr)
        info["train"].append(tr)
        del model
        if cuda:
            torch.cuda.empty_cache()

    print(json.dumps(info), flush=True)
    print(json.dumps(ratios(ours, info)), flush=True)


def load_model(t, dev):
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM

    if t.get("model_dir"):
        model = AutoModelForCausalLM.from_pretrained(t["model_dir"], torch_dtype=torch.float32)
    else:
        cfg = dict(t["hf_config"])
        cfg = AutoConfig.for_model(cfg.pop("model_type"), **cfg)
        torch.manual_seed(0)
        model = AutoModelForCausalLM.from_config(cfg, torch_dtype=torch.float32)
    # Dropout off, as ours trains: eval() only switches dropout; gradients flow as in train().
    return model.to(dev).eval()


def bench_ids(vocab, B, T, dev):
    """The bench's token ids (measure.ts benchIds): ((b·T + t)·13 + 5) mod vocab, every token a target."""
    import torch

    rows = [[((b * T + t) * 13 + 5) % vocab for t in range(T)] for b in range(B)]
    return torch.tensor(rows, dtype=torch.long, device=dev)


def time_decode(model, d, dev, sync):
    import torch

    ids = bench_ids(model.config.vocab_size, 1, d["prompt_tokens"], dev)
    n = d["new_tokens"]

    def gen(k):
        with torch.no_grad():
            model.generate(
                ids,
                attention_mask=torch.ones_like(ids),
                max_new_tokens=k,
                min_new_tokens=k,
                do_sample=False,
                pad_token_id=0,
            )
        sync()

    gen(2)
    t0 = time.perf_counter()
    gen(1)
    one = time.perf_counter() - t0
    t0 = time.perf_counter()
    gen(n)
    alln = time.perf_counter() - t0
    return {"model": d["model"], "new_tokens": n, "ms_per_token": round((alln - one) * 1000 / max(1, n - 1), 3)}


def time_train(model, t, dev, sync):
    import torch
    from peft import LoraConfig, get_peft_model

    lo = t["lora"]
    cfg = LoraConfig(r=lo["r"], lora_alpha=lo["lora_alpha"], lora_dropout=lo["lora_dropout"], task_type="CAUSAL_LM")
    pm = get_peft_model(model, cfg)
    params = [p for p in pm.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=t["lr"], weight_decay=0.0)
    ids = bench_ids(model.config.vocab_size, t["batch"], t["seq"], dev)
    losses = []

    def step():
        out = pm(input_ids=ids, labels=ids)
        out.loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        opt.zero_grad(set_to_none=True)
        return out.loss

    for _ in range(2):
        losses.append(float(step()))
    sync()
    t0 = time.perf_counter()
    for _ in range(t["steps"]):
        step()
    sync()
    secs = time.perf_counter() - t0
    return {
        "trainable_params": sum(p.numel() for p in params),
        "tokens_per_s": round(t["batch"] * t["seq"] * t["steps"] / secs, 1),
        "ms_per_step": round(secs / t["steps"] * 1000, 2),
        "first_loss": losses[0],
    }


def sig(x):
    """Four significant figures: a ratio of 0.0004 must not print as 0."""
    return float(f"{x:.4g}")


def ratios(ours, torch_info):
    r = {"bench": "ratios_vs_torch", "device": torch_info["device"], "gpu": torch_info["gpu"]}
    for o, t in zip(ours["matmul"], torch_info["matmul"]):
        if t.get("gflops"):
            r[f"matmul_{o['size']}_vs_torch"] = sig(o["gflops"] / t["gflops"])
        if t.get("tf32_gflops"):
            r[f"matmul_{o['size']}_vs_torch_tf32"] = sig(o["gflops"] / t["tf32_gflops"])
    tt = {t["model"]: t for t in torch_info["train"]}
    for o in ours["train"]:
        t = tt.get(o["model"], {})
        if t.get("tokens_per_s"):
            r[f"train_{o['model']}_vs_torch"] = sig(o["tokens_per_s"] / t["tokens_per_s"])
        if t.get("trainable_params") is not None:
            r[f"train_{o['model']}_trainable_same"] = t["trainable_params"] == o["trainable_params"]
        # Same weights only for a model loaded from a folder (GPT-2's random init differs between the two).
        if o.get("model_dir") and t.get("first_loss") is not None and o.get("first_loss") is not None:
            r[f"loss_{o['model']}_abs_diff"] = abs(o["first_loss"] - t["first_loss"])
    td = {d["model"]: d for d in torch_info["decode"]}
    for o in ours["decode"]:
        t = td.get(o["model"], {})
        if t.get("ms_per_token") and o["ms_per_token"] > 0:
            # Speed ratio, as the others: torch's time over ours.
            r[f"decode_{o['model']}_vs_torch"] = sig(t["ms_per_token"] / o["ms_per_token"])
    return r


if __name__ == "__main__":
    main()
