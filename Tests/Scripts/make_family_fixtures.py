#!/usr/bin/env python3
# requires: torch==2.13.0 transformers==5.24.0 safetensors==0.8.0 numpy==2.4.6
"""Fixtures for rpp's model-family tests, written by Hugging Face transformers.

Makes one tiny random checkpoint per family under Tests/Fixtures/model/family-<name>/ (2 layers, hidden
24-32, vocab 64) and, beside it, expected.json with what transformers computes for a left-padded, masked
batch (attention_mask, and position_ids = cumsum(mask) - 1 clamped at 0, as generate does):

  tokens[b][t]   the padded rows (pad id 0 before each row's first real token)
  starts[b]      the number of pad tokens of row b
  logprobs[b]    log p(tokens[b][t+1] | tokens[b][:t+1]) for t = starts[b] .. T-2
  grads[name]    the first values of the gradient of loss = sum of all those log-probs, for every bias and
                 norm weight and for a slice of each projection, the embedding and the head

Families:
  llama-llama3    attention_bias (q, k, v, o), mlp_bias, rope_type llama3, head_dim 12 != 32/4, GQA 4/2
  llama-linear    rope_scaling {"type": "linear"} in the pre-5 config format (checked equal to rope_parameters)
  qwen2-untied    Qwen2 q/k/v bias, tie_word_embeddings absent from config.json (transformers' default: untied)
  qwen3           q_norm/k_norm, attention_bias, head_dim 12 != 32/4
  smollm2         Llama with tied embeddings, 3 heads / 1 KV head (SmolLM2's shape, scaled down)
  mistral-window  Mistral with sliding_window 4 (shorter than the rows)
  llama-sharded   model.safetensors.index.json with several shards
  qwen2-bf16      weights stored as BF16 (expected values: transformers on the BF16 weights upcast to float32)
  llama-f16       weights stored as F16 (likewise)

Run: /work/venv-gguf/bin/python Tests/Scripts/make_family_fixtures.py
"""
import json
import os
import shutil

from pins import require

require(__file__)

import torch
from transformers import (AutoModelForCausalLM, LlamaConfig, LlamaForCausalLM, MistralConfig, MistralForCausalLM,
                          Qwen2Config, Qwen2ForCausalLM, Qwen3Config, Qwen3ForCausalLM)

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Fixtures", "model")
VOCAB = 64
LENGTHS = (12, 7, 3, 10)  # real tokens per row; T = 12
GRAD_SLICE = 48


def randomize(model, gen):
    """Spreads the weights beyond the default init so log-probs and gradients are far from uniform."""
    with torch.no_grad():
        for n, p in model.named_parameters():
            if "norm" in n:
                p.copy_(1 + 0.2 * torch.randn(p.shape, generator=gen))
            else:
                p.normal_(0.0, 0.15, generator=gen)


def batch(gen):
    T = max(LENGTHS)
    tokens, mask = [], []
    for n in LENGTHS:
        real = [int(t) for t in torch.randint(1, VOCAB, (n,), generator=gen)]
        tokens.append([0] * (T - n) + real)
        mask.append([0] * (T - n) + [1] * n)
    return tokens, mask


def run(model, tokens, mask):
    """Log-probs at real positions and the gradient of their sum."""
    ids, am = torch.tensor(tokens), torch.tensor(mask)
    pos = (am.cumsum(-1) - 1).clamp(min=0)
    model.zero_grad()
    logits = model(input_ids=ids, attention_mask=am, position_ids=pos).logits.float()
    lp = torch.log_softmax(logits, dim=-1)
    T = ids.shape[1]
    chosen = lp[:, :-1].gather(-1, ids[:, 1:, None])[..., 0]     # [B, T-1]
    real = am[:, :-1].bool()   # position t is real and so is t+1 (left padding)
    (chosen * real).sum().backward()
    out = [[float(chosen[b, t]) for t in range(T - 1) if real[b, t]] for b in range(len(tokens))]
    return out, chosen.detach()


