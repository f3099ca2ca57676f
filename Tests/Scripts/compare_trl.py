#!/usr/bin/env python3
# requires: Python 3.10+ (standard library only)
#
# Prints rpp's real-model run next to TRL's (Tests/Scripts/bench_trl.py) with the same definitions for both:
# one iteration = generate the batch's completions, score them, and the optimiser steps; seconds per iteration
# from wall-clock time; samples/s = completions generated per second of whole iterations; the first iteration
# of each is warm-up and left out. Reward is the mean over the same timed iterations.
#
#   python3 Tests/Scripts/compare_trl.py --trl runs/bench-trl/trl.json --rpp runs/<smollm2 run directory>
#
# rpp's iteration seconds come from the `time` of consecutive records of the run's metrics.jsonl; an iteration
# that also ran an evaluation (an `eval/...` metric in its record) is left out, since its time includes it. When
# every iteration ran one (eval.every: 1), the learner's phase times (rollout + train + broadcast) are used
# instead, and the output says so; `eval.every=0` gives plain wall-clock figures.

import argparse
import json
import os
import statistics
import sys


def fail(msg):
    print(f"compare_trl.py: {msg}", file=sys.stderr)
    sys.exit(1)


def load_trl(path, skip):
    try:
        with open(path) as f:
            d = json.load(f)
    except (OSError, ValueError) as e:
        fail(f"--trl {path}: cannot read TRL's figures ({e}); run `make bench-trl` to write them")
    try:
        its = d["iterations"]
        per_iter = d["task"]["prompts_per_iteration"] * d["task"]["samples_per_prompt"]
        timed = its[skip:]
        rows = [(r["seconds"], per_iter, r["reward_mean"], r.get("rollout_seconds"), r.get("update_seconds"),
                 r.get("completion_tokens_mean")) for r in timed]
        label = f"TRL {d['versions']['trl']} GRPOTrainer"
        detail = f"TRL: torch {d['versions']['torch']}, transformers {d['versions']['transformers']}, " \
                 f"{d['threads']} threads, {d['cpu']['model_name']}, load average {d['load_average_start'][0]:.2f} " \
                 f"-> {d['load_average_end'][0]:.2f}"
    except (KeyError, TypeError) as e:
        fail(f"--trl {path}: not a bench_trl.py result (missing {e})")
    return label, detail, rows, len(its)


def load_rpp(path, skip):
    metrics = os.path.join(path, "metrics.jsonl") if os.path.isdir(path) else path
    records = []
    try:
        with open(metrics) as f:
            for n, line in enumerate(f, 1):
                line = line.strip()
                if not line:
                    continue
                try:
                    r = json.loads(line)
                except ValueError as e:
                    fail(f"--rpp {metrics}:{n}: not JSON ({e})")
                if isinstance(r, dict) and "iteration" in r and "time" in r and isinstance(r.get("metrics"), dict):
                    records.append(r)
    except OSError as e:
        fail(f"--rpp {metrics}: cannot read rpp's metrics ({e}); give the run directory of `make run-smollm2`")
    train = [r for r in records if "cluster/samples" in r["metrics"]]
    if len(train) < skip + 1:
        fail(f"--rpp {metrics}: {len(train)} training iterations, need at least {skip + 1}")
    prev_time = {r["iteration"]: r["time"] for r in records}
    timed = [r for r in train if r["iteration"] > skip]
    if not timed:
        fail(f"--rpp {metrics}: no iteration left after the {skip} warm-up iteration(s)")
    no_eval = [r for r in timed if not any(k.startswith("eval/") for k in r["metrics"])
               and r["iteration"] - 1 in prev_time]
    rows = []
    if no_eval:
        # wall clock between consecutive records
        how = f"wall clock; {len(timed) - len(no_eval)} iteration(s) with an evaluation left out"
        for r in no_eval:
            rows.append((r["time"] - prev_time[r["iteration"] - 1], r))
    else:
        # every iteration evaluated: the learner's own phase times, which leave the evaluation out
        how = ("every iteration ran an evaluation, so seconds = the learner's rollout + train + broadcast times, "
               "which overcount where rpp overlaps them; run with eval.every=0 for wall-clock seconds")
        for r in timed:
            m = r["metrics"]
            missing = [k for k in ("perf/rollout_s", "perf/train_s") if k not in m]
            if missing:
                fail(f"--rpp {metrics}: iteration {r['iteration']} has no {missing[0]}")
            phases = sum(m.get(k, 0.0) for k in ("perf/rollout_s", "perf/train_s", "perf/broadcast_s"))
            rows.append((phases, r))
    out = []
    for seconds, r in rows:
        m = r["metrics"]
        out.append((seconds, m["cluster/samples"], m.get("reward/mean"), m.get("perf/rollout_s"),
                    m.get("perf/train_s"), m.get("response/length")))
    return "rpp", out, len(train), how


