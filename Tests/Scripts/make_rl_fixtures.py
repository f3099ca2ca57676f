#!/usr/bin/env python3
# requires: numpy==2.4.6
"""Writes the RL core's JSON test fixtures to Tests/Fixtures/rlcore/.

An independent numpy implementation of /work/shared/reference/algorithms.md (vectorised over the batch where
the Swift code loops per row), used to produce expected numbers for the Swift tests. CI never runs this; run it
by hand after changing the specification:  python3 Tests/Scripts/make_rl_fixtures.py

Outputs
  kl.json, advantages.json, policy_loss.json, value_loss.json   cases for RLCoreTests
  worked-case-*.json + worked-case-*.expected.json              `rpp inspect advantages` inputs and outputs
"""
import json
import os

from pins import require

require(__file__)

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
OUT = os.path.join(ROOT, "Tests", "Fixtures", "rlcore")
GROUP = {"reinforce_baseline", "rloo", "group_norm", "dr_grpo"}
NORMALISED = {"reinforce", "reinforce_baseline", "gae"}


# ---------------------------------------------------------------- the specification in numpy
def kl_tokens(logp, ref, mask, est):
    d = np.asarray(logp, float) - np.asarray(ref, float)
    if est == "k1":
        k = d
    elif est == "k2":
        k = d * d / 2.0
    else:
        k = np.exp(-d) - 1.0 + d
    return np.where(np.asarray(mask) > 0, np.clip(k, -10.0, 10.0), 0.0)


def kl_grad(logp, ref, est):
    d = np.asarray(logp, float) - np.asarray(ref, float)
    if est == "k1":
        k, g = d, np.ones_like(d)
    elif est == "k2":
        k, g = d * d / 2.0, d
    else:
        k, g = np.exp(-d) - 1.0 + d, 1.0 - np.exp(-d)
    return np.where((k >= -10.0) & (k <= 10.0), g, 0.0)


def shaped_rewards(r, est, n, clip=(-10.0, 10.0), static=None):
    r = np.asarray(r, float)
    if est in GROUP:
        g = r.reshape(-1, n)
        mean = g.mean(axis=1, keepdims=True)
        if est in ("reinforce_baseline", "dr_grpo"):
            g = g - mean
        elif est == "rloo":
            g = g - (g.sum(axis=1, keepdims=True) - g) / (n - 1)
        else:
            g = (g - mean) / (g.std(axis=1, ddof=1, keepdims=True) + 1e-9)
        r = g.reshape(-1)
    r = np.clip(r, clip[0], clip[1])
    if static is not None:
        r = (r - static[0]) / static[1]
    return r


def advantages(case):
    est = case["estimator"]
    mask = np.asarray(case["mask"], float)
    b, t = mask.shape
    beta = case["kl_coef"] if case.get("kl_placement", "reward") == "reward" else 0.0
    if case.get("ref_logprobs") is None:
        kl = np.zeros((b, t))
    else:
        kl = kl_tokens(case["logprobs"], case["ref_logprobs"], mask, case["kl_estimator"])
    r = shaped_rewards(case["rewards"], est, case["n"], tuple(case.get("reward_clip", (-10, 10))),
                       case.get("reward_normalization"))
    tok = -beta * kl
    valid_rows = mask.sum(axis=1) > 0
    last = t - 1 - np.argmax(mask[:, ::-1] > 0, axis=1)
    rows = np.arange(b)[valid_rows]
    tok[rows, last[valid_rows]] += r[valid_rows]
    gamma = case["gamma"]
    returns = np.zeros((b, t))
    adv = np.zeros((b, t))
    if est == "gae":
        lam = case["lambda"]
        v = np.where(mask > 0, np.asarray(case["values"], float), 0.0)
        v_next = np.concatenate([v[:, 1:], np.zeros((b, 1))], axis=1)
        delta = tok + gamma * v_next - v
        running = np.zeros(b)
        for j in range(t - 1, -1, -1):
            running = delta[:, j] + gamma * lam * running
            adv[:, j] = running
        returns = adv + v
    else:
        running = np.zeros(b)
        for j in range(t - 1, -1, -1):
            running = mask[:, j] * tok[:, j] + gamma * running
            returns[:, j] = running
        adv = returns.copy()
    mode = case.get("normalize", "mean_std")
    if est in NORMALISED and mode != "none" and mask.sum() > 0:
        sel = adv[mask > 0]
        mean = sel.mean()
        adv = adv - mean
        if mode == "mean_std":
            adv = adv / np.sqrt(max(((sel - mean) ** 2).mean(), 1e-8))
    c = case.get("advantage_clip", 10.0)
    adv = np.clip(adv, -c, c)
    return {"shaped_rewards": r, "kl": kl, "token_rewards": tok, "returns": returns, "advantages": adv}


