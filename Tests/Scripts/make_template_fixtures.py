#!/usr/bin/env python3
# requires: transformers==4.57.1 jinja2==3.1.6 tokenizers==0.22.2  (no torch needed)
"""Chat template fixtures for rpp's ChatTemplate tests, rendered by transformers' apply_chat_template.

For each template in Tests/Scripts/templates/ (written in the style of public model families: ChatML with
tools, Llama 3 with tools and dates, Llama 2, Mistral, Gemma, Phi-3, SmolLM2, DeepSeek, Zephyr, content
blocks, and synthetic templates exercising each Jinja feature), and for a few loading layouts (named
templates in the config, chat_template.jinja beside it, additional_chat_templates/, special tokens as
objects and in special_tokens_map.json), this writes a model directory under Tests/Fixtures/templates/<name>/:
tokenizer_config.json (and the template files), and cases.json: each request (the JSONL line `rpp template`
reads) with the text apply_chat_template(..., tokenize=False) returned, or the error it raised.

transformers needs a tokenizer.json to load a directory: the script trains none, it writes a tiny word-level
tokenizer into a temporary copy (not committed). strftime_now reads a clock fixed at 2024-07-26 12:00 local
time (recorded as "now" in cases.json).

Setup: python3 -m venv /work/venv-jinja && /work/venv-jinja/bin/pip install transformers==4.57.1 jinja2==3.1.6
Run:   /work/venv-jinja/bin/python Tests/Scripts/make_template_fixtures.py
"""
import copy
import datetime as dt
import json
import os
import shutil
import tempfile

from pins import require

require(__file__)

import transformers
import transformers.utils.chat_template_utils as ctu
from tokenizers import Tokenizer, models, pre_tokenizers
from transformers import AutoTokenizer

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCES = os.path.join(HERE, "templates")
OUT = os.path.join(HERE, "..", "Fixtures", "templates")
NOW = dt.datetime(2024, 7, 26, 12, 0, 0)


class FixedClock(dt.datetime):
    @classmethod
    def now(cls, tz=None):
        return NOW


ctu.datetime = FixedClock


def src(name):
    with open(os.path.join(SOURCES, name + ".jinja"), encoding="utf-8") as f:
        return f.read()


