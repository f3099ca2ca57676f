#!/usr/bin/env python3
# requires: torch==2.13.0 transformers==5.24.0 safetensors==0.8.0 numpy==2.4.6
"""Fixtures for rpp's sequence-classification reward models, written by Hugging Face transformers.

Creates tiny random LlamaForSequenceClassification checkpoints under Tests/Fixtures/model/:

  classifier-llama:         num_labels 1, pad_token_id 0, with the tokenizer of llama-companions whose
                            post-processor is changed to put <|im_start|> (id 1) before every text, so
                            `tokenizer(text)` adds a special token as Llama 3's does. expected.json holds:
                              texts:   (prompt, response) pairs, the ids of tokenizer(prompt + response),
                                       and the model's pooled logits for them;
                              truncated: one long text, tokenised with truncation_side="left" and
                                       max_length = max_position_embeddings, and its logits;
                              padded:  a batch of token rows padded left and right (tokenizer padding) with
                                       their attention masks, and the logits transformers pools for each row.
  classifier-llama-2labels: num_labels 2 (id2label), no tokenizer; expected.json holds token rows and both
                            logits of each.
  classifier-qwen2-nopad:   Qwen2ForSequenceClassification (q/k/v biases, tied embeddings), num_labels 1 and
                            no pad_token_id, so every row is scored at its last token; no tokenizer.

Weights are stored as BF16 (small files); the expected numbers come from the saved checkpoint reloaded in
float32, so they are what an engine reading those BF16 values as float32 must compute.

Run: /work/venv-gguf/bin/python Tests/Scripts/make_classifier_fixture.py
"""
import json
import os
import shutil

from pins import require

require(__file__)

import torch
from transformers import (AutoTokenizer, LlamaConfig, LlamaForSequenceClassification, Qwen2Config,
                          Qwen2ForSequenceClassification)

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Fixtures", "model")
COMPANIONS = os.path.join(ROOT, "llama-companions")

PAIRS = [
    ["What is 2+3?", " 5"],
    ["<|im_start|>user\nName a colour.<|im_end|>\n<|im_start|>assistant\n", "Blue, like the sky.<|im_end|>"],
    ["Say hello", " hello world hello world hello"],
    ["caf\u00e9 \u2713 ", "ok"],
    # Ends with the pad token: transformers pools at the rightmost token that is not the pad id.
    ["Stop here", " done<|endoftext|>"],
    ["", "x"],
]
LONG = ["Repeat after me: " + " ".join(f"word{i}" for i in range(40)), " and that is all 123456."]


def config(num_labels, max_positions):
    return LlamaConfig(
        vocab_size=603, hidden_size=16, intermediate_size=32, num_hidden_layers=2, num_attention_heads=4,
        num_key_value_heads=2, max_position_embeddings=max_positions, rms_norm_eps=1e-5,
        rope_parameters={"rope_type": "default", "rope_theta": 10000.0}, tie_word_embeddings=False,
        pad_token_id=0, bos_token_id=1, eos_token_id=2, num_labels=num_labels,
    )


def randomize(model, gen):
    # Larger than the 0.02 init so the pooled logits are of order one and differ between texts.
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "norm" in name:
                p.copy_(1 + 0.1 * torch.randn(p.shape, generator=gen))
            elif name == "score.weight":
                p.copy_(0.5 * torch.randn(p.shape, generator=gen))
            else:
                p.copy_(0.2 * torch.randn(p.shape, generator=gen))


def save(model, directory, cls=LlamaForSequenceClassification):
    if os.path.isdir(directory):
        shutil.rmtree(directory)
    model.to(torch.bfloat16).save_pretrained(directory, safe_serialization=True)
    for extra in ("generation_config.json",):
        path = os.path.join(directory, extra)
        if os.path.exists(path):
            os.remove(path)
    reloaded = cls.from_pretrained(directory, dtype=torch.float32)
    reloaded.eval()
    return reloaded


def pooled(model, ids, mask=None):
    with torch.no_grad():
        out = model(input_ids=torch.tensor(ids), attention_mask=None if mask is None else torch.tensor(mask))
    return [[float(v) for v in row] for row in out.logits.double()]


