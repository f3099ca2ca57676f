#!/usr/bin/env python3
# requires: torch==2.13.0 transformers==5.24.0 safetensors==0.8.0
"""One whole REINFORCE++ learner iteration in PyTorch, as a fixture for rpp's learner update.

Written from shared/reference/algorithms.md, independently of rpp's Swift code: the tiny transformers
Llama of Tests/Fixtures/model/llama-gqa is the policy; a fixed batch of 2 prompts x 4 samples with given
rewards, behaviour log-probs (the policy's own, computed here) and reference log-probs (the policy's plus
noise) goes through
  k1 KL in the reward (beta 0.01, clamp +-10) -> token rewards -> returns (gamma 1) -> advantages normalised
  over every token of the batch (population variance) and clamped to +-10 -> two mini-batches of 4 samples,
  each one PPO-clip step (eps 0.2, token mean over the mini-batch), gradient-norm clip 1.0, AdamW
  (lr 3e-4, betas 0.9/0.95, eps 1e-8, no weight decay).
It writes Tests/Fixtures/update/reinforce/: batch.json (the batch, the settings, the advantages, the loss and
gradient norm of each step) and after.safetensors (the policy's weights after the iteration).

Setup: python3 -m venv .venv && .venv/bin/pip install torch==2.13.0 transformers==5.24.0 safetensors==0.8.0
Run:   .venv/bin/python Tests/Scripts/make_update_fixture.py
"""
import json
import os

from pins import require

require(__file__)

import torch
from safetensors.torch import save_file
from transformers import LlamaForCausalLM

HERE = os.path.dirname(os.path.abspath(__file__))
MODEL = os.path.join(HERE, "..", "Fixtures", "model", "llama-gqa")
OUT = os.path.join(HERE, "..", "Fixtures", "update", "reinforce")

BETA, EPS_CLIP, LR, BETAS, ADAM_EPS, CLIP_NORM = 0.01, 0.2, 3e-4, (0.9, 0.95), 1e-8, 1.0
N, TRAIN_BATCH = 4, 4


def response_logprobs(model, prompts, responses):
    """log p(response[t] | prompt + response[:t]) for every sample (list of 1-D tensors, with gradient)."""
    out = []
    for p, r in zip(prompts, responses):
        ids = torch.tensor([p + r])
        logits = model(input_ids=ids).logits[0].float()
        lp = torch.log_softmax(logits, dim=-1)
        positions = torch.arange(len(p) - 1, len(p) + len(r) - 1)
        out.append(lp[positions, torch.tensor(r)])
    return out


def main():
    torch.manual_seed(0)
    model = LlamaForCausalLM.from_pretrained(MODEL, torch_dtype=torch.float32)
    model.eval()  # no dropout; gradients still flow
    g = torch.Generator().manual_seed(7)
    prompts, responses = [], []
    for q in range(2):
        prompt = [0] * 3 + torch.randint(2, 40, (5,), generator=g).tolist()   # left-padded with PAD 0, width 8
        for s in range(N):
            length = int(torch.randint(1, 6, (1,), generator=g))
            prompts.append(prompt)
            responses.append(torch.randint(2, 40, (length,), generator=g).tolist())
    rewards = [1.0, 0.0, 0.0, 1.0, 1.0, 1.0, 0.0, 12.0]   # 12 is clipped to 10
    B, T = len(responses), max(len(r) for r in responses)
    mask = torch.zeros(B, T, dtype=torch.float64)
    for b, r in enumerate(responses):
        mask[b, : len(r)] = 1
    with torch.no_grad():
        old = response_logprobs(model, prompts, responses)
    behaviour = [x.double() for x in old]
    # float32 values, as they travel on the wire
    ref = [(x + 0.3 * torch.randn(x.shape, generator=g, dtype=torch.float64)).float().double() for x in behaviour]

    # Advantages (float64), algorithms.md: k1 = logp - logp_ref clamped, token rewards, returns, normalisation.
    kl = torch.zeros(B, T, dtype=torch.float64)
    for b in range(B):
        kl[b, : len(responses[b])] = torch.clamp(behaviour[b] - ref[b], -10, 10)
    token_rewards = -BETA * kl * mask
    for b in range(B):
        token_rewards[b, len(responses[b]) - 1] += min(max(rewards[b], -10.0), 10.0)
    returns = torch.zeros(B, T, dtype=torch.float64)
    running = torch.zeros(B, dtype=torch.float64)
    for t in reversed(range(T)):
        running = mask[:, t] * token_rewards[:, t] + running
        returns[:, t] = running
    mean = (returns * mask).sum() / mask.sum()
    var = (((returns - mean) ** 2) * mask).sum() / mask.sum()
    adv = torch.clamp((returns - mean) / torch.sqrt(torch.clamp(var, min=1e-8)), -10, 10) * mask

    opt = torch.optim.AdamW(model.parameters(), lr=LR, betas=BETAS, eps=ADAM_EPS, weight_decay=0.0)
    steps = []
    for start in range(0, B, TRAIN_BATCH):
        rows = list(range(start, start + TRAIN_BATCH))
        opt.zero_grad()
        new = response_logprobs(model, [prompts[b] for b in rows], [responses[b] for b in rows])
        total, tokens, clipped = 0.0, 0.0, 0.0
        for k, b in enumerate(rows):
            a = adv[b, : len(responses[b])].float()
            ratio = torch.exp(torch.clamp(new[k] - old[b], -20, 20))
            s1, s2 = ratio * a, torch.clamp(ratio, 1 - EPS_CLIP, 1 + EPS_CLIP) * a
            total = total + (-torch.min(s1, s2)).sum()
            tokens += len(responses[b])
            clipped += float((s2 < s1).sum())
        loss = total / tokens
        loss.backward()
        norm = torch.nn.utils.clip_grad_norm_(model.parameters(), CLIP_NORM)
        opt.step()
        steps.append({"loss": float(loss), "grad_norm": float(norm), "clip_fraction": clipped / tokens})

    os.makedirs(OUT, exist_ok=True)
    save_file({k: v.detach().contiguous() for k, v in model.state_dict().items()},
              os.path.join(OUT, "after.safetensors"))
    fixture = {
        "description": "one REINFORCE++ iteration of llama-gqa in PyTorch (Tests/Scripts/make_update_fixture.py)",
        "settings": {"kl_coef": BETA, "eps_clip": EPS_CLIP, "lr": LR, "betas": list(BETAS), "adam_eps": ADAM_EPS,
                     "grad_clip": CLIP_NORM, "samples_per_prompt": N, "train_batch": TRAIN_BATCH},
        "prompts": prompts, "responses": responses, "rewards": rewards,
        "behaviour_logprobs": [x.tolist() for x in behaviour], "ref_logprobs": [x.tolist() for x in ref],
        "advantages": [adv[b, : len(responses[b])].tolist() for b in range(B)],
        "steps": steps,
    }
    with open(os.path.join(OUT, "batch.json"), "w") as f:
        json.dump(fixture, f, indent=1)
    print("wrote", OUT, json.dumps(steps))


if __name__ == "__main__":
    main()
