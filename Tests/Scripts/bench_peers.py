#!/usr/bin/env python3
"""Peer benchmark for `rpp bench model` (run by `make bench-peers`, not CI).

Runs PyTorch + transformers LlamaForCausalLM (eager, float32, 2 threads) on the same shapes as
`rpp bench model` -- training tokens/s (forward + cross-entropy + backward + AdamW) and decode tokens/s
with `generate` (KV cache, sampling, prompt 16 tokens, the rest of the sequence generated) -- then runs
`rpp bench model --json` and prints rpp/PyTorch ratios.

`smollm2-rl` is SmolLM2-135M's shape (random weights, tied embeddings) on RL-like rows: rpp's JSON line gives the
seeded prompt and response lengths, and PyTorch runs the same rows (its own random tokens) the way an RL
trainer would, with the log-softmax over the 49k vocabulary on response positions only (hidden states gathered
before lm_head, as rpp does):
  training -- micro-batches right-padded with an attention_mask, forward, response log-probs, backward, and one
              AdamW step per optimiser step;
  decode   -- `model.generate` on every row's prompt at once, left-padded with an attention_mask,
              do_sample=True at temperature 1 (top_k=0), min_new_tokens = max_new_tokens (no early stop);
  prefill  -- forward under no_grad and the response log-probs, in micro-batches.

With --precision fp32,bf16 each shape runs in both: rpp with `--precision bf16` (bf16 weights in the matrix
products, float32 accumulation; training keeps float32 masters) beside PyTorch under
torch.autocast("cpu", dtype=torch.bfloat16) (float32 parameters and optimizer, bf16 matmuls). On a CPU below AVX-512
the autocast peer is skipped (six to eight times slower than float32 on an AVX2 Zen 3) unless --autocast always.

Measured with torch 2.13.0+cpu and transformers 5.24.0.
# requires: torch==2.13.0 transformers==5.24.0

Usage: .venv/bin/python Tests/Scripts/bench_peers.py [--rpp .build/release/rpp] [--shapes tiny,small,base,rollout,smollm2-rl]
       [--precision fp32,bf16] [--autocast auto|always]
"""
import contextlib
import argparse
import json
import platform
import subprocess
import time

from pins import require

require(__file__)

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


def autocast(precision):
    """PyTorch's bf16 mixed precision on the CPU, or nothing for fp32."""
    if precision == "bf16":
        return torch.autocast("cpu", dtype=torch.bfloat16)
    return contextlib.nullcontext()


def bench_torch(name, steps, prompt_len, precision):
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
        with autocast(precision):
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
    with torch.no_grad(), autocast(precision):
        model.generate(prompt[:2], max_new_tokens=4, min_new_tokens=4, do_sample=True, pad_token_id=0)
        calls, t0 = 0, time.perf_counter()
        while calls == 0 or time.perf_counter() - t0 < 0.5:  # repeated for at least half a second, as rpp does
            model.generate(prompt, max_new_tokens=new, min_new_tokens=new, do_sample=True, temperature=1.0, top_k=0,
                           pad_token_id=0, num_return_sequences=samples)
            calls += 1
        decode = calls * b * new / (time.perf_counter() - t0)
    return train, decode


def response_logprobs(model, rows, prompt_lens):
    """Right-pads `rows` (1-D token tensors), runs the trunk with an attention_mask, and returns the
    log-probs of every response token (log_softmax over the vocabulary on response positions only)."""
    width = max(len(r) for r in rows)
    ids = torch.zeros(len(rows), width, dtype=torch.long)
    mask = torch.zeros(len(rows), width, dtype=torch.long)
    for b, r in enumerate(rows):
        ids[b, :len(r)] = r
        mask[b, :len(r)] = 1
    hidden = model.model(input_ids=ids, attention_mask=mask).last_hidden_state
    bi = torch.cat([torch.full((len(r) - p,), b) for b, (r, p) in enumerate(zip(rows, prompt_lens))])
    ti = torch.cat([torch.arange(p - 1, len(r) - 1) for r, p in zip(rows, prompt_lens)])
    logits = model.lm_head(hidden[bi, ti])
    return torch.log_softmax(logits, dim=-1).gather(1, ids[bi, ti + 1].unsqueeze(1)).squeeze(1)


