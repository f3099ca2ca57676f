#!/usr/bin/env python3
# requires: torch==2.13.0 transformers==5.24.0 trl==1.16.0 accelerate==1.15.0 datasets==5.2.0
#
# TRL's GRPOTrainer on CPU on the real SmolLM2-135M-Instruct, on the chat_arith task that `make run-smollm2`
# trains rpp on, with the closest REINFORCE++-style settings TRL offers (docs/benchmarks-trl.md explains each one).
# One iteration = generate 32 prompts x 4 samples (128 completions), score them, then two optimiser steps of 64
# completions each. Prints a per-iteration table and a summary line and writes the figures as JSON.
#
#   .venv-trl/bin/python Tests/Scripts/bench_trl.py --model runs/models/smollm2-135m-instruct --iterations 4
#
# Not run by CI (`make bench-trl` makes the venv and the model first).

import argparse
import json
import os
import platform
import random
import re
import resource
import statistics
import sys
import time

PROMPTS_PER_ITERATION = 32
SAMPLES_PER_PROMPT = 4
STEPS_PER_ITERATION = 2
MICRO_BATCH = 16  # completions per forward/backward pass, as rpp's micro_batch
MAX_NEW_TOKENS = 16
OPERAND_RANGE = (10, 49)  # inclusive, as rpp's chat_arith draws them
QUESTION = "What is {a} + {b}? Answer with just the number."


def parse_args(argv):
    p = argparse.ArgumentParser(description="TRL GRPOTrainer on SmolLM2-135M-Instruct and chat_arith, CPU, timed.")
    p.add_argument("--model", default="runs/models/smollm2-135m-instruct",
                   help="Hugging Face model directory (what `make smollm2` writes)")
    p.add_argument("--iterations", type=int, default=4,
                   help="iterations to run; the first one is reported separately as warm-up (default 4)")
    p.add_argument("--threads", type=int, default=2, help="torch intra-op threads (default 2)")
    p.add_argument("--seed", type=int, default=1234, help="seed for the prompts, sampling and shuffling")
    p.add_argument("--out", default="runs/bench-trl/trl.json", help="where to write the figures as JSON")
    a = p.parse_args(argv)
    if a.iterations < 2:
        p.error("--iterations must be at least 2 (the first iteration is warm-up and is not timed)")
    if a.threads < 1:
        p.error("--threads must be at least 1")
    for name in ("config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json",
                 "generation_config.json"):
        if not os.path.isfile(os.path.join(a.model, name)):
            p.error(f"--model {a.model}: {name} is missing; run `make smollm2` to write the model directory")
    return a


# Threads must be fixed before torch is imported (OpenMP reads the variables once).
ARGS = parse_args(sys.argv[1:])
for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
    os.environ[var] = str(ARGS.threads)
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import warnings  # noqa: E402

warnings.filterwarnings("ignore", category=FutureWarning)  # transformers' renames (gradient_checkpointing)

from pins import require

require(__file__)

import datasets  # noqa: E402
import torch  # noqa: E402
import transformers  # noqa: E402
import trl  # noqa: E402
from transformers import AutoModelForCausalLM, AutoTokenizer, PrinterCallback, TrainerCallback  # noqa: E402
from trl import GRPOConfig, GRPOTrainer  # noqa: E402

# ---------------------------------------------------------------------------------------------------------------
# The task: prompts and the reward


def make_prompts(count, seed):
    """`count` chat_arith prompts: a and b uniform in [10, 49], one user turn (the template adds the system turn)."""
    rng = random.Random(seed)
    rows = []
    for _ in range(count):
        a = rng.randint(*OPERAND_RANGE)
        b = rng.randint(*OPERAND_RANGE)
        rows.append({"prompt": [{"role": "user", "content": QUESTION.format(a=a, b=b)}], "answer": str(a + b)})
    return rows


_DIGIT = re.compile(r"[0-9]")