def summarise(rows):
    seconds = sum(r[0] for r in rows)
    samples = sum(r[1] for r in rows)

    def mean(k):
        vals = [r[k] for r in rows if r[k] is not None]
        return statistics.fmean(vals) if vals else None

    return {"iterations": len(rows), "samples_per_iteration": samples / len(rows),
            "seconds_per_iteration": seconds / len(rows), "samples_per_s": samples / seconds,
            "reward": mean(2), "rollout_s": mean(3), "update_s": mean(4), "length": mean(5)}


def fmt(v, spec):
    return "-" if v is None else format(v, spec)


def main():
    p = argparse.ArgumentParser(description="rpp's real-model run next to TRL's GRPOTrainer on the same task.")
    p.add_argument("--trl", default="runs/bench-trl/trl.json", help="bench_trl.py's JSON")
    p.add_argument("--rpp", required=True, help="rpp's run directory (or its metrics.jsonl)")
    p.add_argument("--skip", type=int, default=1, help="warm-up iterations left out of both (default 1)")
    a = p.parse_args()
    if a.skip < 0:
        p.error("--skip must be 0 or more")
    trl_label, trl_detail, trl_rows, trl_total = load_trl(a.trl, a.skip)
    if not trl_rows:
        fail(f"--trl {a.trl}: {trl_total} iterations, none left after --skip {a.skip}")
    _, rpp_rows, rpp_total, rpp_how = load_rpp(a.rpp, a.skip)
    t, r = summarise(trl_rows), summarise(rpp_rows)

    print(f"{'':24} {'iters':>5} {'samples/it':>10} {'s/iter':>8} {'samples/s':>10} {'rollout s':>9} "
          f"{'update s':>9} {'reward':>7} {'len':>6}")
    for name, s in ((trl_label, t), ("rpp (make run-smollm2)", r)):
        print(f"{name:24} {s['iterations']:>5} {s['samples_per_iteration']:>10.0f} "
              f"{s['seconds_per_iteration']:>8.2f} {s['samples_per_s']:>10.2f} {fmt(s['rollout_s'], '.2f'):>9} "
              f"{fmt(s['update_s'], '.2f'):>9} {fmt(s['reward'], '.3f'):>7} {fmt(s['length'], '.2f'):>6}")
    print()
    print(f"rpp / TRL samples/s: {r['samples_per_s'] / t['samples_per_s']:.2f}x "
          f"(TRL {t['seconds_per_iteration']:.2f} s vs rpp {r['seconds_per_iteration']:.2f} s per iteration)")
    notes = [f"first {a.skip} iteration(s) of each left out as warm-up"]
    notes.append(f"rpp's seconds: {rpp_how}")
    if t["samples_per_iteration"] != r["samples_per_iteration"]:
        notes.append(f"the batches differ: TRL {t['samples_per_iteration']:.0f} vs rpp "
                     f"{r['samples_per_iteration']:.0f} completions per iteration")
    print("notes: " + "; ".join(notes))
    print(trl_detail)


if __name__ == "__main__":
    main()
