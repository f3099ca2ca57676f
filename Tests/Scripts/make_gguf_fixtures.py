# Writes the GGUF import fixtures under Tests/Fixtures/gguf with the `gguf` package, and what transformers
# makes of them (its own GGUF loading, float32):
#   tiny-TYPE.gguf / tiny-TYPE.json  a random tiny llama model (2 layers, hidden 32, FFN 32, 4 heads, 2 KV heads) whose
#       matrices are stored as TYPE (F32, F16, BF16, Q8_0, Q4_0, Q4_1; norms stay F32 as llama.cpp keeps them),
#       q and k rows permuted as llama.cpp's converter does; F32 has an untied output head, the others are tied.
#       The json holds transformers' log-probs of two token sequences, its layer-0 q/k weights (un-permuted)
#       and the sum of every tensor.
#   tiny-qwen2-F32.gguf / .json      the same for qwen2 (q/k/v biases, no permutation).
#   blocks.gguf / blocks.json        one [2, 256] tensor per type, random bytes (finite scales), and the values
#       the gguf package's dequantiser gives (Q4_K and Q6_K included).
#   tokenizer.json (in tiny.json's "tokenizer" entry)  the byte-level BPE the tiny files carry, trained here.
# requires: gguf==0.17.1 numpy==2.4.6 tokenizers==0.23.3 torch==2.13.0 transformers==5.24.0 accelerate==1.15.0
# usage: python Tests/Scripts/make_gguf_fixtures.py
import json
import os
import tempfile

from pins import require

require(__file__)

import numpy as np
import torch
from gguf import GGMLQuantizationType as Q
from gguf import GGUFWriter, quants
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import AutoModelForCausalLM, AutoTokenizer

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Fixtures", "gguf")
C, F, L, H, KV, CTX = 32, 32, 2, 4, 2, 64
SPECIALS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
TEMPLATE = ("{% for message in messages %}{{'<|im_start|>' + message['role'] + '\n' + message['content'] + "
            "'<|im_end|>' + '\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}")
CORPUS = ["the cat sat on the mat", "a dog ran 12 miles in 2024", "hello world, hello there!",
          "numbers like 3141 and 2718 split into digits", "what is 7 + 5? it is 12."] * 20
TEXTS = ["hello world 123", "<|im_start|>user\nthe cat sat<|im_end|>\n"]


def train_tokenizer():
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.Sequence([pre_tokenizers.Digits(individual_digits=True),
                                                 pre_tokenizers.ByteLevel(add_prefix_space=False)])
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=272, special_tokens=SPECIALS,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    tok.train_from_iterator(CORPUS, trainer)
    return tok