def numbers_in(text):
    """The numbers of `text` in order, as floats: an optional '-' not preceded by a digit, digits with ','
    thousands groups of exactly three digits, an optional '.' fraction (the rules of rpp's numeric verifier)."""
    def is_digit(i):
        return 0 <= i < len(text) and text[i] in "0123456789"

    out = []
    i = 0
    while i < len(text):
        if not is_digit(i):
            i += 1
            continue
        s = "-" if i > 0 and text[i - 1] == "-" and not is_digit(i - 2) else ""
        j = i
        while is_digit(j):
            s += text[j]
            j += 1
        while (j < len(text) and text[j] == "," and is_digit(j + 1) and is_digit(j + 2) and is_digit(j + 3)
               and not is_digit(j + 4)):
            s += text[j + 1:j + 4]
            j += 4
        if j < len(text) and text[j] == "." and is_digit(j + 1):
            s += "."
            j += 1
            while is_digit(j):
                s += text[j]
                j += 1
        out.append(float(s))
        i = j
    return out


def completion_text(completion):
    # Conversational prompts give completions as [{"role": "assistant", "content": ...}].
    if isinstance(completion, list):
        return "".join(m.get("content", "") for m in completion if isinstance(m, dict))
    return completion


class RewardLog:
    """The reward function TRL calls once per generation batch; keeps each batch's rewards and lengths."""

    __name__ = "chat_arith_exact"

    def __init__(self):
        self.batches = []
        self.stop_ids = set()  # set once the trainer knows them

    def __call__(self, prompts, completions, answer, completion_ids=None, **_):
        rewards = []
        for c, want in zip(completions, answer, strict=True):
            got = numbers_in(completion_text(c))
            rewards.append(1.0 if got and got[-1] == float(want) else 0.0)
        ids = completion_ids or []
        self.batches.append({"rewards": rewards,
                             "lengths": [len(c) for c in ids],
                             # cut at the length limit: no stop token at its end
                             "truncated": [bool(c) and c[-1] not in self.stop_ids for c in ids],
                             "example": completion_text(completions[0])})
        return rewards


def self_check_reward():
    cases = {"42": [42.0], "5-3": [5.0, 3.0], "=-3": [-3.0], "1,234": [1234.0], "3,4": [3.0, 4.0],
             "1,2345": [1.0, 2345.0], "42.0": [42.0], "42.": [42.0], "The answer is 61.": [61.0], "none": []}
    for text, want in cases.items():
        got = numbers_in(text)
        if got != want:
            raise SystemExit(f"bench_trl.py: number parsing is wrong on {text!r}: {got} instead of {want}")


# ---------------------------------------------------------------------------------------------------------------
# Timing


class TimedGRPOTrainer(GRPOTrainer):
    """GRPOTrainer that records how long each rollout phase takes (nothing else changes)."""

    def __init__(self, *a, **k):
        super().__init__(*a, **k)
        self.phase_times = []

    def _generate_and_score_completions(self, inputs):
        t0 = time.perf_counter()
        out = super()._generate_and_score_completions(inputs)
        self.phase_times.append(time.perf_counter() - t0)
        return out


class StepClock(TrainerCallback):
    """Wall time at the start and end of every optimiser step, the trainer's logs, and the load average."""

    def __init__(self, iterations, rewards):
        self.iterations = iterations
        self.rewards = rewards
        self.begin = []
        self.end = []
        self.logs = []
        self.load = []

    def on_step_begin(self, args, state, control, **kw):
        self.begin.append(time.perf_counter())

    def on_step_end(self, args, state, control, **kw):
        self.end.append(time.perf_counter())
        self.load.append(os.getloadavg()[0])
        if len(self.end) % STEPS_PER_ITERATION == 0:
            i = len(self.end) // STEPS_PER_ITERATION
            reward = statistics.fmean(self.rewards.batches[-1]["rewards"]) if self.rewards.batches else float("nan")
            print(f"bench_trl: iteration {i}/{self.iterations} done, {self.end[-1] - self.begin[0]:.1f} s since the "
                  f"first step, reward {reward:.3f}, load average {self.load[-1]:.2f}", flush=True)

    def on_log(self, args, state, control, logs=None, **kw):
        self.logs.append(dict(logs or {}))