def agg_weights(mask, mode, token_count=None, seq_count=None):
    mask = np.asarray(mask, float) > 0
    if mode == "token_mean":
        n = mask.sum() if token_count is None else token_count
        return np.where(mask, 1.0 / n if n > 0 else 0.0, 0.0)
    s = mask.shape[0] if seq_count is None else seq_count
    lens = mask.sum(axis=1, keepdims=True)
    return np.where(mask & (lens > 0), 1.0 / (s * np.maximum(lens, 1)), 0.0)


def policy_loss(c):
    mask = np.asarray(c["mask"], float) > 0
    new, old, a = (np.asarray(c[k], float) for k in ("logprobs", "old_logprobs", "advantages"))
    lo, hi = 1 - c["eps_low"], 1 + c["eps_high"]
    lr = new - old
    ratio = np.exp(np.clip(lr, -20, 20))
    dratio = np.where(np.abs(lr) <= 20, ratio, 0.0)
    s1 = ratio * a
    s2 = np.clip(ratio, lo, hi) * a
    clipped = s2 < s1
    obj = np.minimum(s1, s2)
    dobj = np.where(clipped, 0.0, a * dratio)
    dual = np.zeros_like(mask)
    if c.get("dual_clip") is not None:
        dual = (a < 0) & (c["dual_clip"] * a > obj)
        obj = np.where(dual, c["dual_clip"] * a, obj)
        dobj = np.where(dual, 0.0, dobj)
    w = np.ones_like(a)
    corr = c.get("off_policy", "none")
    if corr != "none":
        raw = np.exp(old - np.asarray(c["behaviour_logprobs"], float))
        olo, ohi = c.get("off_policy_range", (0.5, 5.0))
        w = np.clip(raw, olo, ohi) if corr == "tis" else raw * ((raw >= olo) & (raw <= ohi))
    tok_loss, tok_grad = -w * obj, -w * dobj
    wt = agg_weights(c["mask"], c.get("aggregation", "token_mean"))
    pol = float((wt * np.where(mask, tok_loss, 0)).sum())
    grad = wt * np.where(mask, tok_grad, 0)
    kl_part = 0.0
    if c.get("kl_placement") == "loss":
        k = kl_tokens(new, c["ref_logprobs"], c["mask"], c["kl_estimator"])
        kl_part = float((wt * k).sum())
        grad = grad + c["kl_coef"] * wt * np.where(mask, kl_grad(new, c["ref_logprobs"], c["kl_estimator"]), 0)
    ent_part = 0.0
    grad_ent = None
    if c.get("entropy") is not None:
        e = np.asarray(c["entropy"], float)
        ent_part = float((wt * np.where(mask, e, 0)).sum())
        grad_ent = -c.get("entropy_coef", 0.0) * wt
    total = pol + c.get("kl_coef", 0.0) * kl_part - c.get("entropy_coef", 0.0) * ent_part
    n = mask.sum()
    return {"loss": total, "policy_loss": pol, "kl_loss": kl_part, "entropy": ent_part,
            "grad_logprobs": grad, "grad_entropy": grad_ent,
            "token_loss": np.where(mask, tok_loss, 0.0),
            "clip_fraction": float(clipped[mask].sum() / n), "dual_clip_fraction": float(dual[mask].sum() / n),
            "approx_kl": float(((ratio - 1) - np.clip(lr, -20, 20))[mask].mean())}


def value_loss(c):
    mask = np.asarray(c["mask"], float) > 0
    v, vo, r = (np.asarray(c[k], float) for k in ("values", "old_values", "returns"))
    plain = (v - r) ** 2
    dplain = 2 * (v - r)
    if c.get("value_clip") is not None:
        cl = c["value_clip"]
        vc = vo + np.clip(v - vo, -cl, cl)
        clipped_term = (vc - r) ** 2
        use = clipped_term > plain
        term = np.where(use, clipped_term, plain)
        dterm = np.where(use, np.where(np.abs(v - vo) <= cl, 2 * (vc - r), 0.0), dplain)
    else:
        term, dterm, use = plain, dplain, np.zeros_like(mask)
    wt = agg_weights(c["mask"], c.get("aggregation", "token_mean"))
    return {"loss": float(0.5 * (wt * np.where(mask, term, 0)).sum()), "grad_values": 0.5 * wt * np.where(mask, dterm, 0),
            "clip_fraction": float(use[mask].sum() / mask.sum())}


