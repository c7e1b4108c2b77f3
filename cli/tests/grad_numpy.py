#!/usr/bin/python3
"""gradaudit check SPEC --grad FILE on the gradient a NumPy script computes by
hand, as a tutorial reader would (docs/gradfiles.md), run now with Debian's
python3-numpy (exit 77, meson's SKIP, with a message when NumPy is missing:
nothing was checked).

For two specs of fixtures/specs (first-draft: row layout, X @ W, a square W1;
wrapping-your-head: column layout, W @ x) the script builds the net from the
spec's JSON, runs the forward pass and a hand-written backward pass in
NumPy, saves the gradient with the documented snippet, and expects:
  - exit 0 and no FAIL, for the .npz, the same gradient transposed (a
    tutorial's other layout), a flat .npy and an np.savetxt CSV;
  - exit 1 and exactly the perturbed entry FAIL, named, when one entry of the
    saved gradient is moved by 1e-6 relative;
the same in float32: the script's arithmetic in np.float32, the .npz float32
and a CSV of 9-digit decimals read with --grad-dtype float32, judged against
the float32 enclosure (one entry moved by 1e-4 relative: FAIL).
usage: grad_numpy.py GRADAUDIT SOURCE_ROOT"""
import json
import os
import shutil
import subprocess
import sys

from numpy_run import numpy_or_skip, setup

np = numpy_or_skip("gradaudit check --grad was not tried on NumPy's files")
gradaudit, root, work = setup("ga_grad_numpy_")
failures = []


def stored_shape(layout, n_in, n_out, bias):
    if bias:
        return (n_out, 1) if layout == "column" else (1, n_out)
    return (n_out, n_in) if layout == "column" else (n_in, n_out)


def build(spec):
    """params {W1: ..., b1: ...} in the spec's stored shapes, X (B, n_in), Y (B, n_out):
    the draws of spec.md's init (np.random.seed, then each tensor of `order` in turn)"""
    layout, sizes = spec["layout"], [spec["input"]] + [l["size"] for l in spec["layers"]]
    shapes = {}
    for l in range(1, len(sizes)):
        shapes["W%d" % l] = stored_shape(layout, sizes[l - 1], sizes[l], False)
        shapes["b%d" % l] = stored_shape(layout, sizes[l - 1], sizes[l], True)
    p = spec["parameters"]
    if "values" in p:
        params = {n: np.array(v, dtype=float).reshape(shapes[n]) for n, v in p["values"].items()}
    else:
        init = p["init"]
        np.random.seed(init["seed"])
        order = init.get("order", list(shapes))
        recipe = {n: init.get("tensors", {}).get(n, init.get("default")) for n in shapes}
        params = {}
        for n in order + [n for n in shapes if n not in order]:
            r = recipe[n]
            draw = {"randn": np.random.randn, "rand": np.random.rand}.get(r["scheme"])
            if draw and n in order:
                params[n] = draw(*r.get("shape", shapes[n])).reshape(shapes[n])
            elif r["scheme"] == "zeros":
                params[n] = np.zeros(shapes[n])
            else:
                raise SystemExit("grad_numpy.py: scheme %s not built here" % r["scheme"])
    d = spec["data"]
    X, Y = np.array(d["x"], dtype=float), np.array(d["y"], dtype=float)
    if d.get("orientation") == "columns":
        X, Y = X.T, Y.T
    return params, X, Y


def sigmoid(z):
    return 1 / (1 + np.exp(-z))


def forward_backward(spec, params, X, Y, dtype):
    """a tutorial's own code: sigmoid layers, mse with the spec's scale and
    reduction; row layout as A @ W + b on (B, n), column as W @ A + b on (n, B)"""
    row, L = spec["layout"] == "row", len(spec["layers"])
    assert all(l["activation"] == "sigmoid" for l in spec["layers"])
    loss = spec["loss"]
    assert loss["type"] == "mse" and loss.get("weight_decay", 0) == 0
    P = {n: v.astype(dtype) for n, v in params.items()}
    A = [X.astype(dtype) if row else X.T.astype(dtype)]
    for l in range(1, L + 1):
        W, b = P["W%d" % l], P["b%d" % l]
        A.append(sigmoid(A[-1] @ W + b if row else W @ A[-1] + b))
    T = Y.astype(dtype) if row else Y.T.astype(dtype)
    n = {"sum": 1, "mean": T.size, "batch_mean": len(X)}[loss["reduction"]]
    dA = dtype(loss.get("scale", 1)) * 2 * (A[-1] - T) / dtype(n)
    grads = {}
    for l in range(L, 0, -1):
        dZ = dA * A[l] * (1 - A[l])
        W = P["W%d" % l]
        if row:
            grads["W%d" % l], grads["b%d" % l] = A[l - 1].T @ dZ, dZ.sum(axis=0, keepdims=True)
            dA = dZ @ W.T
        else:
            grads["W%d" % l], grads["b%d" % l] = dZ @ A[l - 1].T, dZ.sum(axis=1, keepdims=True)
            dA = W.T @ dZ
    return grads


