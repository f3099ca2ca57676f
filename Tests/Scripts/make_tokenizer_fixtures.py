#!/usr/bin/env python3
"""Fixtures for rpp's Tokenizers tests, written by Hugging Face tokenizers and transformers.

# requires: tokenizers==0.23.3 transformers==5.24.0

Trains small BPE tokenizers of each family found in the wild with the `tokenizers` package on a corpus
this script generates (multilingual text, emoji, code, numbers, whitespace runs, contractions, special
tokens inline), then writes under Tests/Fixtures/tokenizers/<name>/:

  tokenizer.json, tokenizer_config.json   the tokenizer as transformers loads it
  expected.json                           {"encode": [{"text", "ids", "decoded"}], "decode": [{"ids", "text"}]}

ids are transformers' `tokenizer(text)["input_ids"]`; decoded / text are `tokenizer.decode(ids)`. Texts
include many that are not in the training corpus. The trainer breaks some ties differently from run to run
(end-of-word-suffix and continuing-subword-prefix change); every run's output is a valid fixture.

Setup: python3 -m venv /tmp/venv-tok && /tmp/venv-tok/bin/pip install tokenizers==0.23.3 transformers==5.24.0
Run:   /tmp/venv-tok/bin/python Tests/Scripts/make_tokenizer_fixtures.py
"""
import json
import os
import random
import shutil
import zlib

os.environ["RAYON_NUM_THREADS"] = "1"

from pins import require

require(__file__)

import tokenizers
import transformers
from tokenizers import AddedToken, Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors
from tokenizers import trainers

assert tokenizers.__version__ == "0.23.3", tokenizers.__version__
assert transformers.__version__ == "5.24.0", transformers.__version__

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Fixtures", "tokenizers")

LLAMA3_PATTERN = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*"
                  r"|\s*[\r\n]+|\s+(?!\S)|\s+")
QWEN2_PATTERN = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*"
                 r"|\s*[\r\n]+|\s+(?!\S)|\s+")

WORDS = {
    "en": "the quick brown fox jumps over lazy dog while reading tokenizer documentation about merges".split(),
    "fr": "été déjà où garçon naïve cœur crème brûlée français élève Noël".split(),
    "de": "Straße Größe über schön Mädchen Fußball Übung".split(),
    "ru": "привет мир как дела хорошо спасибо".split(),
    "el": "καλημέρα κόσμε ΟΔΟΣ σοφία".split(),
    "zh": "你好 世界 中文 分词 测试".split(),
    "ja": "こんにちは 世界 カタカナ ひらがな".split(),
    "ko": "안녕하세요 세계 한국어".split(),
    "ar": "مرحبا بالعالم".split(),
    "hi": "नमस्ते दुनिया".split(),
}
EMOJI = ["😀", "🚀", "👍🏽", "👨‍👩‍👧", "❤️", "🇫🇷", "✨"]
CODE = [
    "def f(x):\n    return x * 2\n",
    "for (int i = 0; i < n; ++i) { sum += a[i]; }",
    "let xs = [1, 2, 3].map { $0 + 1 }",
    "if (a && b || !c) {\n\treturn;\n}",
    "SELECT id, name FROM users WHERE age >= 18;",
]
CONTRACTIONS = ["don't", "I'm", "we'll", "they're", "you've", "she'd", "it's", "DON'T", "WE'LL", "He'S"]


