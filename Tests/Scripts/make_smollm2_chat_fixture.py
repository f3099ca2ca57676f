#!/usr/bin/env python3
"""Expected chat-template renderings and token ids of the real SmolLM2-135M-Instruct, for `make test-real`.

# requires: transformers==4.57.1 jinja2==3.1.6 tokenizers==0.22.2  (no torch needed)

Run after `make smollm2`:
    python3 Tests/Scripts/make_smollm2_chat_fixture.py runs/models/smollm2-135m-instruct
It renders a few conversations with transformers' apply_chat_template (with and without the generation
prompt) and tokenizes a few texts with the imported tokenizer.json, and writes
Tests/Fixtures/gguf/smollm2-chat.json.
"""
import json
import os
import sys

from pins import require

require(__file__)

from transformers import AutoTokenizer

CONVERSATIONS = [
    [{"role": "user", "content": "What is 23 + 41? Answer with just the number."}],
    [{"role": "system", "content": "You are terse."}, {"role": "user", "content": "Hi! \U0001F44B \u00c7a va?"}],
    [{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"}, {"role": "user", "content": "c\n\n d"}],
]
TEXTS = [
    "What is 23 + 41?",
    "Hello, world! 12345 and \u00fcn\u00efc\u00f6d\u00e9 \U0001F44B\n\n  spaces",
    "<|im_start|>user\nhi<|im_end|>",
    "def f(x):\n\treturn x ** 2  # 3.14159",
]


def main():
    directory = sys.argv[1]
    tok = AutoTokenizer.from_pretrained(directory)
    requests, rendered = [], []
    for messages in CONVERSATIONS:
        for generation_prompt in (True, False):
            requests.append({"messages": messages, "add_generation_prompt": generation_prompt})
            rendered.append(tok.apply_chat_template(messages, tokenize=False, add_generation_prompt=generation_prompt))
    out = {"requests": requests, "rendered": rendered, "texts": TEXTS,
           "ids": [tok(t)["input_ids"] for t in TEXTS]}
    path = os.path.join(os.path.dirname(__file__), "..", "Fixtures", "gguf", "smollm2-chat.json")
    with open(path, "w") as f:
        json.dump(out, f, ensure_ascii=False, indent=1)
        f.write("\n")
    print("wrote", os.path.normpath(path))


if __name__ == "__main__":
    main()