def check(spec_path, grad_file, want_status, want_fail=None, extra=()):
    r = subprocess.run([gradaudit, "check", spec_path, "--grad", grad_file, "--json", "-",
                        "--no-progress"] + list(extra), capture_output=True, text=True)
    what = "%s --grad %s %s" % (os.path.basename(spec_path), grad_file, " ".join(extra))
    if r.returncode != want_status:
        failures.append("%s: exit %d, expected %d: %s" % (what, r.returncode, want_status,
                                                          r.stderr.strip()))
        return r
    if want_status == 2:
        return r
    doc = json.loads(r.stdout)
    fails = [e["name"] for e in doc["entries"] if e["verdict"] == "FAIL"]
    if fails != ([want_fail] if want_fail else []):
        failures.append("%s: FAIL entries %s, expected %s" % (what, fails, want_fail or "none"))
    if doc["counts"]["FAIL"] != len(fails):
        failures.append("%s: counts.FAIL %d, %d entries FAIL" % (what, doc["counts"]["FAIL"],
                                                                 len(fails)))
    print("ok: %s: exit %d, %d pass, FAIL %s" % (what, r.returncode, doc["counts"]["pass"],
                                                 fails or "none"))
    return r


for name in ["first-draft", "wrapping-your-head"]:
    spec_path = os.path.join(root, "fixtures", "specs", name + ".json")
    with open(spec_path) as f:
        spec = json.load(f)
    params, X, Y = build(spec)
    g = forward_backward(spec, params, X, Y, np.float64)
    dW1, db1, dW2, db2 = g["W1"], g["b1"], g["W2"], g["b2"]
    # the snippet of docs/gradfiles.md, as a reader adds it after their backward pass
    np.savez("grads.npz", W1=dW1, b1=db1, W2=dW2, b2=db2)                   # line 1
    check(spec_path, "grads.npz", 0)                                         # lines 2-3
    # the other layout (a reader whose code holds W transposed), a flat .npy, a CSV
    np.savez("grads_t.npz", W1=dW1.T, b1=db1.ravel(), W2=dW2.T, b2=db2.ravel())
    check(spec_path, "grads_t.npz", 0)
    flat = np.concatenate([g[n].ravel() for n in ["W1", "b1", "W2", "b2"]])
    np.save("grads.npy", flat)
    check(spec_path, "grads.npy", 0)
    np.savetxt("grads.csv", flat)
    check(spec_path, "grads.csv", 0)
    # one entry moved by 1e-6 relative: exactly it FAILs, by its name
    bad = dW2.copy()
    bad.flat[bad.size - 1] *= 1 + 1e-6
    np.savez("grads_bad.npz", W1=dW1, b1=db1, W2=bad, b2=db2)
    rows, cols = dW2.shape
    check(spec_path, "grads_bad.npz", 1, "W2[%d,%d]" % (rows - 1, cols - 1))

    # float32: the script's arithmetic in np.float32, saved as float32 (.npz) and as
    # decimals of 9 digits (a CSV, --grad-dtype float32); a float32 gradient is
    # judged at float32's unit roundoff, so the entry moved is moved by 1e-4
    # relative (the least move caught on every entry of these specs: 1e-5 is
    # within the tolerance of some)
    g32 = forward_backward(spec, params, X, Y, np.float32)
    np.savez("grads32.npz", **g32)
    check(spec_path, "grads32.npz", 0)
    np.savetxt("grads32.csv", np.concatenate([g32[n].ravel() for n in ["W1", "b1", "W2", "b2"]]),
               fmt="%.9g")
    check(spec_path, "grads32.csv", 0, extra=("--grad-dtype", "float32"))
    bad = g32["W2"].copy()
    bad.flat[bad.size - 1] *= np.float32(1 + 1e-4)
    np.savez("grads32_bad.npz", **dict(g32, W2=bad))
    check(spec_path, "grads32_bad.npz", 1, "W2[%d,%d]" % (rows - 1, cols - 1))

if failures:
    print("\n".join("FAIL: " + f for f in failures))
    sys.exit(1)
print("all gradients read and judged as expected")
shutil.rmtree(work)
