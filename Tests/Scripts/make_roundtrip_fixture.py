#!/usr/bin/env python3
# requires: torch==2.13.0 transformers==5.24.0 safetensors==0.8.0
"""Writes Tests/Fixtures/model/llama-companions: a tiny Llama checkpoint as transformers saves it, with the
files a real model directory carries, for the checkpoint round-trip tests.

- config.json written by save_pretrained, with token ids (eos a list), rope_theta, a long context, custom
  fields holding non-ASCII text and numbers JSON parsers often rewrite (10**30, 1e-300, 8.0), dtype bfloat16;
- model.safetensors in BF16 (random weights, tied embeddings, grouped-query attention);
- tokenizer.json (the 600-token SmolLM2-style fixture tokenizer), tokenizer_config.json and
  chat_template.jinja from the tokenizer's save_pretrained, generation_config.json, and a README.md;
- expected.json: transformers' float32 log-probs of a few token rows under those weights.

Run: /work/venv-gguf/bin/python Tests/Scripts/make_roundtrip_fixture.py
"""
import json
import os
import shutil
import tempfile

from pins import require

require(__file__)

import torch
from transformers import GenerationConfig, LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

HERE = os.path.dirname(os.path.abspath(__file__))
FIXTURES = os.path.join(HERE, "..", "Fixtures")
OUT = os.path.join(FIXTURES, "model", "llama-companions")
TEMPLATE = ("{% for message in messages %}<|im_start|>{{ message['role'] }}\n{{ message['content'] }}<|im_end|>\n"
            "{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}")
ROWS = [[1, 17, 250, 42, 599, 3, 77, 2], [1, 500, 501, 502, 9, 9, 9, 300, 12, 2], [0, 600, 601, 602, 5]]


def next_token_logprobs(model, rows):
    out = []
    with torch.no_grad():
        for r in rows:
            logits = model(input_ids=torch.tensor([r])).logits[0].double()
            lp = torch.log_softmax(logits, dim=-1)
            out.append([float(lp[i, r[i + 1]]) for i in range(len(r) - 1)])
    return out


def main():
    torch.manual_seed(7)
    os.makedirs(OUT, exist_ok=True)
    for name in os.listdir(OUT):
        os.remove(os.path.join(OUT, name))
    cfg = LlamaConfig(vocab_size=603, hidden_size=16, intermediate_size=32, num_hidden_layers=2,
                      num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=8192,
                      rms_norm_eps=1e-05, rope_theta=100000.0, tie_word_embeddings=True, bos_token_id=1,
                      eos_token_id=[2, 0], pad_token_id=0, initializer_range=0.041,
                      rpp_fixture_note="caf\u00e9 \u2713 \"quoted\"",
                      rpp_fixture_numbers={"big": 10**30, "tiny": 1e-300, "whole_float": 8.0, "negative": -1,
                                           "list": [0.1, 2, 3e-07]})
    model = LlamaForCausalLM(cfg).eval()
    with torch.no_grad():
        for p in model.parameters():
            p.mul_(8.0)   # beyond the 0.041 init, so the log-probs are not all near log(1/V)
    model = model.to(torch.bfloat16)
    model.save_pretrained(OUT)
    with tempfile.TemporaryDirectory() as tmp:
        tok = PreTrainedTokenizerFast(tokenizer_file=os.path.join(FIXTURES, "tokenizers", "smollm2", "tokenizer.json"),
                                      bos_token="<|im_start|>", eos_token="<|im_end|>", pad_token="<|endoftext|>")
        tok.chat_template = TEMPLATE
        tok.save_pretrained(tmp)
        for name in os.listdir(tmp):
            shutil.copy(os.path.join(tmp, name), OUT)
    GenerationConfig(bos_token_id=1, eos_token_id=[2, 0], pad_token_id=0, do_sample=True, temperature=0.2,
                     top_p=0.9).save_pretrained(OUT)
    with open(os.path.join(OUT, "README.md"), "w") as f:
        f.write("# llama-companions\n\nA tiny random Llama for rpp's checkpoint round-trip tests "
                "(Tests/Scripts/make_roundtrip_fixture.py).\n")
    m32 = LlamaForCausalLM.from_pretrained(OUT, dtype=torch.float32, attn_implementation="eager").eval()
    with open(os.path.join(OUT, "expected.json"), "w") as f:
        json.dump({"tokens": ROWS, "logprobs": next_token_logprobs(m32, ROWS)}, f, indent=1)
    print("wrote", sorted(os.listdir(OUT)))


if __name__ == "__main__":
    main()
