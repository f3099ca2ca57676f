#!/usr/bin/env python3
# requires: torch==2.13.0 transformers==5.24.0 safetensors==0.8.0
"""transformers loads what rpp saves, and gives rpp's log-probs.

For each dtype (f32, bf16) this runs `rpp model convert --model DIR --out WORK/DTYPE --dtype DTYPE`, then:
- config.json: every field of the source's is kept, except dtype / torch_dtype, which name the saved dtype;
- every other file of the source that is not weights is there with the same bytes;
- transformers loads the directory (model, tokenizer, generation config); its float32 log-probs of some token
  rows (a chat-formatted text when the tokenizer has a chat template, plus fixed rows) are compared with
  `rpp logprobs --model WORK/DTYPE`;
- the weights transformers loaded are the file's values: for f32 the source's bit for bit, for bf16 the
  source's rounded to bfloat16 by torch's own conversion.
It prints the largest differences and exits 1 when a check fails.

Run: /work/venv-gguf/bin/python Tests/Scripts/check_saved_checkpoint.py --rpp .build/release/rpp \
       --model runs/models/smollm2-135m-instruct
"""
import argparse
import json
import os
import shutil
import subprocess
import sys

from pins import require

require(__file__)

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer, GenerationConfig

WEIGHT_SUFFIXES = (".safetensors", ".safetensors.index.json", ".bin", ".bin.index.json", ".pt", ".pth", ".ckpt",
                   ".gguf", ".h5", ".msgpack", ".onnx", ".npz", ".ot")
RPP_STATE = {"optimizer.safetensors", "trainer_state.json", "sft_result.json", "rm_result.json", "reward_stats.json"}
FIXED_ROWS = [[1, 17, 250, 42, 599, 3, 77, 2], [0, 5, 9, 12, 6, 10, 7, 15, 7, 4, 4, 1]]


def companions(directory):
    return sorted(n for n in os.listdir(directory)
                  if not n.startswith(".") and n != "config.json" and n not in RPP_STATE
                  and not n.lower().endswith(WEIGHT_SUFFIXES) and os.path.isfile(os.path.join(directory, n)))


def load(directory):
    return AutoModelForCausalLM.from_pretrained(directory, dtype=torch.float32, attn_implementation="eager").eval()


def hf_logprobs(model, rows):
    out = []
    with torch.no_grad():
        for r in rows:
            logits = model(input_ids=torch.tensor([r])).logits[0].double()
            lp = torch.log_softmax(logits, dim=-1)
            out.append([float(lp[i, r[i + 1]]) for i in range(len(r) - 1)])
    return out


def rpp_logprobs(rpp, directory, rows, work):
    path = os.path.join(work, "rows.jsonl")
    with open(path, "w") as f:
        for r in rows:
            f.write(json.dumps({"tokens": r}) + "\n")
    env = dict(os.environ, OPENBLAS_NUM_THREADS=os.environ.get("OPENBLAS_NUM_THREADS", "1"))
    out = subprocess.run([rpp, "logprobs", "--model", directory, "--input", path], check=True, capture_output=True,
                         text=True, env=env).stdout
    return [json.loads(line)["logprobs"] for line in out.splitlines() if line.strip()]


def largest_difference(a, b):
    return max(abs(x - y) for ra, rb in zip(a, b) for x, y in zip(ra, rb))


