#!/usr/bin/env python3
"""Byte-level BPE, trained from counts, saved as a Hugging Face tokenizer.json.

Algorithm (as GPT-2's tokenizer works, written from the description):
  1. Pre-tokenise with the GPT-2 regex (contractions, optional space + letters, optional space +
     digits, optional space + other symbols, whitespace runs) and count the pieces.
  2. Map every byte of a piece to a printable unicode character (the GPT-2 byte-to-unicode table:
     printable Latin-1 bytes stand for themselves, the others are shifted to U+0100 upwards), so
     the 256 base symbols are characters and a piece is a string of them.
  3. Repeatedly merge the most frequent adjacent pair of symbols (counted over the pieces, weighted
     by piece frequency; ties go to the lexicographically smallest pair), recording the merge,
     until the vocabulary has the requested size (256 bytes + merges + special tokens).
  4. Encoding a piece applies the recorded merges by rank: merge the adjacent pair with the lowest
     rank (all its occurrences, left to right) until no adjacent pair has a rank.

Usage:
  python3 bpe.py train --input work/train.txt --vocab-size 4096 --out ../../public/models/NAME
  python3 bpe.py encode --tokenizer ../../public/models/NAME/tokenizer.json "some text"
"""
import argparse
import collections
import heapq
import json
import os
import sys

import regex

EOT = "<|endoftext|>"
GPT2_PATTERN = r"""'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"""
PRETOKENIZE = regex.compile(GPT2_PATTERN)


def byte_to_unicode():
    """Byte value -> printable character (GPT-2's table)."""
    keep = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(
        range(ord("®"), ord("ÿ") + 1)
    )
    table = {}
    shift = 0
    for b in range(256):
        if b in keep:
            table[b] = chr(b)
        else:
            table[b] = chr(256 + shift)
            shift += 1
    return table


B2U = byte_to_unicode()
U2B = {c: b for b, c in B2U.items()}


def to_symbols(piece):
    return "".join(B2U[b] for b in piece.encode("utf-8"))


def pieces(text):
    return PRETOKENIZE.findall(text)


def train(text_iter, vocab_size, specials=(EOT,), log=print):
    counts = collections.Counter()
    for text in text_iter:
        for chunk in text.split(EOT):
            counts.update(pieces(chunk))
    words = [list(to_symbols(p)) for p in counts]
    freqs = list(counts.values())
    log(f"bpe: {len(words)} distinct pieces, {sum(freqs)} pieces in all")

    pair_count = collections.Counter()
    where = collections.defaultdict(set)
    for i, (w, f) in enumerate(zip(words, freqs)):
        for a, b in zip(w, w[1:]):
            pair_count[(a, b)] += f
            where[(a, b)].add(i)

    # max-heap by count, ties to the smallest pair; entries go stale and are checked on pop
    heap = [(-c, p) for p, c in pair_count.items()]
    heapq.heapify(heap)

    n_merges = vocab_size - 256 - len(specials)
    merges = []
    while len(merges) < n_merges and heap:
        negc, pair = heapq.heappop(heap)
        if pair_count.get(pair, 0) != -negc or negc == 0:
            continue
        merges.append(pair)
        a, b = pair
        ab = a + b
        touched = collections.Counter()
        for i in list(where[pair]):
            w, f = words[i], freqs[i]
            # remove this word's old pairs
            for x, y in zip(w, w[1:]):
                pair_count[(x, y)] -= f
                touched[(x, y)] += 0
            nw = []
            j = 0
            while j < len(w):
                if j + 1 < len(w) and w[j] == a and w[j + 1] == b:
                    nw.append(ab)
                    j += 2
                else:
                    nw.append(w[j])
                    j += 1
            words[i] = nw
            for x, y in zip(w, w[1:]):
                where[(x, y)].discard(i)
            for x, y in zip(nw, nw[1:]):
                pair_count[(x, y)] += f
                where[(x, y)].add(i)
                touched[(x, y)] += 0
        for p in touched:
            c = pair_count.get(p, 0)
            if c <= 0:
                pair_count.pop(p, None)
                where.pop(p, None)
            else:
                heapq.heappush(heap, (-c, p))
        if len(merges) % 500 == 0:
            log(f"bpe: {len(merges)} merges, last {ab!r} x{-negc}")
    vocab = {B2U[b]: b for b in range(256)}
    for a, b in merges:
        vocab[a + b] = len(vocab)
    for s in specials:
        vocab[s] = len(vocab)
    return vocab, merges