TOOLS = [
    {"type": "function", "function": {
        "name": "get_weather", "description": "Current weather — in °C or °F.",
        "parameters": {"type": "object", "properties": {
            "city": {"type": "string", "description": "City name, e.g. \"Paris\""},
            "days": {"type": "integer", "minimum": 1},
            "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]}},
            "required": ["city"]}}},
    {"type": "function", "function": {"name": "now", "description": "The time.", "parameters": {}}},
]

CONVERSATIONS = {
    "basic": [{"role": "user", "content": "Hello!"}],
    "system": [
        {"role": "system", "content": "You are terse."},
        {"role": "user", "content": "What is 2+2?"},
        {"role": "assistant", "content": "4"},
        {"role": "user", "content": "And 3+3?"}],
    "multi": [
        {"role": "user", "content": "Hi"},
        {"role": "assistant", "content": "Hello! How can I help?"},
        {"role": "user", "content": "Tell me a joke."}],
    "unicode": [
        {"role": "user", "content": "Ça va? 你好 👋🏽 — «quotes» \"dq\" 'sq' \\ back\nnew line\ttab"},
        {"role": "assistant", "content": "  Très bien ✓  \n\n"},
        {"role": "user", "content": "emoji 🤖🧠 zwj 👨‍👩‍👧 and <|im_end|> inline"}],
    "tool_calls": [
        {"role": "system", "content": "Use tools when useful."},
        {"role": "user", "content": "Weather in Paris for 3 days?"},
        {"role": "assistant", "content": None, "tool_calls": [{"type": "function", "function": {
            "name": "get_weather",
            "arguments": {"city": "Paris", "days": 3, "precise": 1.5, "flags": [True, None], "note": "ünï"}}}]},
        {"role": "tool", "name": "get_weather", "content": "{\"temp\": 21, \"sky\": \"clear\"}"},
        {"role": "assistant", "content": "It is 21°C and clear in Paris."}],
    "alternation": [{"role": "user", "content": "a"}, {"role": "user", "content": "b"}],
    "empty": [],
    "blocks": [
        {"role": "user", "content": [{"type": "text", "text": "  Describe this:  "}, {"type": "image"}]},
        {"role": "assistant", "content": [{"type": "text", "text": "A cat."}]},
        {"role": "user", "content": "Thanks"}],
    "errors": [{"role": "user", "content": "please FAIL now"}],
    "undef": [{"role": "user", "content": "UNDEF here"}],
    "typeerr": [{"role": "user", "content": "TYPE here"}],
    "badrole": [{"role": "robot", "content": "beep"}],
}

CHATML = {"bos_token": None, "eos_token": "<|im_end|>", "pad_token": "<|endoftext|>", "unk_token": None}
LLAMA3 = {"bos_token": "<|begin_of_text|>", "eos_token": "<|eot_id|>"}
SPM = {"bos_token": "<s>", "eos_token": "</s>", "unk_token": "<unk>"}

# name: (template, special tokens, [(conversation, extra request keys)])
PLAIN = ["basic", "system", "multi", "unicode"]
TEMPLATES = {
    "chatml_tools": ("chatml_tools", CHATML, [(c, {}) for c in PLAIN + ["tool_calls"]]
                     + [("tool_calls", {"tools": TOOLS}), ("basic", {"tools": TOOLS}), ("system", {"tools": []})]),
    "llama3_tools": ("llama3_tools", LLAMA3, [(c, {"date_string": "01 Jan 2025"}) for c in PLAIN]
                     + [("basic", {}), ("tool_calls", {"tools": TOOLS, "date_string": "02 Feb 2025"}),
                        ("tool_calls", {"tools": TOOLS, "tools_in_user_message": False}),
                        ("system", {"custom_tools": TOOLS[1:]}), ("empty", {"tools": TOOLS})]),
    "llama2": ("llama2", SPM, [(c, {}) for c in PLAIN + ["alternation"]]),
    "mistral": ("mistral", SPM, [(c, {}) for c in PLAIN + ["alternation", "tool_calls"]]),
    "gemma": ("gemma", {"bos_token": "<bos>", "eos_token": "<eos>", "pad_token": "<pad>"},
              [(c, {}) for c in PLAIN + ["alternation", "empty"]]),
    "phi3": ("phi3", {"bos_token": "<s>", "eos_token": "<|endoftext|>"}, [(c, {}) for c in PLAIN]),
    "smollm2": ("smollm2", {"bos_token": "<|im_start|>", "eos_token": "<|im_end|>", "pad_token": "<|im_end|>",
                            "unk_token": "<|endoftext|>"}, [(c, {}) for c in PLAIN + ["empty"]]),
    "deepseek": ("deepseek", {"bos_token": "<｜begin▁of▁sentence｜>", "eos_token": "<｜end▁of▁sentence｜>"},
                 [(c, {}) for c in PLAIN + ["tool_calls"]]
                 + [("multi", {"messages_note": "extra variables are ignored"})]),
    "zephyr": ("zephyr", {"bos_token": "<s>", "eos_token": "</s>"}, [(c, {}) for c in PLAIN]),
    "content_blocks": ("content_blocks", CHATML, [(c, {}) for c in ["basic", "blocks"]]),
    "synth_expressions": ("synth_expressions", SPM, [(c, {}) for c in ["basic", "system"]]),
    "synth_filters": ("synth_filters", SPM, [(c, {}) for c in ["system", "unicode"]]),
    "synth_statements": ("synth_statements", SPM, [(c, {}) for c in ["system", "basic"]]),
    "synth_methods": ("synth_methods", SPM, [(c, {}) for c in ["unicode", "basic"]]),
    "synth_whitespace": ("synth_whitespace", SPM, [(c, {}) for c in ["multi"]]),
    "synth_errors": ("synth_errors", SPM, [(c, {}) for c in ["multi", "empty", "errors", "undef", "typeerr",
                                                               "badrole"]]),
}

TOKEN_PRINTER = ("{{ bos_token }}|{{ eos_token }}|{{ unk_token }}|{{ pad_token }}|{{ sep_token is defined }}|"
                 "{{ additional_special_tokens }}|{{ messages[0].content }}")
CONFIG_NAME = "tokenizer_config.json"


def write_json(path, obj):
    with open(path, "w", encoding="utf-8") as f:
        json.dump(obj, f, ensure_ascii=False, indent=1)
        f.write("\n")


def tiny_tokenizer_json(path):
    vocab = {"[UNK]": 0, "hello": 1, "world": 2}
    tok = Tokenizer(models.WordLevel(vocab=vocab, unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    tok.save(path)


def special_config(tokens):
    cfg = {"tokenizer_class": "PreTrainedTokenizerFast", "model_max_length": 4096}
    for k, v in tokens.items():
        cfg[k] = v
    return cfg


def render_cases(model_dir, requests):
    """Loads model_dir with transformers (plus a throwaway tokenizer.json) and renders each request."""
    with tempfile.TemporaryDirectory() as tmp:
        copy_dir = os.path.join(tmp, "model")
        shutil.copytree(model_dir, copy_dir)
        tiny_tokenizer_json(os.path.join(copy_dir, "tokenizer.json"))
        tok = AutoTokenizer.from_pretrained(copy_dir)
        cases = []
        for req in requests:
            kwargs = copy.deepcopy(req)
            messages = kwargs.pop("messages")
            try:
                text = tok.apply_chat_template(messages, tokenize=False, **kwargs)
                cases.append({"request": req, "text": text})
            except Exception as e:  # noqa: BLE001 - every template error is a fixture
                cases.append({"request": req, "error": str(e), "error_type": type(e).__name__})
        return cases


def requests_for(plan):
    out = []
    for conv, extra in plan:
        for gen in (False, True):
            req = {"messages": CONVERSATIONS[conv], "add_generation_prompt": gen}
            req.update(extra)
            out.append(req)
    return out


def write_dir(name, files, requests):
    d = os.path.join(OUT, name)
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
    for rel, content in files.items():
        p = os.path.join(d, rel)
        os.makedirs(os.path.dirname(p), exist_ok=True)
        if isinstance(content, str):
            with open(p, "w", encoding="utf-8") as f:
                f.write(content)
        else:
            write_json(p, content)
    cases = render_cases(d, requests)
    with open(os.path.join(d, "cases.json"), "w", encoding="utf-8") as f:
        f.write('{"now": "%s", "cases": [\n' % NOW.isoformat())
        f.write(",\n".join(json.dumps(c, ensure_ascii=False) for c in cases))
        f.write("\n]}\n")
    errors = sum(1 for c in cases if "error" in c)
    print(f"{name}: {len(cases)} cases ({errors} errors)")


def main():
    print(f"transformers {transformers.__version__}")
    for name, (template, tokens, plan) in TEMPLATES.items():
        cfg = special_config({k: v for k, v in tokens.items() if v is not None})
        cfg["chat_template"] = src(template)
        write_dir(name, {CONFIG_NAME: cfg}, requests_for(plan))

    # Loading layouts.
    cfg = special_config(SPM)
    cfg["chat_template"] = [{"name": "default", "template": src("smollm2")},
                            {"name": "tool_use", "template": src("chatml_tools")}]
    write_dir("load_named", {CONFIG_NAME: cfg},
              requests_for([("basic", {}), ("basic", {"tools": TOOLS}), ("tool_calls", {"tools": TOOLS})]))

    cfg = special_config(SPM)
    cfg["chat_template"] = "config template loses {{ messages }}"
    write_dir("load_jinja_file", {CONFIG_NAME: cfg, "chat_template.jinja": src("zephyr")},
              requests_for([("system", {})]))

    cfg = special_config(SPM)
    write_dir("load_additional", {CONFIG_NAME: cfg, "chat_template.jinja": src("phi3"),
                                  "additional_chat_templates/tool_use.jinja": src("chatml_tools")},
              requests_for([("multi", {}), ("multi", {"tools": TOOLS})]))

    cfg = special_config({})
    cfg["bos_token"] = {"__type": "AddedToken", "content": "<s>", "lstrip": False, "normalized": False,
                        "rstrip": False, "single_word": False}
    cfg["eos_token"] = {"__type": "AddedToken", "content": "</s>", "lstrip": False, "normalized": False,
                        "rstrip": False, "single_word": False}
    cfg["unk_token"] = None
    cfg["additional_special_tokens"] = ["<extra_0>", "<extra_1>"]
    cfg["chat_template"] = TOKEN_PRINTER
    write_dir("load_token_objects", {CONFIG_NAME: cfg, "special_tokens_map.json": {
        "pad_token": {"content": "<pad>", "lstrip": False, "normalized": False, "rstrip": False,
                      "single_word": False}, "eos_token": "</wrong>"}},
              requests_for([("basic", {}), ("basic", {"bos_token": "overridden"})]))


if __name__ == "__main__":
    main()