def corpus(rng, specials):
    lines = []
    for _ in range(3000):
        kind = rng.random()
        if kind < 0.45:
            lang = rng.choice(list(WORDS))
            words = [rng.choice(WORDS[lang]) for _ in range(rng.randint(3, 12))]
            if rng.random() < 0.3:
                words.insert(rng.randint(0, len(words)), rng.choice(CONTRACTIONS))
            if rng.random() < 0.2:
                words.insert(rng.randint(0, len(words)), rng.choice(EMOJI))
            lines.append(" ".join(words) + rng.choice([".", "!", "?", ",", ""]))
        elif kind < 0.6:
            lines.append(rng.choice(CODE))
        elif kind < 0.75:
            nums = [str(rng.randint(0, 10 ** rng.randint(1, 9))) for _ in range(rng.randint(1, 5))]
            lines.append(" ".join(nums) + f" = {rng.random() * 1000:.3f}")
        elif kind < 0.85:
            ws = rng.choice(["  ", "   ", "\t", "\n", "\n\n", "\r\n", " \t "])
            lines.append(ws.join(rng.choice(WORDS["en"]) for _ in range(5)))
        else:
            s = rng.choice(specials) if specials else ""
            lines.append(f"{rng.choice(WORDS['en'])} {s} {rng.choice(WORDS['en'])}{s}")
    return lines


TEXTS = [
    "Hello world",
    " Hello world",
    "Hello  world   with   spaces",
    "",
    " ",
    "   ",
    "\n",
    "line one\nline two\r\nline three\n\n\nend",
    "\ttabs\tand  \t mixed \n  whitespace  ",
    "trailing spaces   ",
    "I don't think they're coming, we'll see. DON'T! You've She'd IT'S",
    "Numbers: 1234567890 3.14159 1,000,000 42nd 0x1F",
    "été déjà où garçon naïve cœur crème brûlée",
    "Straße über schön ΟΔΟΣ σοφία ΣΊΣΥΦΟΣ",
    "привет мир, как дела?",
    "你好世界，中文分词测试。こんにちは世界！안녕하세요",
    "مرحبا بالعالم नमस्ते दुनिया",
    "Emoji: 😀🚀 👍🏽 👨‍👩‍👧 ❤️ 🇫🇷✨ 🦄🧪",
    "Unseen scripts: สวัสดี שלום ሰላም ᚠᚢᚦ",
    "Combining: e\u0301 a\u0308 n\u0303 vs é ä ñ",
    "Compatibility: ﬁnance Ｆｕｌｌｗｉｄｔｈ ① ² ½ ™ ㎏",
    "def f(x):\n    return x * 2\n\n\nclass A:\n    pass",
    "for (int i = 0; i < n; ++i) { sum += a[i]; } // done",
    "https://example.com/path?query=1&x=y#frag",
    "<|endoftext|>Hello<|endoftext|> world <|endoftext|>",
    "special <s> and </s> and <unk> inline",
    "a" * 300,
    "supercalifragilisticexpialidocious antidisestablishmentarianism",
    "Mixed UPPER lower CamelCase snake_case kebab-case",
    "¡¿Qué?! «quotes» “curly” ‘single’ — dash – en … ellipsis",
    "\u200b\u00a0\u3000\u2028odd spaces\u00a0here",
    "ÅÅÅ ﬀ Ⅻ 𝐁𝐨𝐥𝐝 𝔉𝔯𝔞𝔨",
    "x" + "\u0301" * 5 + " zalgo",
    "tab\tnewline\n\rcarriage",
]


def train(model, trainer_kwargs, pre, normalizer, specials, rng_seed=1, byte_level=True):
    tok = Tokenizer(model)
    if normalizer is not None:
        tok.normalizer = normalizer
    if pre is not None:
        tok.pre_tokenizer = pre
    kwargs = dict(vocab_size=600, min_frequency=2, special_tokens=specials, show_progress=False)
    if byte_level:
        kwargs["initial_alphabet"] = pre_tokenizers.ByteLevel.alphabet()
    kwargs.update(trainer_kwargs)
    trainer = trainers.BpeTrainer(**kwargs)
    tok.train_from_iterator(corpus(random.Random(rng_seed), specials), trainer)
    return tok


def with_byte_tokens(tok, specials):
    """Renumber a trained vocabulary as SentencePiece-style files are: specials, <0x00>..<0xFF>, the rest."""
    data = json.loads(tok.to_str())
    old = data["model"]["vocab"]
    order = sorted(old.items(), key=lambda kv: kv[1])
    vocab = {}
    for s in specials:
        vocab[s] = len(vocab)
    for b in range(256):
        vocab[f"<0x{b:02X}>"] = len(vocab)
    for token, _ in order:
        if token not in vocab:
            vocab[token] = len(vocab)
    data["model"]["vocab"] = vocab
    for t in data["added_tokens"]:
        t["id"] = vocab[t["content"]]
    return Tokenizer.from_str(json.dumps(data))