def token_rows(directory, vocab):
    rows = [[t % vocab for t in r] for r in FIXED_ROWS]
    try:
        tok = AutoTokenizer.from_pretrained(directory)
    except Exception as e:  # a directory without tokenizer files still gets the fixed rows
        return rows, f"no tokenizer ({type(e).__name__})"
    text = "The capital of France is Paris. It is known for the Eiffel Tower and its museums."
    if tok.chat_template:
        messages = [{"role": "user", "content": "What is the capital of France?"},
                    {"role": "assistant", "content": "The capital of France is Paris."}]
        ids = tok.apply_chat_template(messages, tokenize=True)
        if isinstance(ids, dict) or hasattr(ids, "input_ids"):
            ids = ids["input_ids"]
        rows.append(list(ids))
    rows.append(tok(text)["input_ids"])
    return rows, f"tokenizer {type(tok).__name__}, chat template {'yes' if tok.chat_template else 'no'}"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rpp", required=True, help="the rpp binary")
    ap.add_argument("--model", required=True, help="the source checkpoint directory")
    ap.add_argument("--work", default=None, help="where the converted directories go (default: a temporary one)")
    ap.add_argument("--dtypes", default="f32,bf16")
    ap.add_argument("--tolerance", type=float, default=1e-3, help="largest |rpp - transformers| log-prob allowed")
    a = ap.parse_args()
    torch.set_num_threads(1)
    work = a.work or os.path.join("/tmp", f"rpp-check-saved-{os.getpid()}")
    os.makedirs(work, exist_ok=True)
    failures = []
    source_cfg = json.load(open(os.path.join(a.model, "config.json")))
    source_model = load(a.model)
    source_state = {k: v.clone() for k, v in source_model.state_dict().items()}
    vocab = source_model.config.vocab_size
    for dtype in a.dtypes.split(","):
        out = os.path.join(work, dtype)
        shutil.rmtree(out, ignore_errors=True)
        subprocess.run([a.rpp, "model", "convert", "--model", a.model, "--out", out, "--dtype", dtype], check=True)
        torch_name = {"f32": "float32", "bf16": "bfloat16", "f16": "float16"}[dtype]
        cfg = json.load(open(os.path.join(out, "config.json")))
        changed = sorted(k for k in set(source_cfg) | set(cfg)
                         if k not in ("dtype", "torch_dtype") and source_cfg.get(k, "<absent>") != cfg.get(k, "<absent>"))
        dtype_ok = all(cfg.get(k) == torch_name for k in ("dtype", "torch_dtype") if k in cfg or k in source_cfg)
        if changed or not dtype_ok:
            failures.append(f"{dtype}: config.json fields changed {changed}, dtype fields ok {dtype_ok}")
        missing = [n for n in companions(a.model)
                   if open(os.path.join(a.model, n), "rb").read() != open(os.path.join(out, n), "rb").read()
                   if os.path.exists(os.path.join(out, n))] + [n for n in companions(a.model)
                                                                  if not os.path.exists(os.path.join(out, n))]
        if missing:
            failures.append(f"{dtype}: companion files missing or different: {missing}")
        model = load(out)
        GenerationConfig.from_pretrained(out) if os.path.exists(os.path.join(out, "generation_config.json")) else None
        state = model.state_dict()
        weight_diffs = []
        for k, v in source_state.items():
            want = v if dtype == "f32" else v.to(getattr(torch, torch_name)).float()
            if not torch.equal(state[k], want):
                weight_diffs.append(k)
        if weight_diffs:
            failures.append(f"{dtype}: transformers loaded weights that are not the source's rounded to {dtype}: "
                            f"{weight_diffs[:5]}")
        rows, tok_note = token_rows(out, vocab)
        hf = hf_logprobs(model, rows)
        ours = rpp_logprobs(a.rpp, out, rows, work)
        diff = largest_difference(hf, ours)
        source_diff = largest_difference(hf, hf_logprobs(source_model, rows))
        n = sum(len(r) - 1 for r in rows)
        print(f"{dtype}: {n} log-probs over {len(rows)} rows ({tok_note}); |rpp - transformers| max {diff:.3g}; "
              f"transformers {dtype} copy vs source max {source_diff:.3g}; config.json fields changed: {changed or 'none'}; "
              f"companion files kept: {len(companions(a.model))}; weights as expected: {not weight_diffs}")
        if diff > a.tolerance:
            failures.append(f"{dtype}: rpp and transformers differ by {diff:.3g} > {a.tolerance}")
        if dtype == "f32" and source_diff != 0:
            failures.append(f"f32: transformers gives other log-probs for the f32 copy than for the source ({source_diff})")
    if not a.work:
        shutil.rmtree(work, ignore_errors=True)
    for f in failures:
        print("FAIL", f)
    print("check_saved_checkpoint:", "FAILED" if failures else "ok")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
