"""The same steps as bench_core.c in NumPy: forward and backward of a sigmoid
MLP with MSE (mean), every layer WIDTH wide, three products per layer
(dA skipped for the first layer), GFLOP/s from the same FLOP count.

usage: /usr/bin/python3 bench/bench_numpy.py [WIDTH DEPTH BATCH REPS]
"""
import sys
import time

import numpy as np

width, depth, batch, reps = (int(a) for a in (sys.argv[1:5] if len(sys.argv) >= 5 else (512, 8, 256, 20)))
# the same draws as bench_core: W1 (in, out), b1 (1, out), W2, b2, ... from
# one legacy stream seeded 0, then x, then y
rng = np.random.RandomState(0)
Ws, bs = [], []
for _ in range(depth):
    Ws.append(rng.randn(width, width) * 0.04)
    bs.append(rng.randn(1, width) * 0.04)
x = rng.randn(batch, width)
y = rng.random_sample((batch, width))


def step():
    acts = [x]
    for W, b in zip(Ws, bs):
        acts.append(1.0 / (1.0 + np.exp(-(acts[-1] @ W + b))))
    out = acts[-1]
    loss = np.mean((out - y) ** 2)
    dA = 2.0 * (out - y) / out.size
    grads = []
    for l in range(depth - 1, -1, -1):
        a = acts[l + 1]
        dZ = dA * a * (1.0 - a)
        grads.append((acts[l].T @ dZ, dZ.sum(axis=0, keepdims=True)))
        if l > 0:
            dA = dZ @ Ws[l].T
    return loss


flops = 2.0 * batch * width * width * (3 * depth - 1)
step()
times = []
for _ in range(reps):
    t0 = time.perf_counter()
    loss = step()
    times.append(time.perf_counter() - t0)
times.sort()
try:
    from threadpoolctl import threadpool_info
    blas = ", ".join(f"{i['internal_api']} {i.get('version')} {i.get('architecture')} x{i['num_threads']}" for i in threadpool_info())
except ImportError:
    blas = "threadpoolctl not installed"
print(f"numpy {np.__version__} ({blas}): width {width} depth {depth} batch {batch}: "
      f"best {1e3 * times[0]:.2f} ms ({flops / times[0] * 1e-9:.1f} GFLOP/s), "
      f"median {1e3 * times[reps // 2]:.2f} ms ({flops / times[reps // 2] * 1e-9:.1f} GFLOP/s), loss {loss:.6g}")