def write(name, tok, config=None, extra_texts=(), note=""):
    d = os.path.join(OUT, name)
    if os.path.isdir(d):
        shutil.rmtree(d)
    os.makedirs(d)
    tok.save(os.path.join(d, "tokenizer.json"), pretty=False)
    cfg = {"tokenizer_class": "PreTrainedTokenizerFast"}
    cfg.update(config or {})
    with open(os.path.join(d, "tokenizer_config.json"), "w") as f:
        json.dump(cfg, f, indent=2, ensure_ascii=False)
    hf = transformers.AutoTokenizer.from_pretrained(d)
    assert type(hf).__name__ == "TokenizersBackend", type(hf)
    encode = []
    rng = random.Random(zlib.crc32(name.encode()))
    for text in list(TEXTS) + list(extra_texts):
        ids = hf(text)["input_ids"]
        encode.append({"text": text, "ids": ids, "decoded": hf.decode(ids)})
    decode = []
    vocab_size = len(hf)
    for case in encode[:20]:
        ids = case["ids"]
        if len(ids) > 3:
            cut = ids[1:len(ids) // 2 + 1]
            decode.append({"ids": cut, "text": hf.decode(cut)})
    for _ in range(20):
        ids = [rng.randrange(vocab_size) for _ in range(rng.randint(1, 12))]
        decode.append({"ids": ids, "text": hf.decode(ids)})
    with open(os.path.join(d, "expected.json"), "w") as f:
        json.dump({"note": note, "encode": encode, "decode": decode}, f, ensure_ascii=False, separators=(",", ":"))
    print(f"{name}: {len(encode)} texts, {len(decode)} decodes, vocab {vocab_size}")


def byte_level_decoder_pair(tok, add_prefix_space=False):
    tok.decoder = decoders.ByteLevel()
    return tok


def main():
    os.makedirs(OUT, exist_ok=True)

    # GPT-2: ByteLevel with its regex, ByteLevel decoder and post-processor.
    gpt2 = train(models.BPE(), {}, pre_tokenizers.ByteLevel(add_prefix_space=False), None, ["<|endoftext|>"])
    gpt2.decoder = decoders.ByteLevel()
    gpt2.post_processor = processors.ByteLevel(trim_offsets=True)
    write("gpt2", gpt2, {"bos_token": "<|endoftext|>", "eos_token": "<|endoftext|>"},
          note="GPT-2 style byte-level BPE")

    # GPT-2 with add_prefix_space (a space before each piece that lacks one).
    gpt2_prefix = Tokenizer.from_str(gpt2.to_str())
    gpt2_prefix.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=True)
    write("gpt2-prefix-space", gpt2_prefix, note="ByteLevel add_prefix_space true")

    # Llama 3: Split regex + ByteLevel without regex, ignore_merges, BOS from TemplateProcessing.
    l3_specials = ["<|begin_of_text|>", "<|end_of_text|>", "<|eot_id|>"]
    llama3 = train(models.BPE(ignore_merges=True), {},
                   pre_tokenizers.Sequence([
                       pre_tokenizers.Split(Regex(LLAMA3_PATTERN), behavior="isolated", invert=False),
                       pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)]),
                   None, l3_specials)
    llama3.decoder = decoders.ByteLevel()
    llama3.post_processor = processors.Sequence([
        processors.ByteLevel(trim_offsets=False),
        processors.TemplateProcessing(single="<|begin_of_text|> $A", pair="<|begin_of_text|> $A $B",
                                      special_tokens=[("<|begin_of_text|>", llama3.token_to_id("<|begin_of_text|>"))]),
    ])
    write("llama3", llama3, {"bos_token": "<|begin_of_text|>", "eos_token": "<|eot_id|>"},
          extra_texts=["<|begin_of_text|>Hi<|eot_id|>", "IT'S WE'LL"], note="Llama 3 style")

    # Qwen2: NFC, Split regex with single digits, ByteLevel, im_start/im_end added tokens.
    q_specials = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
    qwen2 = train(models.BPE(), {},
                  pre_tokenizers.Sequence([
                      pre_tokenizers.Split(Regex(QWEN2_PATTERN), behavior="isolated", invert=False),
                      pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)]),
                  normalizers.NFC(), q_specials)
    qwen2.decoder = decoders.ByteLevel()
    qwen2.post_processor = processors.ByteLevel(trim_offsets=False)
    write("qwen2", qwen2, {"eos_token": "<|im_end|>", "pad_token": "<|endoftext|>"},
          extra_texts=["<|im_start|>user\nHi there<|im_end|>\n<|im_start|>assistant\n"], note="Qwen2 style")

    # SmolLM2: Digits(individual) then ByteLevel with its regex.
    smol = train(models.BPE(), {},
                 pre_tokenizers.Sequence([pre_tokenizers.Digits(individual_digits=True),
                                          pre_tokenizers.ByteLevel(add_prefix_space=False)]),
                 None, ["<|endoftext|>", "<|im_start|>", "<|im_end|>"])
    smol.decoder = decoders.ByteLevel()
    smol.post_processor = processors.ByteLevel(trim_offsets=False)
    write("smollm2", smol, {"bos_token": "<|im_start|>", "eos_token": "<|im_end|>"}, note="SmolLM2 style")

    # Llama 2 / TinyLlama: Prepend + Replace normalizer, no pre-tokenizer, byte fallback.
    sp_specials = ["<unk>", "<s>", "</s>"]
    sp_norm = normalizers.Sequence([normalizers.Prepend("▁"), normalizers.Replace(" ", "▁")])
    llama2 = train(models.BPE(unk_token="<unk>", fuse_unk=True, byte_fallback=True),
                   {"limit_alphabet": 120}, None, sp_norm, sp_specials, byte_level=False)
    llama2 = with_byte_tokens(llama2, sp_specials)
    llama2.decoder = decoders.Sequence([decoders.Replace("▁", " "), decoders.ByteFallback(), decoders.Fuse(),
                                        decoders.Strip(" ", 1, 0)])
    llama2.post_processor = processors.TemplateProcessing(single="<s> $A", pair="<s> $A <s> $B",
                                                          special_tokens=[("<s>", 1)])
    write("llama2", llama2, {"bos_token": "<s>", "eos_token": "</s>", "unk_token": "<unk>"},
          note="Llama 2 style SentencePiece BPE with byte fallback")

    # The same with add_bos_token / add_eos_token in tokenizer_config.json (transformers 5 drops them when a
    # tokenizer.json is present: its post-processor decides) and special tokens written as objects.
    write("llama2-bos-eos", Tokenizer.from_str(llama2.to_str()), {
        "bos_token": {"__type": "AddedToken", "content": "<s>", "lstrip": False, "rstrip": False, "normalized": False, "single_word": False},
        "eos_token": {"__type": "AddedToken", "content": "</s>", "lstrip": False, "rstrip": False, "normalized": False, "single_word": False},
        "unk_token": "<unk>", "add_bos_token": True, "add_eos_token": True},
          note="add_bos_token and add_eos_token are ignored beside a tokenizer.json")

    # Mistral / newer Llama: Metaspace(prepend_scheme first, split false), byte fallback.
    mistral = Tokenizer.from_str(llama2.to_str())
    mistral.normalizer = None
    mistral.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="first", split=False)
    mistral.decoder = decoders.Sequence([decoders.Replace("▁", " "), decoders.ByteFallback(), decoders.Fuse(),
                                         decoders.Strip(" ", 1, 0)])
    write("mistral", mistral, {"bos_token": "<s>", "eos_token": "</s>", "unk_token": "<unk>"},
          extra_texts=["<s>Hello</s> world", "</s> leading special"], note="Metaspace prepend_scheme first")

    # Metaspace split on, prepend always, Metaspace decoder; unknown characters fused into <unk>.
    meta = Tokenizer.from_str(llama2.to_str())
    data = json.loads(meta.to_str())
    data["model"]["byte_fallback"] = False
    meta = Tokenizer.from_str(json.dumps(data))
    meta.normalizer = None
    meta.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always", split=True)
    meta.decoder = decoders.Metaspace(replacement="▁", prepend_scheme="always", split=True)
    meta.post_processor = None
    write("metaspace-unk", meta, {"unk_token": "<unk>"}, note="Metaspace always + split, unk without byte fallback")

    meta_never = Tokenizer.from_str(meta.to_str())
    data = json.loads(meta_never.to_str())
    data["model"]["fuse_unk"] = False
    meta_never = Tokenizer.from_str(json.dumps(data))
    meta_never.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="never", split=True)
    meta_never.decoder = decoders.Metaspace(replacement="▁", prepend_scheme="never", split=True)
    write("metaspace-never", meta_never, {"unk_token": "<unk>"}, note="Metaspace never, unk not fused")

    # Split in each behaviour and with invert, Digits, Whitespace, Punctuation (over the GPT-2 vocabulary).
    def variant(name, pre, note, normalizer=None):
        t = Tokenizer.from_str(gpt2.to_str())
        t.pre_tokenizer = pre
        t.normalizer = normalizer
        write(name, t, note=note)

    bl = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)
    variant("split-removed", pre_tokenizers.Sequence([pre_tokenizers.Split(Regex(r"\s+"), "removed"), bl]),
            "Split regex Removed")
    variant("split-isolated-invert",
            pre_tokenizers.Sequence([pre_tokenizers.Split(Regex(r"\p{L}+"), "isolated", invert=True), bl]),
            "Split regex Isolated inverted")
    variant("split-merged-previous",
            pre_tokenizers.Sequence([pre_tokenizers.Split(" ", "merged_with_previous"), bl]),
            "Split string MergedWithPrevious")
    variant("split-merged-next",
            pre_tokenizers.Sequence([pre_tokenizers.Split(Regex(r"[.,!?\s]"), "merged_with_next"), bl]),
            "Split regex MergedWithNext")
    variant("split-contiguous",
            pre_tokenizers.Sequence([pre_tokenizers.Split(Regex(r"\p{P}|\d"), "contiguous", invert=False), bl]),
            "Split regex Contiguous")
    variant("digits-punctuation-whitespace",
            pre_tokenizers.Sequence([pre_tokenizers.Whitespace(), pre_tokenizers.Punctuation("isolated"),
                                     pre_tokenizers.Digits(individual_digits=False), bl]),
            "Whitespace, Punctuation, Digits contiguous")
    variant("whitespace-split-punct-next",
            pre_tokenizers.Sequence([pre_tokenizers.WhitespaceSplit(), pre_tokenizers.Punctuation("merged_with_next"),
                                     pre_tokenizers.Digits(individual_digits=True),
                                     pre_tokenizers.ByteLevel(add_prefix_space=True, use_regex=False)]),
            "WhitespaceSplit, Punctuation MergedWithNext, Digits individual, ByteLevel prefix space")
    variant("normalizers", pre_tokenizers.ByteLevel(add_prefix_space=False),
            "NFKC, Lowercase, Strip, Replace (string and regex), Prepend",
            normalizers.Sequence([normalizers.NFKC(), normalizers.Lowercase(), normalizers.Strip(),
                                  normalizers.Replace(Regex(r"\s+"), " "), normalizers.Replace("é", "e"),
                                  normalizers.Prepend("@")]))
    variant("nfd-strip-left", pre_tokenizers.ByteLevel(add_prefix_space=True),
            "NFD, Strip left only", normalizers.Sequence([normalizers.NFD(), normalizers.Strip(True, False)]))
    variant("nfkd", pre_tokenizers.ByteLevel(add_prefix_space=False), "NFKD", normalizers.NFKD())

    variant("strip-accents-bytelevel-normalizer", pre_tokenizers.Split(Regex(r"\s+"), "merged_with_next"),
            "StripAccents then ByteLevel normalizer, Split MergedWithNext on the byte-level text",
            normalizers.Sequence([normalizers.NFD(), normalizers.StripAccents(), normalizers.ByteLevel()]))

    # Post-processors: TemplateProcessing with two specials, Roberta, Bert.
    post = Tokenizer.from_str(gpt2.to_str())
    post.add_special_tokens(["[CLS]", "[SEP]"])
    post.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP] [SEP]", pair="[CLS] $A [SEP] $B:1 [SEP]:1",
        special_tokens=[("[CLS]", post.token_to_id("[CLS]")), ("[SEP]", post.token_to_id("[SEP]"))])
    write("template-two-specials", post, note="TemplateProcessing [CLS] $A [SEP] [SEP]")
    roberta = Tokenizer.from_str(post.to_str())
    roberta.post_processor = processors.RobertaProcessing(("[SEP]", post.token_to_id("[SEP]")),
                                                          ("[CLS]", post.token_to_id("[CLS]")))
    write("roberta-processing", roberta, note="RobertaProcessing")
    bert = Tokenizer.from_str(post.to_str())
    bert.post_processor = processors.BertProcessing(("[SEP]", post.token_to_id("[SEP]")),
                                                    ("[CLS]", post.token_to_id("[CLS]")))
    write("bert-processing", bert, note="BertProcessing")

    # Added tokens with each flag (and a normalizer so that normalized matching shows).
    added = Tokenizer.from_str(gpt2.to_str())
    added.normalizer = normalizers.Lowercase()
    added.add_tokens([
        AddedToken("[LS]", lstrip=True, special=True, normalized=False),
        AddedToken("[RS]", rstrip=True, special=True, normalized=False),
        AddedToken("[BOTH]", lstrip=True, rstrip=True, special=False, normalized=False),
        AddedToken("cat", single_word=True, normalized=False),
        AddedToken("DoG", normalized=True),
        AddedToken("Raw", normalized=False),
        AddedToken("hello world", normalized=True),
        AddedToken("the", single_word=True, normalized=True),
        AddedToken(" quick", normalized=False),
    ])
    added.add_special_tokens([AddedToken("<|tool|>", special=True)])
    write("added-tokens", added, {"eos_token": "<|endoftext|>", "pad_token": "<pad>"},
          extra_texts=["x [LS] y [RS] z [BOTH] w", "  [LS]  [RS]  ", "cat concat cat_ cat. (cat) cats",
                       "DOG dog Dog hotdog", "Raw raw RAW", "Hello World hello world HELLO  WORLD",
                       "the other bathe the.", "the quick quick  quick", "<pad> and <|tool|>", "[LS][RS][BOTH]",
                       "<|endoftext|>cat<|endoftext|>"],
          note="added tokens: lstrip, rstrip, single_word, normalized, special; pad added by the config")

    # end_of_word_suffix with BPEDecoder; continuing_subword_prefix without decoder.
    suffix = train(models.BPE(end_of_word_suffix="</w>", unk_token="<unk>"), {"end_of_word_suffix": "</w>"},
                   pre_tokenizers.Whitespace(), None, ["<unk>"], byte_level=False)
    suffix.decoder = decoders.BPEDecoder(suffix="</w>")
    write("end-of-word-suffix", suffix, note="end_of_word_suffix, BPEDecoder, Whitespace pre-tokenizer")
    prefix = train(models.BPE(continuing_subword_prefix="##", unk_token="<unk>"), {"continuing_subword_prefix": "##"},
                   pre_tokenizers.WhitespaceSplit(), None, ["<unk>"], byte_level=False)
    write("continuing-subword-prefix", prefix, note="continuing_subword_prefix, no decoder (tokens joined by spaces)")


if __name__ == "__main__":
    main()
