#!/usr/bin/env python3
"""Peer benchmark for `rpp bench model` (run by `make bench-peers`, not CI).

Runs PyTorch + transformers LlamaForCausalLM (eager, float32, 2 threads) on the same shapes as
`rpp bench model` -- training tokens/s (forward + cross-entropy + backward + AdamW) and decode tokens/s
with `generate` (KV cache, sampling, prompt 16 tokens, the rest of the sequence generated) -- then runs
`rpp bench model --json` and prints rpp/PyTorch ratios.

Usage: .venv/bin/python Tests/Scripts/bench_peers.py [--rpp .build/release/rpp] [--shapes tiny,small,base,rollout]
"""
import argparse
import json
import subprocess
import time

import torch
from transformers import LlamaConfig, LlamaForCausalLM

SHAPES = {  # hidden, layers, heads, ffn, batch, seq
    "tiny": (128, 4, 4, 384, 64, 64),
    "small": (256, 6, 8, 768, 32, 128),
    "base": (512, 8, 8, 1536, 32, 128),
    # the default RL task's sampling call (rpp bench model's `rollout`): 16 prompts x 4 samples, width 8,
    # 6 new tokens, vocab 16; PyTorch samples it as a user would, generate(num_return_sequences=4)
    "rollout": (128, 4, 4, 384, 64, 14),
}
FIXED = {"rollout": {"vocab": 16, "prompt": 8, "samples": 4}}


def bench_torch(name, steps, prompt_len):
    c, l, h, f, b, t = SHAPES[name]
    fixed = FIXED.get(name, {})
    vocab, prompt_len, samples = fixed.get("vocab", 32), fixed.get("prompt", prompt_len), fixed.get("samples", 1)
    cfg = LlamaConfig(vocab_size=vocab, hidden_size=c, intermediate_size=f, num_hidden_layers=l, num_attention_heads=h,
                      num_key_value_heads=h, max_position_embeddings=256, tie_word_embeddings=False)
    model = LlamaForCausalLM(cfg).float()
    model.config._attn_implementation = "eager"
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4, betas=(0.9, 0.95), weight_decay=0.0)
    ids = torch.randint(1, vocab, (b, t))  # 0 is the pad id of generate

    def step():
        out = model(input_ids=ids, labels=ids)
        opt.zero_grad(set_to_none=True)
        out.loss.backward()
        opt.step()

    model.train()
    step()
    t0 = time.perf_counter()
    for _ in range(steps):
        step()
    train = b * t * steps / (time.perf_counter() - t0)
    model.eval()
    new = t - prompt_len
    prompt = ids[: b // samples, :prompt_len]
    with torch.no_grad():
        model.generate(prompt[:2], max_new_tokens=4, min_new_tokens=4, do_sample=True, pad_token_id=0)
        calls, t0 = 0, time.perf_counter()
        while calls == 0 or time.perf_counter() - t0 < 0.5:  # repeated for at least half a second, as rpp does
            model.generate(prompt, max_new_tokens=new, min_new_tokens=new, do_sample=True, temperature=1.0, top_k=0,
                           pad_token_id=0, num_return_sequences=samples)
            calls += 1
        decode = calls * b * new / (time.perf_counter() - t0)
    return train, decode


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rpp", default=".build/release/rpp")
    ap.add_argument("--shapes", default="tiny,small,base,rollout")
    ap.add_argument("--steps", type=int, default=5)
    ap.add_argument("--prompt-length", type=int, default=16)
    a = ap.parse_args()
    torch.set_num_threads(2)
    names = a.shapes.split(",")
    out = subprocess.run([a.rpp, "bench", "model", "--json", "--shapes", a.shapes, "--steps", str(a.steps),
                          "--prompt-length", str(a.prompt_length)], capture_output=True, text=True, check=True)
    rpp = {r["shape"]: r for r in map(json.loads, out.stdout.strip().splitlines())}
    print(f"{'shape':6} {'rpp train':>10} {'torch train':>11} {'ratio':>6} {'rpp decode':>11} {'torch decode':>12} {'ratio':>6}")
    for n in names:
        tt, td = bench_torch(n, a.steps, a.prompt_length)
        r = rpp[n]
        print(f"{n:6} {r['train_tokens_per_s']:10.0f} {tt:11.0f} {r['train_tokens_per_s'] / tt:6.2f} "
              f"{r['decode_tokens_per_s']:11.0f} {td:12.0f} {r['decode_tokens_per_s'] / td:6.2f}")


if __name__ == "__main__":
    main()
