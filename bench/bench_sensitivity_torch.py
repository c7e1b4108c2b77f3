"""torch.autograd.gradcheck's sensitivity on the networks bench_sensitivity wrote.

usage: /usr/bin/python3 bench/bench_sensitivity_torch.py [sensitivity_nets.json [float32]]

For every sampled entry j of every network, the analytic gradient of the loss
is corrupted as g_j (1 + eps) through a custom autograd function, and the
smallest eps on the same grid as bench_sensitivity (10^-16 ... 10^0 in half
decades) at which gradcheck (float64, its default atol=1e-5, rtol=1e-3)
reports a failure is found by bisection over the grid (gradcheck's verdict
grows with eps). Done for fast_mode=False and fast_mode=True.

With float32 (the nets bench_sensitivity wrote with float32, numbers already
float32): the function and gradients in float32, as gradcheck is run on
float32 code (it warns that this "will likely fail"); also counted, its false
alarms: entries flagged with no error injected (eps = 0).
"""
import json
import math
import sys

import torch

DTYPE = torch.float32 if len(sys.argv) > 2 and sys.argv[2] == "float32" else torch.float64
torch.set_default_dtype(DTYPE)
torch.set_num_threads(1)

GRID = [10.0 ** (-16 + 0.5 * k) for k in range(33)]
ACT = {"tanh": torch.tanh, "sigmoid": torch.sigmoid, "identity": lambda z: z}


def loss_fn(net):
    """The network as a function of the flat parameter slab (row layout:
    W_l is (in, out) C-order, then b_l (1, out), layer after layer)."""
    x = torch.tensor(net["x"]).reshape(net["batch"], net["n_in"])
    n_out = net["layers"][-1][0]
    y = torch.tensor(net["y"]).reshape(net["batch"], n_out)
    shapes = []
    fan_in = net["n_in"]
    for width, act in net["layers"]:
        shapes.append((fan_in, width, ACT[act]))
        fan_in = width
    assert net["loss"] == "mse"
    scale = net["scale"]
    divisor = {"sum": 1.0, "mean": float(net["batch"] * n_out), "batch_mean": float(net["batch"])}[net["reduction"]]

    def f(theta):
        a = x
        off = 0
        for fan_in, width, act in shapes:
            W = theta[off:off + fan_in * width].reshape(fan_in, width)
            off += fan_in * width
            b = theta[off:off + width].reshape(1, width)
            off += width
            a = act(a @ W + b)
        return scale * ((a - y) ** 2).sum() / divisor

    return f


class Corrupt(torch.autograd.Function):
    """Identity forward; backward scales entry j of the incoming gradient."""

    @staticmethod
    def forward(ctx, theta, j, eps):
        ctx.j, ctx.eps = j, eps
        return theta.clone()

    @staticmethod
    def backward(ctx, g):
        g = g.clone()
        g[ctx.j] = g[ctx.j] * (1.0 + ctx.eps)
        return g, None, None


def flagged(f, theta, j, eps, fast):
    return not torch.autograd.gradcheck(lambda t: f(Corrupt.apply(t, j, eps)), (theta,),
                                        fast_mode=fast, raise_exception=False)


def threshold(f, theta, j, fast):
    """Smallest grid index gradcheck flags (len(GRID) when none), by bisection."""
    if not flagged(f, theta, j, GRID[-1], fast):
        return len(GRID)
    lo, hi = -1, len(GRID) - 1
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if flagged(f, theta, j, GRID[mid], fast):
            hi = mid
        else:
            lo = mid
    return hi


def main():
    path = sys.argv[1] if len(sys.argv) > 1 else "sensitivity_nets.json"
    nets = json.load(open(path))
    print(f"torch {torch.__version__}, {DTYPE}, 1 thread; {path}")
    print(f"{'method':<22} {'min':>9} {'median':>9} {'p90':>9} {'max':>9} {'undetected':>11}")
    for fast in (False, True):
        found, false_alarms = [], 0
        for net in nets:
            f = loss_fn(net)
            theta = torch.tensor(net["params"], requires_grad=True)
            for j in net["entries"]:
                torch.manual_seed(1000 * net["seed"] + j)  # fast mode draws random vectors
                if flagged(f, theta, j, 0.0, fast):
                    false_alarms += 1
                    found.append(0.0)
                    continue
                torch.manual_seed(1000 * net["seed"] + j)
                k = threshold(f, theta, j, fast)
                found.append(GRID[k] if k < len(GRID) else math.inf)
        found.sort()
        n = len(found)
        name = "gradcheck fast_mode" if fast else "gradcheck default"
        und = sum(1 for e in found if math.isinf(e))
        print(f"{name:<22} {found[0]:9.1e} {found[n // 2]:9.1e} {found[(9 * n) // 10]:9.1e} "
              f"{found[-1]:9.1e} {und:6d}/{n}   false alarms (eps = 0, counted as 0): "
              f"{false_alarms}/{n}")


if __name__ == "__main__":
    main()