def check_unpadded(model, tokens, mask, padded):
    """transformers itself gives each row the same numbers without padding (the fixture is self-consistent)."""
    with torch.no_grad():
        for b, row in enumerate(tokens):
            real = [t for t, m in zip(row, mask[b]) if m]
            lp = torch.log_softmax(model(input_ids=torch.tensor([real])).logits[0].float(), -1)
            want = [float(lp[i, real[i + 1]]) for i in range(len(real) - 1)]
            got = padded[b]
            assert len(want) == len(got) and max((abs(x - y) for x, y in zip(want, got)), default=0) < 1e-5, b


def grads(model):
    g = {}
    for n, p in model.named_parameters():
        if p.grad is None:
            continue
        flat = p.grad.detach().float().reshape(-1)
        small = n.endswith(".bias") or "norm" in n
        g[n] = [float(f"{x:.8g}") for x in (flat if small else flat[:GRAD_SLICE]).tolist()]
    return g


def finish(name, model, tokens, mask, note):
    d = os.path.join(ROOT, "family-" + name)
    model.eval()
    lps, _ = run(model, tokens, mask)
    check_unpadded(model, tokens, mask, lps)
    starts = [m.index(1) for m in mask]
    expected = {"note": note, "tokens": tokens, "starts": starts,
                "logprobs": [[float(f"{x:.8g}") for x in r] for r in lps], "grads": grads(model)}
    with open(os.path.join(d, "expected.json"), "w") as f:
        json.dump(expected, f, separators=(",", ":"))
    print(f"wrote {d}: {sorted(os.listdir(d))}")


def save(name, model, **kw):
    d = os.path.join(ROOT, "family-" + name)
    shutil.rmtree(d, ignore_errors=True)
    model.save_pretrained(d, **kw)
    gc = os.path.join(d, "generation_config.json")
    if os.path.exists(gc):
        os.remove(gc)
    return d


def edit_config(d, fn):
    p = os.path.join(d, "config.json")
    cfg = json.load(open(p))
    fn(cfg)
    json.dump(cfg, open(p, "w"), indent=2, sort_keys=True)


def reload(d, dtype=torch.float32):
    return AutoModelForCausalLM.from_pretrained(d, dtype=dtype, attn_implementation="eager").to(torch.float32).eval()


def make(name, model, gen, note, edit=None, save_dtype=None, **save_kw):
    randomize(model, gen)
    model.eval()
    tokens, mask = batch(gen)
    if save_dtype is not None:
        model = model.to(save_dtype)
    d = save(name, model, **save_kw)
    if edit:
        edit_config(d, edit)
    # What rpp will read is what transformers reads back from disk (for BF16/F16: upcast to float32).
    loaded = reload(d)
    if save_dtype is None and edit is None:
        with torch.no_grad():
            ids = torch.tensor(tokens)
            assert torch.allclose(loaded(input_ids=ids).logits, model(input_ids=ids).logits, atol=1e-5)
    finish(name, loaded, tokens, mask, note)
    return d, tokens, mask