class Tokenizer:
    def __init__(self, vocab, merges, specials=(EOT,)):
        self.vocab = vocab
        self.inv = {i: t for t, i in vocab.items()}
        self.ranks = {tuple(m): r for r, m in enumerate(merges)}
        self.specials = list(specials)
        self.cache = {}

    @classmethod
    def load(cls, path):
        with open(path, encoding="utf-8") as f:
            tj = json.load(f)
        merges = [tuple(m.split(" ")) if isinstance(m, str) else tuple(m) for m in tj["model"]["merges"]]
        specials = [t["content"] for t in tj["added_tokens"] if t["special"]]
        return cls(tj["model"]["vocab"], merges, specials)

    def bpe(self, sym):
        if sym in self.cache:
            return self.cache[sym]
        w = list(sym)
        while len(w) > 1:
            best = None
            for p in zip(w, w[1:]):
                r = self.ranks.get(p)
                if r is not None and (best is None or r < best[0]):
                    best = (r, p)
            if best is None:
                break
            a, b = best[1]
            nw = []
            j = 0
            while j < len(w):
                if j + 1 < len(w) and w[j] == a and w[j + 1] == b:
                    nw.append(a + b)
                    j += 2
                else:
                    nw.append(w[j])
                    j += 1
            w = nw
        ids = [self.vocab[t] for t in w]
        self.cache[sym] = ids
        return ids

    def encode(self, text):
        ids = []
        parts = regex.split("(" + "|".join(regex.escape(s) for s in self.specials) + ")", text) if self.specials else [text]
        for part in parts:
            if part in self.specials:
                ids.append(self.vocab[part])
                continue
            for p in pieces(part):
                ids.extend(self.bpe(to_symbols(p)))
        return ids

    def decode(self, ids):
        out = []
        buf = bytearray()
        for i in ids:
            t = self.inv[i]
            if t in self.specials:
                out.append(buf.decode("utf-8", errors="replace"))
                buf = bytearray()
                out.append(t)
            else:
                buf.extend(U2B[c] for c in t)
        out.append(buf.decode("utf-8", errors="replace"))
        return "".join(out)


def tokenizer_json(vocab, merges, specials=(EOT,)):
    return {
        "version": "1.0",
        "truncation": None,
        "padding": None,
        "added_tokens": [
            {
                "id": vocab[s],
                "content": s,
                "single_word": False,
                "lstrip": False,
                "rstrip": False,
                "normalized": False,
                "special": True,
            }
            for s in specials
        ],
        "normalizer": None,
        "pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": True},
        "post_processor": None,
        "decoder": {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": True, "use_regex": True},
        "model": {
            "type": "BPE",
            "dropout": None,
            "unk_token": None,
            "continuing_subword_prefix": None,
            "end_of_word_suffix": None,
            "fuse_unk": False,
            "byte_fallback": False,
            "ignore_merges": False,
            "vocab": vocab,
            "merges": [a + " " + b for a, b in merges],
        },
    }


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    t = sub.add_parser("train")
    t.add_argument("--input", required=True)
    t.add_argument("--vocab-size", type=int, default=4096)
    t.add_argument("--out", required=True)
    e = sub.add_parser("encode")
    e.add_argument("--tokenizer", required=True)
    e.add_argument("text")
    args = ap.parse_args()
    if args.cmd == "train":
        with open(args.input, encoding="utf-8") as f:
            text = f.read()
        vocab, merges = train([text], args.vocab_size)
        os.makedirs(args.out, exist_ok=True)
        with open(os.path.join(args.out, "tokenizer.json"), "w", encoding="utf-8") as f:
            json.dump(tokenizer_json(vocab, merges), f, ensure_ascii=False)
        print(f"bpe: vocabulary {len(vocab)} written to {args.out}/tokenizer.json")
    else:
        tok = Tokenizer.load(args.tokenizer)
        ids = tok.encode(args.text)
        json.dump({"ids": ids, "decoded": tok.decode(ids)}, sys.stdout, ensure_ascii=False)
        print()


if __name__ == "__main__":
    main()