# ---------------------------------------------------------------- checks of this implementation against the spec
def check_worked_cases():
    close = np.testing.assert_allclose
    lp, ref = [-1, -2, -0.5, 3], [-1.2, -1.5, -0.5, -12]
    close(kl_tokens(lp, ref, [1] * 4, "k1"), [0.2, -0.5, 0, 10], atol=1e-12)
    close(kl_tokens(lp, ref, [1] * 4, "k2"), [0.02, 0.125, 0, 10], atol=1e-12)
    case = worked_case_2()
    out = advantages(case)
    close(out["token_rewards"], [[-0.002, 0.005, 0.999, 0], [0, -0.003, -0.003, 9.997]], atol=1e-12)
    close(out["returns"], [[1.002, 1.004, 0.999, 0], [9.991, 9.991, 9.994, 9.997]], atol=1e-12)
    r = [1, 0, 0, 1, 1, 1, 1, 0]
    close(shaped_rewards(r, "rloo", 4), [2 / 3, -2 / 3, -2 / 3, 2 / 3, 1 / 3, 1 / 3, 1 / 3, -1], atol=1e-12)
    close(shaped_rewards(r, "reinforce_baseline", 4), [.5, -.5, -.5, .5, .25, .25, .25, -.75], atol=1e-12)
    close(shaped_rewards(r, "group_norm", 4), [.866025, -.866025, -.866025, .866025, .5, .5, .5, -1.5], atol=1e-6)
    pl = policy_loss(worked_case_5())
    close(pl["token_loss"][0, :3], [-1.28, 1.0, 1.6], atol=1e-12)
    close(pl["loss"], 0.44, atol=1e-12)
    close(pl["clip_fraction"], 2 / 3, atol=1e-12)


def worked_case_2():
    # kl = [[0.2,-0.5,0.1,0],[0,0.3,0.3,0.3]] through k1 with logp = ref + kl; position (0,3) and (1,0) are padding.
    ref = [[-1.0, -1.0, -1.0, -1.0], [-1.0, -1.0, -1.0, -1.0]]
    kl = [[0.2, -0.5, 0.1, 0.0], [0.0, 0.3, 0.3, 0.3]]
    logp = (np.asarray(ref) + np.asarray(kl)).tolist()
    return {"estimator": "reinforce", "n": 1, "gamma": 1.0, "lambda": 1.0, "kl_coef": 0.01, "kl_estimator": "k1",
            "rewards": [1.0, 15.0], "mask": [[1, 1, 1, 0], [0, 1, 1, 1]], "logprobs": logp, "ref_logprobs": ref}


def worked_case_5():
    return {"logprobs": [[-.5, -1, -2, -.1]], "old_logprobs": [[-1, -1, -1, -.1]], "advantages": [[1, -1, -2, .5]],
            "mask": [[1, 1, 1, 0]], "eps_low": 0.2, "eps_high": 0.28}


# ---------------------------------------------------------------- fixture generation
def tolist(x):
    return None if x is None else np.asarray(x, float).tolist()


def random_mask(rng, b, t):
    mask = np.zeros((b, t))
    for i in range(b):
        kind = rng.integers(0, 4)
        length = int(rng.integers(1, t + 1))
        if kind == 0:      # right padding
            mask[i, :length] = 1
        elif kind == 1:    # left padding
            mask[i, t - length:] = 1
        elif kind == 2:    # holes
            mask[i] = rng.random(t) < 0.7
            mask[i, rng.integers(0, t)] = 1
        else:
            mask[i] = 1
    if b > 3:
        mask[b - 2] = 0    # one empty response
    return mask


