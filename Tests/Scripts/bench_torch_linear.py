#!/usr/bin/env python3
"""GFLOPS of one PyTorch linear layer in float32 and under torch.autocast("cpu", dtype=torch.bfloat16) (not CI).

Shows whether this CPU gains anything from PyTorch's bf16 autocast: SmolLM2-135M's MLP gate/up product on a decode
step of 64 rows and on 2048 training rows, 2 threads, each timed for 2 s after one untimed call.

Measured with torch 2.13.0+cpu.
# requires: torch==2.13.0

Usage: .venv/bin/python Tests/Scripts/bench_torch_linear.py
"""
import time

from pins import require

require(__file__)

import torch
import torch.nn.functional as F


def gflops(m, n, k, bf16):
    a, w = torch.randn(m, k), torch.randn(n, k)

    def run():
        if not bf16:
            return F.linear(a, w)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            return F.linear(a, w)

    run()
    reps, start = 0, time.perf_counter()
    while time.perf_counter() - start < 2:
        run()
        reps += 1
    return 2 * m * n * k / ((time.perf_counter() - start) / reps) / 1e9


def main():
    torch.set_num_threads(2)
    print(f"torch {torch.__version__}, CPU capability {torch.backends.cpu.get_cpu_capability()}, 2 threads")
    for m, n, k in [(64, 1536, 576), (2048, 1536, 576)]:
        print(f"{m} x {n} x {k}: float32 {gflops(m, n, k, False):.1f} GFLOPS, "
              f"autocast bf16 {gflops(m, n, k, True):.1f} GFLOPS")


if __name__ == "__main__":
    main()
