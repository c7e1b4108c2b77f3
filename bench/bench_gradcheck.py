#!/usr/bin/python3
"""torch.autograd.gradcheck(fast_mode=False) on the networks bench_check checks.

Sigmoid MLPs w-w-w-1 (w = 8, 16, 32, 64, 128), batch 32, MSE (mean), float64, the
parameters and data drawn exactly as bench_check draws them (NumPy's legacy
RandomState, row layout W (in, out), W ~ randn / sqrt(fan_in), b ~ randn / 2,
x ~ randn, y ~ random_sample), so the loss printed here equals bench_check's.
Same thread count: torch.set_num_threads(THREADS) (default 2; bench_check's
oracle uses two threads, the machine's two cores).
REPS (default 1): each width's gradcheck run that many times, the fastest
printed (the 128-wide net once whatever REPS: it takes tens of seconds).
Usage: /usr/bin/python3 bench/bench_gradcheck.py [SEED] [THREADS] [REPS]
"""
import sys
import time

import numpy as np
import torch

seed = int(sys.argv[1]) if len(sys.argv) > 1 else 2026
threads = int(sys.argv[2]) if len(sys.argv) > 2 else 2
reps = int(sys.argv[3]) if len(sys.argv) > 3 else 1
torch.set_num_threads(threads)
B = 32
print(f"# bench_gradcheck seed {seed}, batch {B}, sigmoid w-w-w-1, mse(mean), "
      f"torch {torch.__version__}, threads {torch.get_num_threads()}, fast_mode=False")
print(f"{'w':>4} {'entries':>8} {'seconds':>10} {'passed':>6} {'loss':>24}")
for w in (8, 16, 32, 64, 128):
    np.random.seed(seed)
    sizes = [(w, w), (w, w), (w, 1)]
    params = []
    for fan_in, fan_out in sizes:
        W = np.random.randn(fan_in, fan_out) * (1.0 / np.sqrt(fan_in))
        b = np.random.randn(1, fan_out) * 0.5
        params += [W, b]
    x = torch.from_numpy(np.random.randn(B, w))
    y = torch.from_numpy(np.random.random_sample((B, 1)))
    ps = [torch.from_numpy(p).requires_grad_(True) for p in params]

    def loss_fn(*p):
        a = x
        for i in range(3):
            a = torch.sigmoid(a @ p[2 * i] + p[2 * i + 1])
        return ((a - y) ** 2).mean()

    n = sum(p.numel() for p in ps)
    best = float("inf")
    for _ in range(reps if w < 128 else 1):
        t0 = time.perf_counter()
        ok = torch.autograd.gradcheck(loss_fn, tuple(ps), fast_mode=False)
        best = min(best, time.perf_counter() - t0)
    print(f"{w:>4} {n:>8} {best:>10.4f} {str(ok):>6} {loss_fn(*ps).item():>24.17g}")