def advantage_cases(rng):
    cases = []
    settings = [
        ("reinforce", "k1", "mean_std", 1.0, 1.0), ("reinforce", "k3", "mean", 0.9, 1.0),
        ("reinforce", "k2", "none", 1.0, 1.0), ("reinforce_baseline", "k1", "mean_std", 1.0, 1.0),
        ("reinforce_baseline", "k3", "mean", 1.0, 1.0), ("rloo", "k1", "mean_std", 1.0, 1.0),
        ("rloo", "k2", "mean_std", 1.0, 1.0), ("group_norm", "k1", "mean_std", 1.0, 1.0),
        ("group_norm", "k3", "none", 1.0, 1.0), ("dr_grpo", "k1", "mean_std", 1.0, 1.0),
        ("gae", "k1", "mean_std", 1.0, 0.95), ("gae", "k3", "mean", 0.99, 0.9), ("gae", "k2", "none", 0.8, 1.0),
    ]
    for i, (est, kle, norm, gamma, lam) in enumerate(settings):
        n = 1 if est in ("reinforce", "gae") and i % 2 == 0 else 4
        b, t = 8, 6
        mask = random_mask(rng, b, t)
        logp = -rng.random((b, t)) * 3
        ref = logp + rng.normal(0, 0.5, (b, t))
        ref[0, 0] = logp[0, 0] - 14.0          # a clamped KL
        rewards = rng.normal(0, 3, b)
        rewards[1] = 13.0                      # clipped by the reward clip (for ungrouped estimators)
        rewards[2] = rewards[3] if n > 1 else rewards[2]
        case = {"name": f"{est}-{kle}-{norm}-{i}", "estimator": est, "n": n, "gamma": gamma, "lambda": lam,
                "kl_coef": [0.01, 0.1, 0.05][i % 3], "kl_estimator": kle, "normalize": norm,
                "rewards": rewards.tolist(), "mask": mask.tolist(), "logprobs": logp.tolist(),
                "ref_logprobs": ref.tolist(), "reward_clip": [-10.0, 10.0], "advantage_clip": 10.0}
        if i == 4:
            case["reward_clip"] = [-0.5, 0.8]
        if i == 7:
            case["reward_normalization"] = [0.3, 2.0]
        if i == 2:
            case["kl_placement"] = "loss"
        if i == 5:
            case["advantage_clip"] = 0.7
        if est == "gae":
            case["values"] = rng.normal(0, 1, (b, t)).tolist()
        out = advantages(case)
        case["expected"] = {k: tolist(v) for k, v in out.items()}
        cases.append(case)
    return cases


def kl_cases(rng):
    logp = np.concatenate([-rng.random(10) * 4, [3.0, -15.0, 0.0, 2.5]])
    ref = np.concatenate([-rng.random(10) * 4, [-12.0, 0.0, 0.0, -2.5]])
    mask = np.ones(14)
    mask[3] = 0
    return [{"estimator": e, "logprobs": logp.tolist(), "ref_logprobs": ref.tolist(), "mask": mask.tolist(),
             "expected": kl_tokens(logp, ref, mask, e).tolist()} for e in ("k1", "k2", "k3")]


def policy_cases(rng):
    cases = []
    settings = [
        {}, {"eps_high": 0.28}, {"dual_clip": 3.0}, {"aggregation": "seq_mean"},
        {"off_policy": "tis"}, {"off_policy": "icepop"}, {"kl_placement": "loss", "kl_estimator": "k3", "kl_coef": 0.1},
        {"kl_placement": "loss", "kl_estimator": "k2", "kl_coef": 0.05, "entropy_coef": 0.01},
        {"dual_clip": 2.0, "off_policy": "tis", "off_policy_range": [0.8, 1.5], "aggregation": "seq_mean",
         "entropy_coef": 0.02, "eps_low": 0.1, "eps_high": 0.3},
    ]
    for i, extra in enumerate(settings):
        b, t = 5, 7
        mask = random_mask(rng, b, t)
        old = -rng.random((b, t)) * 3
        new = old + rng.normal(0, 0.4, (b, t))
        adv = rng.normal(0, 1.5, (b, t))
        c = {"name": f"policy-{i}", "eps_low": 0.2, "eps_high": 0.2, "mask": mask.tolist(), "logprobs": new.tolist(),
             "old_logprobs": old.tolist(), "advantages": adv.tolist()}
        c.update(extra)
        if c.get("off_policy"):
            c["behaviour_logprobs"] = (old + rng.normal(0, 0.8, (b, t))).tolist()
        if c.get("kl_placement") == "loss":
            c["ref_logprobs"] = (new + rng.normal(0, 0.6, (b, t))).tolist()
        if c.get("entropy_coef") is not None or i == 1:
            c["entropy"] = (rng.random((b, t)) * 2).tolist()
        out = policy_loss(c)
        c["expected"] = {k: (tolist(v) if isinstance(v, np.ndarray) or v is None else v) for k, v in out.items()}
        cases.append(c)
    return cases


def value_cases(rng):
    cases = []
    for i, extra in enumerate([{"value_clip": 0.5}, {"value_clip": None}, {"value_clip": 0.2, "aggregation": "seq_mean"}]):
        b, t = 4, 6
        mask = random_mask(rng, b, t)
        old = rng.normal(0, 1, (b, t))
        c = {"name": f"value-{i}", "mask": mask.tolist(), "values": (old + rng.normal(0, 0.6, (b, t))).tolist(),
             "old_values": old.tolist(), "returns": rng.normal(0, 1.5, (b, t)).tolist()}
        c.update(extra)
        out = value_loss(c)
        c["expected"] = {k: tolist(v) if isinstance(v, np.ndarray) else v for k, v in out.items()}
        cases.append(c)
    return cases


