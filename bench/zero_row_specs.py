#!/usr/bin/env python3
"""Writes the two specs of bench/README.md's "Kinks at an all-zero input row": a relu
16-W-W-1 net (column layout, zero biases, randn weights from the spec's own init recipe,
batch 8, mse mean) with and without one all-zero input row. W = 310 gives 101,991 parameters.

usage: zero_row_specs.py [WIDTH] [OUTDIR]   (defaults 310 and .)"""
import json
import os
import random
import sys

width = int(sys.argv[1]) if len(sys.argv) > 1 else 310
outdir = sys.argv[2] if len(sys.argv) > 2 else "."
rng = random.Random(5)
n_in, batch = 16, 8
x = [[rng.gauss(0, 1) for _ in range(n_in)] for _ in range(batch)]
y = [[rng.gauss(0, 1)] for _ in range(batch)]
tensors = {name: {"scheme": "zeros" if name[0] == "b" else "randn"}
           for name in ("W1", "b1", "W2", "b2", "W3", "b3")}


def spec(rows):
    return {"description": f"relu 16-{width}-{width}-1, zero biases, bench/zero_row_specs.py",
            "layout": "column", "input": n_in,
            "layers": [{"size": width, "activation": "relu"},
                       {"size": width, "activation": "relu"},
                       {"size": 1, "activation": "identity"}],
            "loss": {"type": "mse", "reduction": "mean"},
            "data": {"x": rows, "y": y},
            "parameters": {"init": {"seed": 1, "order": list(tensors), "tensors": tensors}}}


with open(os.path.join(outdir, f"relu{width}_zero_row.json"), "w") as f:
    json.dump(spec([[0.0] * n_in] + x[1:]), f)
with open(os.path.join(outdir, f"relu{width}.json"), "w") as f:
    json.dump(spec(x), f)