def bench_torch_rl(r, precision):
    """SmolLM2-135M's shape on the rows rpp measured (lengths from its JSON line)."""
    cfg = LlamaConfig(vocab_size=49152, hidden_size=576, intermediate_size=1536, num_hidden_layers=30,
                      num_attention_heads=9, num_key_value_heads=3, rms_norm_eps=1e-5, rope_theta=100000.0,
                      tie_word_embeddings=True, max_position_embeddings=8192)
    model = LlamaForCausalLM(cfg).float()
    model.config._attn_implementation = "eager"
    P, R = r["prompt_lengths"], r["response_lengths"]
    gen = torch.Generator().manual_seed(3)
    rows = [torch.randint(1, 49152, (p + q,), generator=gen) for p, q in zip(P, R)]
    train_rows, micro, steps, new = r["train_rows"], r["micro_batch"], r["rl_steps"], r["new_tokens"]
    opt = torch.optim.AdamW(model.parameters(), lr=1e-5, betas=(0.9, 0.95), weight_decay=0.0)
    total_response = sum(R[:train_rows])

    def train_step():
        opt.zero_grad(set_to_none=True)
        for lo in range(0, train_rows, micro):
            hi = min(train_rows, lo + micro)
            with autocast(precision):
                logp = response_logprobs(model, rows[lo:hi], P[lo:hi])
            (-logp.float().sum() / total_response).backward()
        opt.step()

    model.train()
    train_step()
    t0 = time.perf_counter()
    for _ in range(steps):
        train_step()
    train = steps * sum(len(x) for x in rows[:train_rows]) / (time.perf_counter() - t0)

    model.eval()
    width = max(P)
    ids = torch.zeros(len(rows), width, dtype=torch.long)
    mask = torch.zeros(len(rows), width, dtype=torch.long)
    for b, (x, p) in enumerate(zip(rows, P)):
        ids[b, width - p:] = x[:p]
        mask[b, width - p:] = 1
    with torch.no_grad(), autocast(precision):
        # Warm-up on the same prompts, as rpp's bench does.
        model.generate(ids, attention_mask=mask, max_new_tokens=2, min_new_tokens=2, do_sample=True, pad_token_id=0)
        t0 = time.perf_counter()
        out = model.generate(ids, attention_mask=mask, max_new_tokens=new, min_new_tokens=new, do_sample=True,
                             temperature=1.0, top_k=0, top_p=1.0, pad_token_id=0)
        decode = len(rows) * new / (time.perf_counter() - t0)
        assert out.shape[1] == width + new, "generate stopped early"
        t0 = time.perf_counter()
        for lo in range(0, len(rows), micro):
            response_logprobs(model, rows[lo:lo + micro], P[lo:lo + micro])
        prefill = sum(len(x) for x in rows) / (time.perf_counter() - t0)
    return train, decode, prefill


def cpu_name():
    """The CPU as rpp's benchmarks name it: model name, then family and model (one generation from the next)."""
    fields = {}
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                key, _, value = line.partition(":")
                fields.setdefault(key.strip(), value.strip())
    except OSError:
        pass
    name = fields.get("model name") or platform.processor() or "unknown"
    if fields.get("cpu family") and fields.get("model"):
        name += f" (family {fields['cpu family']} model {fields['model']})"
    return name


