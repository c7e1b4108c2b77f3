#!/usr/bin/python3
"""One layer's backward pass, checked on its own from its upstream gradient
(docs/spec.md, the `dot` loss): what a reader porting llm.c-style layers does.

A dense layer with tanh, Y = tanh(X @ W + b) on a batch, and an upstream
gradient dY drawn here. The spec holds W, b, X and, as data.y, dY, with the
loss {"type": "dot", "reduction": "sum"}: its dL/dW and dL/db are exactly the
layer's backward pass from dY. The backward is written as such code writes
it, with the usual formula tanh' = 1 - Y^2 from the layer's output (the
proven enclosure allows for it: docs/verdicts.md), in float64 and in float32
(NumPy's float32 arithmetic), saved with docs/gradfiles.md's snippet and
judged by `gradaudit check --grad`. Expected: exit 0 and no FAIL; and two bugs
people make, each FAILing: the tanh derivative left out (dZ = dY), and dW
computed as dZ^T @ X saved in the layout of W (a transposed gradient, caught
as every misplaced entry).
usage: layer_numpy.py GRADAUDIT SOURCE_ROOT"""
import json
import subprocess
import sys

from numpy_run import numpy_or_skip, setup

np = numpy_or_skip("one layer's backward was not checked from NumPy's files")
gradaudit, root, work = setup("ga_layer_numpy_")
failures = []

rng = np.random.default_rng(2026)
B, n_in, n_out = 5, 6, 4
X = rng.standard_normal((B, n_in)).astype(np.float32).astype(float)
W = (rng.standard_normal((n_in, n_out)) / np.sqrt(n_in)).astype(np.float32).astype(float)
b = (0.1 * rng.standard_normal((1, n_out))).astype(np.float32).astype(float)
dY = rng.standard_normal((B, n_out)).astype(np.float32).astype(float)
spec = {
    "layout": "row", "input": n_in,
    "layers": [{"size": n_out, "activation": "tanh"}],
    "loss": {"type": "dot", "reduction": "sum"},
    "data": {"x": X.tolist(), "y": dY.tolist()},
    "parameters": {"values": {"W1": W.tolist(), "b1": b.tolist()}},
}
with open("layer.json", "w") as f:
    json.dump(spec, f)


def backward(dtype, forget_tanh=False):
    """the layer as a C or NumPy training code writes it, in dtype"""
    x, w, bb, dy = (v.astype(dtype) for v in (X, W, b, dY))
    y = np.tanh(x @ w + bb)
    dz = dy if forget_tanh else dy * (dtype(1) - y * y)
    return x.T @ dz, dz.sum(axis=0, keepdims=True)


def check(grad_file, want_status, what):
    r = subprocess.run([gradaudit, "check", "layer.json", "--grad", grad_file, "--json", "-",
                        "--no-progress"], capture_output=True, text=True)
    if r.returncode != want_status:
        failures.append("%s: exit %d, expected %d: %s" % (what, r.returncode, want_status,
                                                          r.stderr.strip()))
        return
    doc = json.loads(r.stdout)
    print("ok: %s: exit %d, counts %s" % (what, r.returncode, doc["counts"]))


for dtype in (np.float64, np.float32):
    name = np.dtype(dtype).name
    dW, db = backward(dtype)
    np.savez("g_%s.npz" % name, W1=dW, b1=db)
    check("g_%s.npz" % name, 0, "%s backward" % name)
    dW, db = backward(dtype, forget_tanh=True)
    np.savez("g_%s_notanh.npz" % name, W1=dW, b1=db)
    check("g_%s_notanh.npz" % name, 1, "%s backward without tanh'" % name)
    dW, db = backward(dtype)
    np.save("g_%s_transposed.npy" % name,  # dW^T's entries in W's order: a layout slip
            np.concatenate([dW.T.ravel(), db.ravel()]))
    check("g_%s_transposed.npy" % name, 1, "%s backward, dW transposed" % name)

if failures:
    print("\n".join("FAIL: " + f for f in failures))
    sys.exit(1)
print("the layer's backward judged as expected")
