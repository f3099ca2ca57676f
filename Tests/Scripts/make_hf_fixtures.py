#!/usr/bin/env python3
# requires: torch==2.13.0 transformers==5.24.0 safetensors==0.8.0
"""Fixtures for rpp's Model tests, written by Hugging Face transformers.

Creates two tiny random models with transformers and saves them (safetensors, F32) under
Tests/Fixtures/model/<name>/ with expected.json: token sequences and the next-token log-probs
transformers computes for them (logprobs[i] = log p(tokens[i+1] | tokens[:i+1])).

  llama-gqa:   LlamaForCausalLM, 4 heads / 2 KV heads, untied lm_head, rope_theta 500
  qwen2-tied:  Qwen2ForCausalLM, q/k/v bias, tied embeddings, 4 heads / 1 KV head, rope_theta 10000

With --check-rpp DIR it instead loads an rpp-written checkpoint DIR with transformers and prints the
log-probs of --tokens, for comparison with `rpp logprobs` (transformers loads what rpp saves).

Setup (CPU torch from PyPI): python3 -m venv .venv && .venv/bin/pip install torch==2.13.0 transformers==5.24.0 \
  safetensors==0.8.0 (make model-fixtures does this)
Run: .venv/bin/python Tests/Scripts/make_hf_fixtures.py
"""
import argparse
import json
import os

from pins import require

require(__file__)

import torch
from transformers import LlamaConfig, LlamaForCausalLM, Qwen2Config, Qwen2ForCausalLM

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Fixtures", "model")


def next_token_logprobs(model, seqs):
    out = []
    with torch.no_grad():
        for s in seqs:
            ids = torch.tensor([s])
            logits = model(input_ids=ids).logits[0].double()
            lp = torch.log_softmax(logits, dim=-1)
            out.append([float(lp[i, s[i + 1]]) for i in range(len(s) - 1)])
    return out


def make(name, model, vocab, gen):
    model.eval()
    # Spread the random weights a little beyond the 0.02 init so the log-probs are not all ~log(1/V).
    with torch.no_grad():
        for n, p in model.named_parameters():
            if "norm" in n:
                p.add_(0.1 * torch.randn(p.shape, generator=gen))
            else:
                p.normal_(0.0, 0.15, generator=gen)
    d = os.path.join(ROOT, name)
    os.makedirs(d, exist_ok=True)
    model.save_pretrained(d, safe_serialization=True)
    for extra in ("generation_config.json",):
        p = os.path.join(d, extra)
        if os.path.exists(p):
            os.remove(p)
    seqs = [[int(t) for t in torch.randint(0, vocab, (n,), generator=gen)] for n in (2, 9, 24)]
    with open(os.path.join(d, "expected.json"), "w") as f:
        json.dump({"tokens": seqs, "logprobs": next_token_logprobs(model, seqs)}, f)
    print(f"wrote {d}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--check-rpp", help="rpp checkpoint directory to load with transformers")
    ap.add_argument("--tokens", default="0,5,9,12,6,10,7,15,7,4,4,1", help="comma-separated ids for --check-rpp")
    a = ap.parse_args()
    torch.manual_seed(0)
    if a.check_rpp:
        cfg = json.load(open(os.path.join(a.check_rpp, "config.json")))
        cls = Qwen2ForCausalLM if cfg["model_type"] == "qwen2" else LlamaForCausalLM
        m = cls.from_pretrained(a.check_rpp, torch_dtype=torch.float32, attn_implementation="eager").eval()
        toks = [int(t) for t in a.tokens.split(",")]
        print(json.dumps({"logprobs": next_token_logprobs(m, [toks])[0]}))
        return
    gen = torch.Generator().manual_seed(1234)
    llama = LlamaConfig(vocab_size=40, hidden_size=32, intermediate_size=48, num_hidden_layers=2,
                        num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=64,
                        rms_norm_eps=1e-6, rope_theta=500.0, tie_word_embeddings=False, attention_bias=False,
                        torch_dtype="float32")
    make("llama-gqa", LlamaForCausalLM(llama).to(torch.float32), 40, gen)
    qwen = Qwen2Config(vocab_size=48, hidden_size=32, intermediate_size=40, num_hidden_layers=2,
                       num_attention_heads=4, num_key_value_heads=1, max_position_embeddings=64,
                       rms_norm_eps=1e-6, rope_theta=10000.0, tie_word_embeddings=True, torch_dtype="float32")
    make("qwen2-tied", Qwen2ForCausalLM(qwen).to(torch.float32), 48, gen)


if __name__ == "__main__":
    main()
