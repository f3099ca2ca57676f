#!/usr/bin/env python3
"""Checks `rpp tokenize` against transformers on a real model's tokenizer (not run by CI).

# requires: tokenizers==0.23.3 transformers==5.24.0

Run: python3 Tests/Scripts/check_tokenizer.py --rpp .build/release/rpp --model DIR [--megabytes 1]
Encodes the fixture texts of make_tokenizer_fixtures.py and a generated corpus (`rpp bench tokenize
--write-corpus`) with `rpp tokenize` and with transformers' `tokenizer(text)["input_ids"]`, decodes the ids
with both, and prints how many lines differ (exit status 1 if any).
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile

from pins import require

require(__file__)

import transformers

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_tokenizer_fixtures import TEXTS  # noqa: E402


ALPHABET = (list("abcXYZ019 .,!?'-_$<>|[]()") + [" ", "  ", "\t", "\n", "\r\n", "\u00a0", "\u3000", "\u2028"]
            + list("éßΣσςЖж中文ひカ한ع") + ["\u0301", "\u0308", "١٢", "１２", "Ⅻ", "²", "😀", "👍🏽", "🇫🇷", "\u200d"]
            + ["'s", "'LL", "<|endoftext|>", "<s>", "</s>", "<unk>", "[LS]", "[RS]", "cat", "DoG", "the", "ﬁ"])


def random_texts(n):
    import random
    rng = random.Random(7)
    return ["".join(rng.choice(ALPHABET) for _ in range(rng.randint(0, 30))) for _ in range(n)]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rpp", default=".build/release/rpp")
    ap.add_argument("--model", required=True)
    ap.add_argument("--megabytes", type=int, default=1)
    ap.add_argument("--random", type=int, default=0, help="also N random strings over a mixed alphabet")
    args = ap.parse_args()
    hf = transformers.AutoTokenizer.from_pretrained(args.model)
    with tempfile.TemporaryDirectory() as tmp:
        corpus = os.path.join(tmp, "corpus.jsonl")
        subprocess.run([args.rpp, "bench", "tokenize", "--model", args.model, "--megabytes", str(args.megabytes),
                        "--write-corpus", corpus], check=True, stdout=subprocess.DEVNULL)
        texts = list(TEXTS) + [json.loads(l)["text"] for l in open(corpus, encoding="utf-8")]
        texts += random_texts(args.random)
        inp = os.path.join(tmp, "in.jsonl")
        with open(inp, "w", encoding="utf-8") as f:
            for t in texts:
                f.write(json.dumps({"text": t}) + "\n")
        got = subprocess.run([args.rpp, "tokenize", "--model", args.model, "--input", inp], check=True,
                             capture_output=True, text=True).stdout.split("\n")[:-1]
        ids_file = os.path.join(tmp, "ids.jsonl")
        with open(ids_file, "w") as f:
            f.write("\n".join(got) + "\n")
        decoded = subprocess.run([args.rpp, "tokenize", "--decode", "--model", args.model, "--input", ids_file],
                                 check=True, capture_output=True, text=True).stdout.split("\n")[:-1]
    bad_ids = bad_text = 0
    for text, g, d in zip(texts, got, decoded):
        want = hf(text)["input_ids"]
        ids = json.loads(g)["ids"]
        if ids != want:
            bad_ids += 1
            if bad_ids <= 5:
                print(f"ids differ for {text!r}:\n  rpp  {ids}\n  want {want}")
        if json.loads(d)["text"] != hf.decode(want):
            bad_text += 1
            if bad_text <= 5:
                print(f"decode differs for {text!r}: {json.loads(d)['text']!r} vs {hf.decode(want)!r}")
    n = len(texts)
    print(f"{n} texts: {bad_ids} with different ids, {bad_text} with a different decode "
          f"({type(hf).__name__}, {len(got)} lines from rpp)")
    sys.exit(1 if bad_ids or bad_text or len(got) != n else 0)


if __name__ == "__main__":
    main()