def permute(w, heads):
    """llama.cpp's converter: rows of each head reordered from half-split to interleaved rotary pairs."""
    return w.reshape(heads, 2, w.shape[0] // heads // 2, *w.shape[1:]).swapaxes(1, 2).reshape(w.shape)


def store(writer, name, w, qtype):
    if w.ndim == 1 or qtype == Q.F32:
        writer.add_tensor(name, w.astype(np.float32))
    elif qtype == Q.F16:
        writer.add_tensor(name, w.astype(np.float16))
    else:
        writer.add_tensor(name, quants.quantize(w.astype(np.float32), qtype), raw_dtype=qtype)


def metadata(writer, tok, arch, vocab):
    writer.add_block_count(L)
    writer.add_context_length(CTX)
    writer.add_embedding_length(C)
    writer.add_feed_forward_length(F)
    writer.add_head_count(H)
    writer.add_head_count_kv(KV)
    writer.add_rope_freq_base(10000.0)
    writer.add_layer_norm_rms_eps(1e-5)
    writer.add_rope_dimension_count(C // H)
    writer.add_vocab_size(vocab)
    order = sorted(tok.get_vocab().items(), key=lambda kv: kv[1])
    writer.add_tokenizer_model("gpt2")
    writer.add_tokenizer_pre("smollm")
    writer.add_token_list([t for t, _ in order])
    writer.add_token_types([3 if t in SPECIALS else 1 for t, _ in order])
    model = json.loads(tok.to_str())["model"]
    writer.add_token_merges([" ".join(m) if isinstance(m, list) else m for m in model["merges"]])
    writer.add_bos_token_id(1)
    writer.add_eos_token_id(2)
    writer.add_pad_token_id(2)
    writer.add_unk_token_id(0)
    writer.add_add_bos_token(False)
    writer.add_chat_template(TEMPLATE)


def tiny_model(path, qtype, tok, rng, arch="llama", tied=True):
    vocab = tok.get_vocab_size()
    D = C // H
    w = {"token_embd.weight": rng.normal(0, 0.5, (vocab, C)), "output_norm.weight": 1 + rng.normal(0, 0.1, C)}
    if not tied:
        w["output.weight"] = rng.normal(0, 0.2, (vocab, C))
    for l in range(L):
        p = f"blk.{l}."
        q, k = rng.normal(0, 0.3, (H * D, C)), rng.normal(0, 0.3, (KV * D, C))
        w[p + "attn_norm.weight"] = 1 + rng.normal(0, 0.1, C)
        w[p + "attn_q.weight"] = permute(q, H) if arch == "llama" else q
        w[p + "attn_k.weight"] = permute(k, KV) if arch == "llama" else k
        w[p + "attn_v.weight"] = rng.normal(0, 0.3, (KV * D, C))
        w[p + "attn_output.weight"] = rng.normal(0, 0.3, (C, H * D))
        if arch == "qwen2":
            w[p + "attn_q.bias"] = rng.normal(0, 0.2, H * D)
            w[p + "attn_k.bias"] = rng.normal(0, 0.2, KV * D)
            w[p + "attn_v.bias"] = rng.normal(0, 0.2, KV * D)
        w[p + "ffn_norm.weight"] = 1 + rng.normal(0, 0.1, C)
        w[p + "ffn_gate.weight"] = rng.normal(0, 0.3, (F, C))
        w[p + "ffn_up.weight"] = rng.normal(0, 0.3, (F, C))
        w[p + "ffn_down.weight"] = rng.normal(0, 0.3, (C, F))
    writer = GGUFWriter(path, arch)
    metadata(writer, tok, arch, vocab)
    for name, value in w.items():
        store(writer, name, value, qtype)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()


def short(values):
    """Float32 values written with the 9 significant digits that identify them exactly."""
    return [float(f"{v:.9g}") for v in values]


def reference(path, rng, vocab):
    folder, name = os.path.dirname(path), os.path.basename(path)
    model = AutoModelForCausalLM.from_pretrained(folder, gguf_file=name, dtype=torch.float32).eval()
    rows = [rng.integers(0, vocab, 12).tolist(), rng.integers(0, vocab, 7).tolist()]
    logprobs = []
    with torch.no_grad():
        for r in rows:
            lp = torch.log_softmax(model(torch.tensor([r])).logits[0].double(), dim=-1)
            logprobs.append([lp[i, r[i + 1]].item() for i in range(len(r) - 1)])
    sd = model.state_dict()
    return {
        "tokens": rows, "logprobs": logprobs,
        "tie_word_embeddings": bool(model.config.tie_word_embeddings),
        "q_proj": short(sd["model.layers.0.self_attn.q_proj.weight"].flatten().tolist()),
        "k_proj": short(sd["model.layers.0.self_attn.k_proj.weight"].flatten().tolist()),
        "sums": {k: v.double().sum().item() for k, v in sd.items() if not (k == "lm_head.weight" and
                                                                          model.config.tie_word_embeddings)},
    }


def blocks_file(rng):
    """One [2, 256] tensor per type from random bytes whose f16 scale fields hold finite values."""
    path = os.path.join(OUT, "blocks.gguf")
    writer = GGUFWriter(path, "llama")
    expected = {}
    # Byte offsets of the f16 scales in each block layout.
    scale_fields = {Q.Q8_0: [0], Q.Q4_0: [0], Q.Q4_1: [0, 2], Q.Q4_K: [0, 2], Q.Q6_K: [208]}
    for qtype in [Q.F32, Q.F16, Q.BF16, Q.Q8_0, Q.Q4_0, Q.Q4_1, Q.Q4_K, Q.Q6_K]:
        name = f"t.{qtype.name}"
        if qtype in scale_fields:
            block, size = quants.GGML_QUANT_SIZES[qtype]
            raw = rng.integers(0, 256, (2, 256 // block, size), dtype=np.uint8)
            for off in scale_fields[qtype]:
                raw[:, :, off:off + 2] = rng.uniform(-0.1, 0.1, (2, 256 // block, 1)).astype(np.float16).view(np.uint8)
            raw = raw.reshape(2, -1)
            writer.add_tensor(name, raw, raw_dtype=qtype)
            expected[name] = short(quants.dequantize(raw, qtype).flatten().tolist())
        else:
            values = rng.normal(0, 1, (2, 256)).astype(np.float32)
            if qtype == Q.F32:
                data = values
            elif qtype == Q.F16:
                data = values.astype(np.float16)
            else:
                data = quants.quantize(values, qtype)
            writer.add_tensor(name, data, raw_dtype=qtype if qtype == Q.BF16 else None)
            expected[name] = short(quants.dequantize(data, qtype).flatten().tolist())
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    with open(os.path.join(OUT, "blocks.json"), "w") as f:
        json.dump(expected, f)


def main():
    os.makedirs(OUT, exist_ok=True)
    rng = np.random.default_rng(2026)
    tok = train_tokenizer()
    vocab = tok.get_vocab_size()
    types = [("F32", Q.F32), ("F16", Q.F16), ("BF16", Q.BF16), ("Q8_0", Q.Q8_0), ("Q4_0", Q.Q4_0), ("Q4_1", Q.Q4_1)]
    variants = [(n, t, "llama") for n, t in types] + [("qwen2-F32", Q.F32, "qwen2")]
    for name, qtype, arch in variants:
        path = os.path.join(OUT, f"tiny-{name}.gguf")
        tiny_model(path, qtype, tok, rng, arch=arch, tied=(name != "F32"))
        ref = reference(path, rng, vocab)
        with open(os.path.join(OUT, f"tiny-{name}.json"), "w") as f:
            json.dump(ref, f)
        print(f"{path}: {os.path.getsize(path)} bytes, tied {ref['tie_word_embeddings']}")
    # The tokenizer the tiny files carry, and the ids transformers' GGUF tokenizer gives for a few texts.
    hf = AutoTokenizer.from_pretrained(OUT, gguf_file="tiny-F32.gguf")
    ids = [hf(t)["input_ids"] for t in TEXTS]
    assert ids == [tok.encode(t).ids for t in TEXTS], "transformers and the trained tokenizer disagree"
    trained = json.loads(tok.to_str())
    with open(os.path.join(OUT, "tiny-tokenizer.json"), "w") as f:
        json.dump({"texts": TEXTS, "ids": ids, "vocab": trained["model"]["vocab"],
                   "merges": [" ".join(m) if isinstance(m, list) else m for m in trained["model"]["merges"]],
                   "specials": SPECIALS, "chat_template": TEMPLATE}, f, indent=0)
    blocks_file(rng)


if __name__ == "__main__":
    main()