def copy_tokenizer(directory):
    with open(os.path.join(COMPANIONS, "tokenizer.json")) as f:
        tok = json.load(f)
    tok["post_processor"] = {
        "type": "Sequence",
        "processors": [
            {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": False, "use_regex": True},
            {
                "type": "TemplateProcessing",
                "single": [{"SpecialToken": {"id": "<|im_start|>", "type_id": 0}},
                           {"Sequence": {"id": "A", "type_id": 0}}],
                "pair": [{"SpecialToken": {"id": "<|im_start|>", "type_id": 0}},
                         {"Sequence": {"id": "A", "type_id": 0}},
                         {"SpecialToken": {"id": "<|im_start|>", "type_id": 1}},
                         {"Sequence": {"id": "B", "type_id": 1}}],
                "special_tokens": {"<|im_start|>": {"id": "<|im_start|>", "ids": [1], "tokens": ["<|im_start|>"]}},
            },
        ],
    }
    with open(os.path.join(directory, "tokenizer.json"), "w") as f:
        json.dump(tok, f, ensure_ascii=False)
    shutil.copy(os.path.join(COMPANIONS, "tokenizer_config.json"), directory)


def make_single(gen):
    directory = os.path.join(ROOT, "classifier-llama")
    model = LlamaForSequenceClassification(config(1, 48))
    randomize(model, gen)
    model = save(model, directory)
    copy_tokenizer(directory)
    tok = AutoTokenizer.from_pretrained(directory)

    texts = []
    for prompt, response in PAIRS:
        ids = tok(prompt + response)["input_ids"]
        texts.append({"prompt": prompt, "response": response, "ids": ids, "logits": pooled(model, [ids])[0]})

    limit = model.config.max_position_embeddings
    full = tok(LONG[0] + LONG[1])["input_ids"]
    # The call's truncation_side argument is not honoured by transformers 5.24; the attribute is.
    tok.truncation_side = "left"
    cut = tok(LONG[0] + LONG[1], truncation=True, max_length=limit)["input_ids"]
    tok.truncation_side = "right"
    assert len(full) > limit and len(cut) == limit, (len(full), len(cut))
    truncated = {"prompt": LONG[0], "response": LONG[1], "max_length": limit, "untruncated_length": len(full),
                 "ids": cut, "logits": pooled(model, [cut])[0]}

    batch = [p + r for p, r in PAIRS[:4]]
    padded = []
    for side in ("left", "right"):
        enc = tok(batch, padding=True, padding_side=side)
        padded.append({"side": side, "input_ids": enc["input_ids"], "attention_mask": enc["attention_mask"],
                       "logits": pooled(model, enc["input_ids"], enc["attention_mask"])})

    with open(os.path.join(directory, "expected.json"), "w") as f:
        json.dump({"pad_token_id": model.config.pad_token_id, "texts": texts, "truncated": truncated,
                   "padded": padded}, f, indent=1, ensure_ascii=False)
    print(f"wrote {directory}")


def make_two_labels(gen):
    directory = os.path.join(ROOT, "classifier-llama-2labels")
    model = LlamaForSequenceClassification(config(2, 32))
    model.config.id2label = {0: "bad", 1: "good"}
    model.config.label2id = {"bad": 0, "good": 1}
    randomize(model, gen)
    model = save(model, directory)
    rows = [[1, 17, 300, 5, 42], [1, 99], [7]]
    logits = [pooled(model, [r])[0] for r in rows]
    with open(os.path.join(directory, "expected.json"), "w") as f:
        json.dump({"rows": rows, "logits": logits}, f, indent=1)
    print(f"wrote {directory}")


def make_qwen2_no_pad(gen):
    directory = os.path.join(ROOT, "classifier-qwen2-nopad")
    cfg = Qwen2Config(
        vocab_size=96, hidden_size=16, intermediate_size=32, num_hidden_layers=2, num_attention_heads=4,
        num_key_value_heads=1, max_position_embeddings=32, rms_norm_eps=1e-6,
        rope_parameters={"rope_type": "default", "rope_theta": 10000.0}, tie_word_embeddings=True,
        use_sliding_window=False, pad_token_id=None, bos_token_id=None, eos_token_id=None, num_labels=1,
    )
    model = Qwen2ForSequenceClassification(cfg)
    randomize(model, gen)
    model = save(model, directory, Qwen2ForSequenceClassification)
    assert model.config.pad_token_id is None
    rows = [[3, 17, 0, 5, 0], [0, 0], [95]]
    logits = [pooled(model, [r])[0] for r in rows]
    with open(os.path.join(directory, "expected.json"), "w") as f:
        json.dump({"rows": rows, "logits": logits}, f, indent=1)
    print(f"wrote {directory}")


def main():
    gen = torch.Generator().manual_seed(20261129)
    torch.manual_seed(0)
    make_single(gen)
    make_two_labels(gen)
    make_qwen2_no_pad(gen)


if __name__ == "__main__":
    main()