def cli_input(case, name):
    mask = np.asarray(case["mask"], float)
    samples = []
    for i in range(mask.shape[0]):
        s = {"reward": float(case["rewards"][i]), "mask": [int(x) for x in mask[i]],
             "logprobs": list(map(float, case["logprobs"][i])), "ref_logprobs": list(map(float, case["ref_logprobs"][i]))}
        if "values" in case:
            s["values"] = list(map(float, case["values"][i]))
        samples.append(s)
    # the settings as run-config sections (the keys of Deploy/rpp.yaml), as `rpp inspect advantages` reads them
    doc = {"algorithm": {"estimator": case["estimator"], "samples_per_prompt": case["n"], "gamma": case["gamma"],
                         "lambda": case["lambda"], "reward_clip": [-10, 10]},
           "kl": {"coef": case["kl_coef"], "estimator": case["kl_estimator"]},
           "samples": samples}
    out = advantages(case)
    expected = {"samples": [{k: out[k][i].tolist() for k in ("kl", "token_rewards", "returns", "advantages")}
                            for i in range(mask.shape[0])]}
    write(f"{name}.json", doc)
    write(f"{name}.expected.json", expected)


def cli_cases():
    c1 = {"estimator": "reinforce", "n": 1, "gamma": 1.0, "lambda": 1.0, "kl_coef": 0.01, "rewards": [1.0],
          "mask": [[1, 1, 1, 1]], "logprobs": [[-1, -2, -0.5, 3]], "ref_logprobs": [[-1.2, -1.5, -0.5, -12]]}
    for est in ("k1", "k2"):
        cli_input(dict(c1, kl_estimator=est), f"worked-case-1-{est}")
    cli_input(worked_case_2(), "worked-case-2-3")
    r = [1, 0, 0, 1, 1, 1, 1, 0]
    c4 = {"n": 4, "gamma": 1.0, "lambda": 1.0, "kl_coef": 0.0, "kl_estimator": "k1", "rewards": r,
          "mask": [[1]] * 8, "logprobs": [[-1.0]] * 8, "ref_logprobs": [[-1.5]] * 8}
    for est in ("rloo", "reinforce_baseline", "group_norm"):
        cli_input(dict(c4, estimator=est), f"worked-case-4-{est}")
    gae = {"estimator": "gae", "n": 1, "gamma": 1.0, "lambda": 0.95, "kl_coef": 0.01, "kl_estimator": "k1",
           "rewards": [1.0, 0.0], "mask": [[1, 1, 1, 0], [1, 1, 0, 0]],
           "logprobs": [[-1.0, -0.5, -2.0, 0.0], [-0.3, -0.7, 0.0, 0.0]],
           "ref_logprobs": [[-1.1, -0.4, -2.5, 0.0], [-0.2, -0.9, 0.0, 0.0]],
           "values": [[0.5, 0.6, 0.8, 0.0], [0.1, -0.2, 0.0, 0.0]]}
    cli_input(gae, "example-gae")


def write(name, obj, compact=False):
    with open(os.path.join(OUT, name), "w") as f:
        if compact:   # one case per line keeps the data files small and diffable
            f.write("[\n" + ",\n".join(json.dumps(c, separators=(",", ":")) for c in obj) + "\n]\n")
        else:         # a CLI document: one top-level field per line, one sample per line
            fields = []
            for key, value in obj.items():
                if key == "samples":
                    rows = ",\n".join("  " + json.dumps(x) for x in value)
                    fields.append(f' "samples": [\n{rows}\n ]')
                else:
                    fields.append(f" {json.dumps(key)}: {json.dumps(value)}")
            f.write("{\n" + ",\n".join(fields) + "\n}\n")


def main():
    check_worked_cases()
    os.makedirs(OUT, exist_ok=True)
    rng = np.random.default_rng(20250103)
    write("kl.json", compact=True, obj=kl_cases(rng))
    write("advantages.json", compact=True, obj=advantage_cases(rng))
    write("policy_loss.json", compact=True, obj=policy_cases(rng))
    write("value_loss.json", compact=True, obj=value_cases(rng))
    cli_cases()
    print("wrote fixtures to", OUT)


if __name__ == "__main__":
    main()
