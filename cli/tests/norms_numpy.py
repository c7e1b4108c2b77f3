#!/usr/bin/python3
"""gradaudit norms on files a NumPy training loop writes with the three lines of
docs/norms.md, run now with Debian's python3-numpy (exit 77, meson's SKIP, with
a message when NumPy is missing: nothing was checked).

Checked against NumPy on the same arrays: every norm bit for bit against the
same operations in NumPy (fixtures/norms/make_npz.py: norm_same_order), within
(gamma_n + 2u) of np.linalg.norm, max |g| bit for bit; every update ratio, from
the parameters saved beside the gradients, bit for bit against
norm_same_order(p - p_before) / norm_same_order(p_before); rows in step order.
usage: norms_numpy.py GRADAUDIT SOURCE_ROOT"""
import csv
import math
import os
import subprocess
import sys

from numpy_run import numpy_or_skip, setup

np = numpy_or_skip("gradaudit norms was not checked against a live NumPy loop")
gradaudit, root, work = setup("ga_norms_numpy_")
sys.path.insert(0, os.path.join(root, "fixtures", "norms"))
from make_npz import norm_same_order, sigmoid  # noqa: E402

# A tutorial's loop (3-5-1 sigmoid MLP, full batch), with the documented lines.
np.random.seed(3)
X = np.random.randn(16, 3)
y = (X[:, :1] * X[:, 1:2] > 0).astype(float)
W1, b1 = np.random.randn(3, 5), np.zeros((1, 5))
W2, b2 = np.random.randn(5, 1), np.zeros((1, 1))
import os; os.makedirs("grads", exist_ok=True)                            # line 1  # noqa
saved = {}
for i in range(12):
    h = sigmoid(X @ W1 + b1)
    p = sigmoid(h @ W2 + b2)
    loss = np.mean((p - y) ** 2)
    dp = 2 * (p - y) / len(X) * p * (1 - p)
    dW2, db2 = h.T @ dp, dp.sum(axis=0, keepdims=True)
    dh = dp @ W2.T * h * (1 - h)
    dW1, db1 = X.T @ dh, dh.sum(axis=0, keepdims=True)
    np.savez(f"grads/step{i:06d}.npz", dW1=dW1, db1=db1, dW2=dW2, db2=db2,           # line 2
             W1=W1, b1=b1, W2=W2, b2=b2, loss=loss)
    saved[i] = ({"dW1": dW1.copy(), "db1": db1.copy(), "dW2": dW2.copy(), "db2": db2.copy()},
                float(loss), {"dW1": W1.copy(), "db1": b1.copy(), "dW2": W2.copy(),
                              "db2": b2.copy()})
    W1 -= 1.0 * dW1; b1 -= 1.0 * db1; W2 -= 1.0 * dW2; b2 -= 1.0 * db2  # noqa: E702
r = subprocess.run([gradaudit, "norms", "grads", "-o", "norms.csv"],                # line 3
                   capture_output=True, text=True)
if r.returncode != 0:
    print("FAIL: gradaudit norms exited %d: %s" % (r.returncode, r.stderr))
    sys.exit(1)

u = 2.0 ** -53
failures = checked = 0
with open("norms.csv", newline="") as f:
    rows = list(csv.DictReader(f))
if [int(r["step"]) for r in rows] != list(range(12)):
    print("FAIL: steps %s" % [r["step"] for r in rows])
    sys.exit(1)
for row in rows:
    step = int(row["step"])
    arrays, loss, params = saved[step]
    if float(row["loss"]) != loss:
        print("FAIL: step %s loss %s != %r" % (row["step"], row["loss"], loss))
        failures += 1
    norms = []
    for name, x in arrays.items():
        got = float(row["grad_norm_" + name])
        same, lin = norm_same_order(x), float(np.linalg.norm(x))
        norms.append(same)
        bound = (x.size * u / (1 - x.size * u) + 2 * u) * lin
        mx = float(np.max(np.abs(x)))
        if got != same or abs(got - lin) > bound or float(row["grad_max_abs_" + name]) != mx:
            print("FAIL: step %s %s: gradaudit %r, NumPy same order %r, np.linalg.norm %r, "
                  "max_abs %s vs %r" % (row["step"], name, got, same, lin,
                                        row["grad_max_abs_" + name], mx))
            failures += 1
        checked += 1
        # the update since the step before, relative to the parameters then
        got = row["update_ratio_" + name]
        if step == 0:
            ok, want = got == "", "empty"
        else:
            q = saved[step - 1][2][name]
            with np.errstate(divide="ignore", invalid="ignore"):  # b1 starts at 0: inf
                want = float(np.float64(norm_same_order(params[name] - q))
                             / np.float64(norm_same_order(q)))
            ok = float(got) == want or (math.isnan(float(got)) and math.isnan(want))
        if not ok:
            print("FAIL: step %d update_ratio_%s %r, NumPy in the same order %r"
                  % (step, name, got, want))
            failures += 1
        checked += 1
    g = float(row["global_norm"])
    if g != norm_same_order(np.array(norms)):
        print("FAIL: step %s global %r vs %r" % (row["step"], g, norm_same_order(np.array(norms))))
        failures += 1
    checked += 1
print("%d norms and update ratios checked against NumPy %s, %d failures" % (checked, np.__version__, failures))
sys.exit(1 if failures else 0)