def main():
    torch.manual_seed(0)
    gen = torch.Generator().manual_seed(20261129)
    common = dict(vocab_size=VOCAB, num_hidden_layers=2, max_position_embeddings=64, rms_norm_eps=1e-6,
                  pad_token_id=0, bos_token_id=1, eos_token_id=2)

    llama3 = {"rope_type": "llama3", "rope_theta": 10000.0, "factor": 4.0, "low_freq_factor": 1.0,
              "high_freq_factor": 4.0, "original_max_position_embeddings": 32}
    cfg = LlamaConfig(hidden_size=32, intermediate_size=48, num_attention_heads=4, num_key_value_heads=2, head_dim=12,
                      attention_bias=True, mlp_bias=True, rope_parameters=llama3, tie_word_embeddings=False, **common)
    make("llama-llama3", LlamaForCausalLM(cfg), gen,
         "Llama: attention_bias (q, k, v, o), mlp_bias, llama3 rope scaling, head_dim 12 with hidden 32 / 4 heads")

    # Linear scaling, in the config format of transformers < 5 (rope_scaling with "type"). The checkpoint is
    # made with rope_parameters; the rewritten config must load to the same model.
    linear = {"rope_type": "linear", "rope_theta": 500.0, "factor": 2.0}
    cfg = LlamaConfig(hidden_size=32, intermediate_size=40, num_attention_heads=4, num_key_value_heads=1,
                      rope_parameters=linear, tie_word_embeddings=False, **common)
    ref = LlamaForCausalLM(cfg)

    def legacy(c):
        c.pop("rope_parameters", None)
        c["rope_theta"] = 500.0
        c["rope_scaling"] = {"type": "linear", "factor": 2.0}
    d, tokens, _ = make("llama-linear", ref, gen, "Llama: linear rope scaling given as pre-5 rope_scaling", edit=legacy)
    with torch.no_grad():
        ids = torch.tensor(tokens)
        assert torch.allclose(reload(d)(input_ids=ids).logits, ref(input_ids=ids).logits, atol=1e-5), "legacy rope_scaling differs"
        unscaled = LlamaConfig(hidden_size=32, intermediate_size=40, num_attention_heads=4, num_key_value_heads=1,
                               rope_parameters={"rope_type": "default", "rope_theta": 500.0}, **common)
        plain = LlamaForCausalLM(unscaled)
        plain.load_state_dict(ref.state_dict())
        assert not torch.allclose(plain(input_ids=ids).logits, ref(input_ids=ids).logits), "scaling had no effect"

    cfg = Qwen2Config(hidden_size=32, intermediate_size=40, num_attention_heads=4, num_key_value_heads=2,
                      tie_word_embeddings=False, **common)
    make("qwen2-untied", Qwen2ForCausalLM(cfg), gen,
         "Qwen2: q/k/v bias; tie_word_embeddings absent from config.json (transformers' default, untied)",
         edit=lambda c: c.pop("tie_word_embeddings"))

    cfg = Qwen3Config(hidden_size=32, intermediate_size=48, num_attention_heads=4, num_key_value_heads=2, head_dim=12,
                      attention_bias=True, tie_word_embeddings=False, **common)
    make("qwen3", Qwen3ForCausalLM(cfg), gen, "Qwen3: q_norm/k_norm, attention_bias, head_dim 12 with hidden 32 / 4 heads")

    cfg = LlamaConfig(hidden_size=24, intermediate_size=64, num_attention_heads=3, num_key_value_heads=1,
                      tie_word_embeddings=True, rope_parameters={"rope_type": "default", "rope_theta": 100000.0}, **common)
    make("smollm2", LlamaForCausalLM(cfg), gen, "SmolLM2's architecture: Llama, tied embeddings, 3 heads / 1 KV head")

    cfg = MistralConfig(hidden_size=32, intermediate_size=48, num_attention_heads=4, num_key_value_heads=2,
                        sliding_window=4, tie_word_embeddings=False, **common)
    make("mistral-window", MistralForCausalLM(cfg), gen, "Mistral with sliding_window 4, shorter than the rows")

    cfg = LlamaConfig(hidden_size=32, intermediate_size=48, num_attention_heads=4, num_key_value_heads=2,
                      tie_word_embeddings=False, **common)
    d, _, _ = make("llama-sharded", LlamaForCausalLM(cfg), gen, "Llama in several safetensors shards",
                   max_shard_size="40KB")
    assert os.path.exists(os.path.join(d, "model.safetensors.index.json"))
    assert not os.path.exists(os.path.join(d, "model.safetensors"))

    cfg = Qwen2Config(hidden_size=32, intermediate_size=40, num_attention_heads=4, num_key_value_heads=1,
                      tie_word_embeddings=True, **common)
    make("qwen2-bf16", Qwen2ForCausalLM(cfg), gen, "Qwen2, tied, weights stored as BF16", save_dtype=torch.bfloat16)

    cfg = LlamaConfig(hidden_size=32, intermediate_size=48, num_attention_heads=4, num_key_value_heads=2,
                      tie_word_embeddings=False, **common)
    make("llama-f16", LlamaForCausalLM(cfg), gen, "Llama, weights stored as F16", save_dtype=torch.float16)


if __name__ == "__main__":
    main()