def autocast_is_slow():
    """Why PyTorch's bf16 autocast peer is skipped on this CPU, or None to run it: below AVX-512 (capability AVX2 or
    less) PyTorch has no fast bf16 matmul, and the peer would take hours."""
    capability = torch.backends.cpu.get_cpu_capability()
    if capability.startswith("AVX512"):
        return None
    return (f"PyTorch autocast skipped: CPU capability {capability} has no fast bf16 matmul "
            f"(--autocast always runs it anyway)")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rpp", default=".build/release/rpp")
    ap.add_argument("--shapes", default="tiny,small,base,rollout,smollm2-rl")
    ap.add_argument("--steps", type=int, default=5)
    ap.add_argument("--prompt-length", type=int, default=16)
    ap.add_argument("--rl-steps", type=int, default=1, help="smollm2-rl: timed optimiser steps")
    ap.add_argument("--new-tokens", type=int, default=128, help="smollm2-rl: new tokens per row in decode")
    ap.add_argument("--precision", default="fp32", help="fp32, bf16 or both (comma separated)")
    ap.add_argument("--autocast", choices=["auto", "always"], default="auto",
                    help="auto: skip PyTorch's bf16 autocast peer on a CPU below AVX-512, where it runs matmuls "
                         "six to eight times slower than float32 (AVX2 Zen 3: Tests/Scripts/bench_torch_linear.py)")
    a = ap.parse_args()
    slow = autocast_is_slow() if a.autocast == "auto" else None
    torch.set_num_threads(2)
    names = a.shapes.split(",")
    out = subprocess.run([a.rpp, "bench", "model", "--json", "--shapes", a.shapes, "--steps", str(a.steps),
                          "--prompt-length", str(a.prompt_length), "--rl-steps", str(a.rl_steps),
                          "--new-tokens", str(a.new_tokens), "--precision", a.precision],
                         capture_output=True, text=True, check=True)
    rpp = {(r["shape"], r.get("precision", "fp32")): r for r in map(json.loads, out.stdout.strip().splitlines())}
    precisions = a.precision.split(",")
    small = [n for n in names if n != "smollm2-rl"]
    if small:
        print(f"{'shape':6} {'prec':4} {'rpp train':>10} {'torch train':>11} {'ratio':>6} {'rpp decode':>11} "
              f"{'torch decode':>12} {'ratio':>6}")
    for n in small:
        for p in precisions:
            r = rpp[(n, p)]
            if p == "bf16" and slow:
                print(f"{n:6} {p:4} {r['train_tokens_per_s']:10.0f} {'-':>11} {'-':>6} "
                      f"{r['decode_tokens_per_s']:11.0f} {'-':>12} {'-':>6}  ({slow})")
                continue
            tt, td = bench_torch(n, a.steps, a.prompt_length, p)
            print(f"{n:6} {p:4} {r['train_tokens_per_s']:10.0f} {tt:11.0f} {r['train_tokens_per_s'] / tt:6.2f} "
                  f"{r['decode_tokens_per_s']:11.0f} {td:12.0f} {r['decode_tokens_per_s'] / td:6.2f}")
    for p in precisions if "smollm2-rl" in names else []:
        r = rpp[("smollm2-rl", p)]
        if p == "bf16" and slow:
            print(f"smollm2-rl bf16 on {cpu_name()}: rpp train {r['train_tokens_per_s']:.0f}, decode "
                  f"{r['decode_tokens_per_s']:.0f}, prefill {r['prefill_tokens_per_s']:.0f} tokens/s; {slow}")
            continue
        tt, td, tp = bench_torch_rl(r, p)
        print(f"smollm2-rl {p} (PyTorch: {'autocast bf16' if p == 'bf16' else 'float32'}) on {cpu_name()} (rpp: OpenBLAS core {r['openblas_core']}, {r['cores']} cores; "
              f"PyTorch {torch.__version__}, {torch.get_num_threads()} threads): {len(r['prompt_lengths'])} rows, "
              f"prompts {min(r['prompt_lengths'])}-{max(r['prompt_lengths'])}, responses "
              f"{min(r['response_lengths'])}-{max(r['response_lengths'])}")
        print(f"{'tokens/s':8} {'rpp':>8} {'PyTorch':>8} {'ratio':>6} {'target':>6}")
        for label, mine, theirs, target in [("train", r["train_tokens_per_s"], tt, 1.2),
                                            ("decode", r["decode_tokens_per_s"], td, 3.0),
                                            ("prefill", r["prefill_tokens_per_s"], tp, 1.5)]:
            print(f"{label:8} {mine:8.0f} {theirs:8.0f} {mine / theirs:6.2f} {target:6.1f}")
    if "smollm2-rl" in names and {"fp32", "bf16"} <= set(precisions):
        low, full = rpp[("smollm2-rl", "bf16")], rpp[("smollm2-rl", "fp32")]
        ratios = ", ".join(f"{k} {low[k + '_tokens_per_s'] / full[k + '_tokens_per_s']:.2f}"
                           for k in ("train", "decode", "prefill"))
        print(f"smollm2-rl rpp bf16 / rpp fp32: {ratios} (training targets: 3.0 with AMX, 1.7 with AVX512-BF16 only)")


if __name__ == "__main__":
    main()