# ---------------------------------------------------------------------------------------------------------------


def cpu_description():
    name, flags = platform.processor(), set()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name") and name in ("", platform.processor()):
                    name = line.split(":", 1)[1].strip()
                elif line.startswith("flags") and not flags:
                    flags = set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return {"model_name": name, "logical_cpus": os.cpu_count(),
            "avx2": "avx2" in flags, "avx512f": "avx512f" in flags, "avx512_bf16": "avx512_bf16" in flags,
            "amx": sorted(f for f in flags if f.startswith("amx"))}


def main():
    a = ARGS
    self_check_reward()
    torch.set_num_threads(a.threads)
    if torch.get_num_threads() != a.threads:
        raise SystemExit(f"bench_trl.py: torch runs {torch.get_num_threads()} threads, not --threads {a.threads}")
    random.seed(a.seed)
    torch.manual_seed(a.seed)

    tokenizer = AutoTokenizer.from_pretrained(a.model)
    model = AutoModelForCausalLM.from_pretrained(a.model, dtype=torch.float32)
    rows = make_prompts(PROMPTS_PER_ITERATION * a.iterations, a.seed)
    dataset = datasets.Dataset.from_list(rows)

    samples = PROMPTS_PER_ITERATION * SAMPLES_PER_PROMPT  # 128 completions per iteration
    batch = samples // STEPS_PER_ITERATION  # 64 completions per optimiser step
    config = GRPOConfig(
        output_dir=os.path.join(os.path.dirname(a.out) or ".", "trainer"),
        # batch shape: 128 completions generated at once, consumed by two optimiser steps of 64 (each as four
        # micro-batches of 16 with accumulated gradients), one pass; steps_per_generation counts micro-batches
        per_device_train_batch_size=MICRO_BATCH,
        gradient_accumulation_steps=batch // MICRO_BATCH,
        steps_per_generation=samples // MICRO_BATCH,
        num_generations=SAMPLES_PER_PROMPT,
        num_iterations=1,
        max_steps=STEPS_PER_ITERATION * a.iterations,
        shuffle_dataset=False,
        # sampling
        max_completion_length=MAX_NEW_TOKENS,
        temperature=1.0, top_p=1.0, top_k=0, min_p=None, repetition_penalty=1.0,
        # objective: PPO clip 0.2 on both sides, token sum over the step's 64 completions divided by half the
        # iteration's tokens (about the step's token mean), k3 KL loss beta 0.01
        loss_type="dapo",
        epsilon=0.2,
        beta=0.01,
        use_bias_correction_kl=False,
        scale_rewards="batch",
        importance_sampling_level="token",
        mask_truncated_completions=False,
        # optimiser: AdamW lr 1e-5, betas (0.9, 0.95), no weight decay, constant, clip 1.0
        learning_rate=1e-5,
        adam_beta1=0.9, adam_beta2=0.95, adam_epsilon=1e-8,
        weight_decay=0.0,
        lr_scheduler_type="constant",
        warmup_steps=0,
        max_grad_norm=1.0,
        optim="adamw_torch",
        # float32 on CPU, no checkpointing, nothing saved or reported
        use_cpu=True, bf16=False, fp16=False, gradient_checkpointing=False,
        disable_dropout=True,
        seed=a.seed, data_seed=a.seed,
        logging_steps=1, report_to="none", save_strategy="no", disable_tqdm=True,
        dataloader_num_workers=0,
    )
    rewards = RewardLog()
    clock = StepClock(a.iterations, rewards)
    trainer = TimedGRPOTrainer(model=model, reward_funcs=rewards, args=config, train_dataset=dataset,
                               processing_class=tokenizer, callbacks=[clock])
    trainer.remove_callback(PrinterCallback)

    # What generation stops at, and what the first prompt renders to.
    stop_ids = list(trainer.eos_token_ids)
    rewards.stop_ids = set(stop_ids)
    stop_tokens = tokenizer.convert_ids_to_tokens(stop_ids)
    if "<|im_end|>" not in stop_tokens:
        raise SystemExit(f"bench_trl.py: generation would not stop at <|im_end|> (stop ids {stop_ids} = {stop_tokens})")
    first = tokenizer.apply_chat_template(rows[0]["prompt"], tokenize=False, add_generation_prompt=True)
    cpu = cpu_description()
    print(f"bench_trl: TRL {trl.__version__}, transformers {transformers.__version__}, torch {torch.__version__}, "
          f"{torch.get_num_threads()} threads, float32, {cpu['model_name']}")
    print(f"bench_trl: stop ids {stop_ids} {stop_tokens}; first prompt {first!r}")
    print(f"bench_trl: {a.iterations} iterations x {PROMPTS_PER_ITERATION} prompts x {SAMPLES_PER_PROMPT} samples, "
          f"{STEPS_PER_ITERATION} steps of {batch} in micro-batches of {MICRO_BATCH}; "
          f"load average at start {os.getloadavg()[0]:.2f}")

    load_start = os.getloadavg()
    t_start = time.perf_counter()
    trainer.train()
    wall = time.perf_counter() - t_start
    load_end = os.getloadavg()

    n_steps = STEPS_PER_ITERATION * a.iterations
    if len(clock.end) != n_steps or len(rewards.batches) != a.iterations or len(trainer.phase_times) != a.iterations:
        raise SystemExit(f"bench_trl.py: expected {n_steps} steps and {a.iterations} generation batches, got "
                         f"{len(clock.end)} steps, {len(rewards.batches)} scored and {len(trainer.phase_times)} "
                         "generated batches")
    train_logs = [log for log in clock.logs if "loss" in log]
    per_iter = []
    for i in range(a.iterations):
        first_step, last_step = STEPS_PER_ITERATION * i, STEPS_PER_ITERATION * (i + 1) - 1
        start = clock.begin[first_step] if i == 0 else clock.end[first_step - 1]
        seconds = clock.end[last_step] - start
        # The rollout phase runs once per iteration, inside its first step.
        rollout = trainer.phase_times[i]
        batch_log = rewards.batches[i]
        lengths, truncated = batch_log["lengths"], batch_log["truncated"]
        logs = train_logs[first_step:last_step + 1]

        def mean_log(key):
            vals = [log[key] for log in logs if key in log]
            return statistics.fmean(vals) if vals else None

        per_iter.append({
            "iteration": i + 1,
            "seconds": seconds,
            "samples_per_s": samples / seconds,
            "rollout_seconds": rollout,
            "update_seconds": seconds - rollout,
            "reward_mean": statistics.fmean(batch_log["rewards"]),
            "completion_tokens_mean": statistics.fmean(lengths) if lengths else None,
            "completions_at_max_length": statistics.fmean(truncated) if truncated else None,
            "kl": mean_log("kl"),
            "clip_ratio": mean_log("clip_ratio/region_mean"),
            "grad_norm": mean_log("grad_norm"),
            "load_1min": clock.load[last_step],
            "example_completion": batch_log["example"],
        })

    print()
    print(f"{'iter':>4} {'seconds':>8} {'samples/s':>10} {'rollout s':>10} {'update s':>9} {'reward':>7} "
          f"{'len':>5} {'at max':>7} {'kl':>8} {'load':>5}")
    for r in per_iter:
        kl = f"{r['kl']:.5f}" if r["kl"] is not None else "-"
        length = f"{r['completion_tokens_mean']:.2f}" if r["completion_tokens_mean"] is not None else "-"
        at_max = f"{r['completions_at_max_length']:.2f}" if r["completions_at_max_length"] is not None else "-"
        tag = " (warm-up)" if r["iteration"] == 1 else ""
        print(f"{r['iteration']:>4} {r['seconds']:>8.2f} {r['samples_per_s']:>10.2f} {r['rollout_seconds']:>10.2f} "
              f"{r['update_seconds']:>9.2f} {r['reward_mean']:>7.3f} {length:>5} {at_max:>7} {kl:>8} "
              f"{r['load_1min']:>5.2f}{tag}")

    timed = per_iter[1:]
    total_s = sum(r["seconds"] for r in timed)
    summary = {
        "iterations_timed": len(timed),
        "seconds_per_iteration": total_s / len(timed),
        "samples_per_s": samples * len(timed) / total_s,
        "rollout_seconds_per_iteration": statistics.fmean(r["rollout_seconds"] for r in timed),
        "update_seconds_per_iteration": statistics.fmean(r["update_seconds"] for r in timed),
        "reward_mean": statistics.fmean(r["reward_mean"] for r in timed),
        "warmup_iteration_seconds": per_iter[0]["seconds"],
        "wall_seconds": wall,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }
    print()
    print(f"bench_trl summary: TRL {trl.__version__} GRPOTrainer, {len(timed)} timed iterations after 1 warm-up: "
          f"{summary['seconds_per_iteration']:.2f} s/iteration, {summary['samples_per_s']:.2f} samples/s "
          f"(rollout {summary['rollout_seconds_per_iteration']:.2f} s + update "
          f"{summary['update_seconds_per_iteration']:.2f} s), mean reward {summary['reward_mean']:.3f}, "
          f"peak RSS {summary['peak_rss_mb']:.0f} MB; "
          f"load average {load_start[0]:.2f} -> {load_end[0]:.2f}")

    result = {
        "tool": "trl",
        "versions": {"python": platform.python_version(), "torch": torch.__version__,
                     "transformers": transformers.__version__, "trl": trl.__version__,
                     "accelerate": __import__("accelerate").__version__, "datasets": datasets.__version__},
        "model": os.path.abspath(a.model),
        "cpu": cpu,
        "threads": torch.get_num_threads(),
        "attention": getattr(model.config, "_attn_implementation", None),
        "seed": a.seed,
        "task": {"name": "chat_arith", "question": QUESTION, "operands": list(OPERAND_RANGE),
                 "prompts_per_iteration": PROMPTS_PER_ITERATION, "samples_per_prompt": SAMPLES_PER_PROMPT,
                 "optimizer_steps_per_iteration": STEPS_PER_ITERATION, "micro_batch": MICRO_BATCH,
                 "max_new_tokens": MAX_NEW_TOKENS, "stop_ids": stop_ids, "stop_tokens": stop_tokens},
        "config": {k: getattr(config, k) for k in (
            "per_device_train_batch_size", "gradient_accumulation_steps", "steps_per_generation",
            "generation_batch_size", "num_generations", "num_iterations", "max_steps", "max_completion_length",
            "temperature", "top_p", "top_k", "loss_type", "epsilon", "epsilon_high", "beta",
            "use_bias_correction_kl", "scale_rewards", "importance_sampling_level", "mask_truncated_completions",
            "learning_rate", "adam_beta1", "adam_beta2", "adam_epsilon", "weight_decay", "max_grad_norm",
            "bf16", "gradient_checkpointing", "disable_dropout")}
        | {"lr_scheduler_type": str(config.lr_scheduler_type)},
        "load_average_start": list(load_start),
        "load_average_end": list(load_end),
        "iterations": per_iter,
        "summary": summary,
    }
    os.makedirs(os.path.dirname(a.out) or ".", exist_ok=True)
    with open(a.out, "w") as f:
        json.dump(result, f, indent=1)
    print(f"bench_trl: wrote {a.out}")


if __name__ == "__main__":
    main()
