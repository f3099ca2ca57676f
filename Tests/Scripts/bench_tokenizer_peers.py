#!/usr/bin/env python3
"""Hugging Face tokenizers (Rust, one thread) against `rpp bench tokenize` on the same generated corpus,
and a check that `rpp tokenize` gives the same ids for every line.

# requires: tokenizers==0.23.3

Run: python3 Tests/Scripts/bench_tokenizer_peers.py --rpp .build/release/rpp --model DIR|tokenizer.json
It writes the corpus with `rpp bench tokenize --write-corpus`, times tokenizers' encode_batch with
RAYON_NUM_THREADS=1 (best of --passes), runs `rpp bench tokenize --json`, and prints both figures and
their ratio.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

os.environ["RAYON_NUM_THREADS"] = "1"
os.environ["TOKENIZERS_PARALLELISM"] = "false"

from pins import require

require(__file__)

from tokenizers import Tokenizer  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rpp", default=".build/release/rpp")
    ap.add_argument("--model", required=True)
    ap.add_argument("--megabytes", type=int, default=10)
    ap.add_argument("--passes", type=int, default=3)
    args = ap.parse_args()
    path = args.model if args.model.endswith(".json") else os.path.join(args.model, "tokenizer.json")
    tok = Tokenizer.from_file(path)
    with tempfile.TemporaryDirectory() as tmp:
        corpus = os.path.join(tmp, "corpus.jsonl")
        subprocess.run([args.rpp, "bench", "tokenize", "--model", args.model, "--megabytes", str(args.megabytes),
                        "--write-corpus", corpus], check=True, stdout=subprocess.DEVNULL)
        lines = [json.loads(l)["text"] for l in open(corpus, encoding="utf-8")]
        size = sum(len(l.encode("utf-8")) for l in lines)
        tok.encode_batch(lines[:1000], add_special_tokens=False)
        best = float("inf")
        for _ in range(args.passes):
            t0 = time.perf_counter()
            tok.encode_batch(lines, add_special_tokens=False)
            best = min(best, time.perf_counter() - t0)
        hf = size / 1e6 / best
        out = subprocess.run([args.rpp, "bench", "tokenize", "--model", args.model, "--megabytes",
                              str(args.megabytes), "--passes", str(args.passes), "--json"],
                             check=True, capture_output=True, text=True).stdout
        ours = json.loads(out)["mb_per_s"]
        got = subprocess.run([args.rpp, "tokenize", "--model", args.model, "--input", corpus], check=True,
                             capture_output=True, text=True).stdout.split("\n")[:-1]
        want = [e.ids for e in tok.encode_batch(lines, add_special_tokens=True)]
        bad = sum(1 for g, w in zip(got, want) if json.loads(g)["ids"] != w) + abs(len(got) - len(want))
    print(f"corpus: {len(lines)} lines, {size / 1e6:.1f} MB")
    print(f"HF tokenizers (one thread): {hf:.2f} MB/s")
    print(f"rpp:                        {ours:.2f} MB/s ({ours / hf:.2f}x)")
    print(f"lines whose ids differ: {bad}")
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
