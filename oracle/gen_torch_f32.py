#!/usr/bin/python3
"""Torch's own float32 (and float64) gradients of spec files, stored as
references that gradaudit's float32 verdicts are judged on
(checks/test_torch_f32.c, docs/verdicts.md "Torch's float32 gradients").

usage: /usr/bin/python3 oracle/gen_torch_f32.py [--gradaudit PROG] [--out DIR] [--max-batch N]
                                                SPEC.json|DIR ...

Run with Debian's interpreter (python3-torch); the defaults are build/gradaudit
and fixtures/reference/torch_f32. A directory stands for the *.json in it. The
stored set is regenerated, from the worktree's root after `ninja -C build`, by

    mkdir -p /tmp/torchf32 && build/bench/dump_specs /tmp/torchf32 400
    rm -f fixtures/reference/torch_f32/*.json
    /usr/bin/python3 oracle/gen_torch_f32.py --max-batch 63 fixtures/specs \\
        fixtures/specs/verdicts /tmp/torchf32/hard_*.json /tmp/torchf32/gate_*.json

dump_specs writes ga_hardnet's cases for the seeds 1 .. 400 as hard_SEED.json
(saturation, cancelling weights, exact and near kinks, huge and tiny numbers,
subnormals, extreme logits, 0/1 targets, rounding ties) and the gate's
ordinary nets (every activation with every loss it pairs with, batches 1, 2,
7, 64, both layouts, seeds 20261122 + n) as gate_SEED.json; --max-batch 63
leaves out the batch-64 ones, which would triple the test's time. Every seed
and every skipped spec is printed with its reason.

For each spec the net's numbers (parameters as `gradaudit eval --params` gives
them, so init recipes draw exactly as gradaudit does; inputs; targets; the
loss scale and weight decay; leaky_relu slopes and elu alphas) are rounded to
float32, to nearest, as float32 code holds them. A spec any of whose numbers
overflows float32, or whose scale rounds to 0, is skipped. The net is then
built in torch from those numbers and its loss and gradient computed by
autograd: in float32 with torch.set_num_threads(1), in float32 with 2 threads,
and in float64 (1 thread) from the same float32-rounded numbers; then once more
in float32 and in float64 with torch's formulas that cancel replaced ("stable",
DerivFromZ and FusedLoss below: sigmoid' and tanh' from z instead of y (1 - y)
and 1 - y^2, elu as alpha expm1(z) with derivative alpha exp(z) instead of
alpha (exp(z) - 1) and expm1's output + 1, gelu through erfc and gelu_tanh
through a sigmoid instead of 1 + erf and 1 + tanh, and the logit losses' dL/dz
written without p - y). The stable gradient tells the test which FAILs of torch's own
gradient come from those formulas alone (torch's value then carries the
cancellation's error, up to all of its digits, not a few roundings). The written file NAME.json holds

    generator, torch, numpy           this script, torch.__version__, np.__version__
    source                            the spec it came from (a file, or
                                      "ga_hardnet seed N (bench/dump_specs)")
    spec                              the spec with every number rounded to float32
                                      (explicit values, data in rows): the problem
                                      torch computed on, exactly
    float32: {threads, loss, grad, threads2_loss, threads2_grad, threads_agree, stable_grad}
    float64: {threads, loss, grad, stable_grad}

numbers as JSON numbers (a float32 value is a double exactly; Python's repr
round-trips), non-finite ones as the strings "nan", "inf", "-inf"; grad in
gradaudit's slab order W1, b1, W2, b2, ... each C order in its stored shape.

The maths is docs/spec.md's, written with torch's own functions where their
maths is the spec's, so that the float32 arithmetic is torch's and not a copy
of gradaudit's formulas:
  layers    column: F.linear(h, W, b) (W stored (out, in)); row: torch.addmm(b, h, W)
  identity, sigmoid, tanh, relu, silu, softmax: torch's (relu'(0) = 0 in torch
            as in the spec: threshold_backward passes the gradient where the
            output is > 0)
  gelu      F.gelu(z): z (1 + erf(z/sqrt2))/2, the spec's z Phi(z)
  gelu_tanh F.gelu(z, approximate='tanh'): z/2 (1 + tanh(sqrt(2/pi) (z + 0.044715 z^3))),
            the spec's, the constant as a float in float32 as the spec allows
  leaky_relu F.leaky_relu(z, slope): z > 0 ? z : slope z, derivative slope at 0, as the spec
  elu       F.elu(z, alpha): derivative alpha exp(z) for z <= 0, so alpha at 0, as the spec
  softplus  F.softplus(z, threshold=T): z itself beyond T. T = 20 (torch's default)
            in float32, where log(1 + exp(z)) and its derivative round to z and 1
            beyond 20; T = 40 in float64, the smallest such point for double
            (torch's 20 is off by 2e-9 there, not the spec's maths)
  mse       F.mse_loss(p, y, reduction='sum')
  bce_logits F.binary_cross_entropy_with_logits(z, y, reduction='sum')
  softmax_ce F.cross_entropy(z, y, reduction='sum') with probability targets:
            sum_k -y_k log_softmax(z)_k, the spec's sum_k y_k (logsumexp(z) - z_k)
  bce       -(y log p + (1 - y) log1p(-p)) on the sigmoid output, the first term only
            where y != 0 and the second only where y != 1 (the spec's 0 log 0 = 0);
            not F.binary_cross_entropy, which clamps log p at -100 and divides its
            derivative by max(p (1 - p), 1e-12), neither of them the spec's maths
  cce       -sum_k y_k log p_k on the softmax output, only where y_k != 0 (0 log 0 = 0)
  reductions sum; mean divides by B n_out; batch_mean by B; then times scale, plus
            weight_decay/2 sum W^2 (weights only)
Every activation and loss of the spec format is expressible; none is skipped.
"""
import argparse
import json
import math
import os
import subprocess
import sys

import numpy as np
import torch
import torch.nn.functional as F

GENERATOR = "oracle/gen_torch_f32.py"


class Skip(Exception):
    """A spec this script cannot or will not express, with the reason."""


def f32(v, what):
    """v rounded to float32 (to nearest, ties to even), as a double."""
    with np.errstate(over="ignore"):
        r = float(np.float32(v))
    if not math.isfinite(r):
        raise Skip(f"{what} = {v!r} overflows float32")
    return r


def rows(data, key, orientation):
    a = np.array(data[key], dtype=np.float64)
    return a.T.copy() if orientation == "columns" else a


def eval_params(prog, path):
    """The spec's parameters in slab order, as gradaudit draws or reads them."""
    out = subprocess.run([prog, "eval", "--params", path], check=True, capture_output=True,
                         text=True).stdout
    names, values = [], []
    for line in out.splitlines():
        if line.startswith("param "):
            _, name, v = line.split()
            names.append(name)
            values.append(float(v))
    return names, values


def problem(prog, path):
    """The spec with every number rounded to float32 (a spec dict, explicit values)."""
    with open(path) as fh:
        spec = json.load(fh)
    layout, n_in = spec["layout"], spec["input"]
    layers = []
    for i, layer in enumerate(spec["layers"]):
        out = {"size": layer["size"], "activation": layer["activation"]}
        if layer["activation"] == "leaky_relu":
            out["slope"] = f32(layer.get("slope", 0.01), f"layers[{i}].slope")
        if layer["activation"] == "elu":
            out["alpha"] = f32(layer.get("alpha", 1.0), f"layers[{i}].alpha")
        layers.append(out)
    loss = dict(spec["loss"])
    loss["scale"] = f32(loss.get("scale", 1.0), "loss.scale")
    if loss["scale"] == 0:
        raise Skip(f"loss.scale = {spec['loss']['scale']!r} rounds to 0 in float32")
    loss["weight_decay"] = f32(loss.get("weight_decay", 0.0), "loss.weight_decay")
    orientation = spec["data"].get("orientation", "rows")
    x = rows(spec["data"], "x", orientation)
    y = rows(spec["data"], "y", orientation)
    names, flat = eval_params(prog, path)
    flat = [f32(v, n) for n, v in zip(names, flat)]
    values, off, fan_in = {}, 0, n_in
    for i, layer in enumerate(layers, start=1):
        n_out = layer["size"]
        shape = (n_out, fan_in) if layout == "column" else (fan_in, n_out)
        W = np.array(flat[off:off + fan_in * n_out]).reshape(shape)
        off += fan_in * n_out
        values[f"W{i}"] = W.tolist()
        values[f"b{i}"] = flat[off:off + n_out]
        off += n_out
        fan_in = n_out
    assert off == len(flat), f"{path}: {len(flat)} parameters, the layers need {off}"
    data = {"x": [[f32(v, f"data.x[{n}][{j}]") for j, v in enumerate(r)] for n, r in enumerate(x)],
            "y": [[f32(v, f"data.y[{n}][{j}]") for j, v in enumerate(r)] for n, r in enumerate(y)]}
    out = {"layout": layout, "input": n_in, "layers": layers, "loss": loss, "data": data,
           "parameters": {"values": values}}
    if "description" in spec:
        out["description"] = spec["description"] + " (every number rounded to float32)"
    return out


def sigmoid_from_z(z):
    """s(z) as 1/(1+e) or e/(1+e), e = exp(-|z|): accurate where 1/(1+exp(-z)) underflows."""
    e = torch.exp(-z.abs())
    return torch.where(z >= 0, 1 / (1 + e), e / (1 + e))


GELU_TANH_C = 0.044715  # the spec's constant; torch holds it as a float in float32


class DerivFromZ(torch.autograd.Function):
    """torch's sigmoid or tanh forward, elu's as alpha expm1(z) (torch 1.13's elu
    is alpha (exp(z) - 1), which cancels near 0), gelu's through erfc and
    gelu_tanh's through a sigmoid (torch's 1 + erf(z/sqrt2) and 1 + tanh(w) cancel
    for z << 0); the derivative from z, not from the output: sigmoid' = e/(1+e)^2,
    tanh' = 4 e2/(1+e2)^2, e = exp(-|z|), e2 = e^2 (no 1 - y cancelling where the
    unit saturates), elu' = alpha exp(z) for z <= 0 (torch's expm1' is its output
    + 1, which cancels for z << 0), gelu' = Phi(z) + z phi(z), gelu_tanh' =
    s + 2 z s(w2) s(-w2) w', s = sigmoid(w2), w2 = 2 sqrt(2/pi) (z + c z^3)."""

    @staticmethod
    def forward(ctx, z, name, alpha):
        ctx.save_for_backward(z)
        ctx.name, ctx.alpha = name, alpha
        if name == "elu":
            return torch.where(z > 0, z, alpha * torch.expm1(torch.clamp(z, max=0)))
        if name == "gelu":
            return z * (0.5 * torch.special.erfc(-z * math.sqrt(0.5)))
        if name == "gelu_tanh":
            return z * sigmoid_from_z(gelu_tanh_w2(z))
        return torch.sigmoid(z) if name == "sigmoid" else torch.tanh(z)

    @staticmethod
    def backward(ctx, g):
        (z,) = ctx.saved_tensors
        if ctx.name == "elu":
            return g * torch.where(z > 0, torch.ones_like(z),
                                   ctx.alpha * torch.exp(torch.clamp(z, max=0))), None, None
        if ctx.name == "gelu":
            pdf = torch.exp(-0.5 * z * z) / math.sqrt(2 * math.pi)
            return g * (0.5 * torch.special.erfc(-z * math.sqrt(0.5)) + z * pdf), None, None
        if ctx.name == "gelu_tanh":
            w2 = gelu_tanh_w2(z)
            e = torch.exp(-w2.abs())
            bump = e / ((1 + e) * (1 + e))  # s(w2) s(-w2), 0 where w2 overflows
            dw2 = 2 * math.sqrt(2 / math.pi) * (1 + 3 * GELU_TANH_C * z * z)
            tail = torch.where(bump > 0, z * bump * dw2, torch.zeros_like(z))
            return g * (sigmoid_from_z(w2) + tail), None, None
        if ctx.name == "sigmoid":
            e = torch.exp(-z.abs())
            return g * (e / ((1 + e) * (1 + e))), None, None
        e2 = torch.exp(-2 * z.abs())
        return g * (4 * e2 / ((1 + e2) * (1 + e2))), None, None


def gelu_tanh_w2(z):
    """2 sqrt(2/pi) (z + c z^3): 1 + tanh(w) = 2 sigmoid(2 w)."""
    return 2 * math.sqrt(2 / math.pi) * (z + GELU_TANH_C * z * z * z)


class FusedLoss(torch.autograd.Function):
    """The loss's terms summed, with dL/dz of the logits written so that nothing
    cancels (ga_loss_sample_dz's formulas): (1-y) s(z) - y s(-z) for bce and
    bce_logits; p_j (Y - y_j) - y_j (1 - p_j) for softmax_ce and cce, 1 - p of the
    largest logit as r/(1+r). torch's value of the loss is kept."""

    @staticmethod
    def forward(ctx, z, y, total, kind):
        ctx.save_for_backward(z, y)
        ctx.softmax = kind in ("softmax_ce", "cce")
        return total.clone()

    @staticmethod
    def backward(ctx, g):
        z, y = ctx.saved_tensors
        if not ctx.softmax:
            return g * ((1 - y) * sigmoid_from_z(z) - y * sigmoid_from_z(-z)), None, None, None
        m, jmax = z.max(dim=1, keepdim=True)
        ez = torch.exp(z - m)
        s = ez.sum(dim=1, keepdim=True)
        r = s - 1
        p = ez / s
        is_max = torch.zeros_like(z, dtype=torch.bool).scatter_(1, jmax, True)
        one_minus_p = torch.where(is_max, r / s, 1 - p)
        Y = y.sum(dim=1, keepdim=True)
        return g * (p * (Y - y) - y * one_minus_p), None, None, None


# torch's function for each activation of the spec format (layer, z, dtype)
ACTIVATIONS = {
    "identity": lambda layer, z, dtype: z,
    "sigmoid": lambda layer, z, dtype: torch.sigmoid(z),
    "tanh": lambda layer, z, dtype: torch.tanh(z),
    "relu": lambda layer, z, dtype: torch.relu(z),
    "leaky_relu": lambda layer, z, dtype: F.leaky_relu(z, layer["slope"]),
    "elu": lambda layer, z, dtype: F.elu(z, layer["alpha"]),
    "softplus": lambda layer, z, dtype: F.softplus(
        z, beta=1, threshold=20 if dtype == torch.float32 else 40),
    "silu": lambda layer, z, dtype: F.silu(z),
    "gelu": lambda layer, z, dtype: F.gelu(z),
    "gelu_tanh": lambda layer, z, dtype: F.gelu(z, approximate="tanh"),
    "softmax": lambda layer, z, dtype: torch.softmax(z, dim=1),
}


def activation(layer, z, dtype, stable=False):
    name = layer["activation"]
    if stable and name in ("sigmoid", "tanh", "elu", "gelu", "gelu_tanh"):
        return DerivFromZ.apply(z, name, layer.get("alpha"))
    if name not in ACTIVATIONS:
        raise Skip(f"activation {name!r} has no torch expression here")
    return ACTIVATIONS[name](layer, z, dtype)


def loss_total(kind, z, p, y):
    """The sum of the spec's terms over the batch (before reduction and scale)."""
    if kind == "mse":
        return F.mse_loss(p, y, reduction="sum")
    if kind == "bce_logits":
        return F.binary_cross_entropy_with_logits(z, y, reduction="sum")
    if kind == "softmax_ce":
        return F.cross_entropy(z, y, reduction="sum")
    if kind == "bce":
        m1, m0 = y != 0, y != 1
        return -(y[m1] * torch.log(p[m1])).sum() - ((1 - y[m0]) * torch.log1p(-p[m0])).sum()
    if kind == "cce":
        m = y != 0
        return -(y[m] * torch.log(p[m])).sum()
    raise Skip(f"loss {kind!r} has no torch expression here")


def run(spec, dtype, threads, stable=False):
    """(loss, gradient in slab order) of the rounded spec computed by torch in dtype.
    stable: torch's formulas that cancel replaced (sigmoid', tanh' and the fused
    losses' dL/dz by DerivFromZ and FusedLoss, elu by expm1), the rest torch's own."""
    torch.set_num_threads(threads)
    vals = spec["parameters"]["values"]
    h = torch.tensor(spec["data"]["x"], dtype=dtype)
    y = torch.tensor(spec["data"]["y"], dtype=dtype)
    params, Ws = [], []
    for i, layer in enumerate(spec["layers"], start=1):
        W = torch.tensor(vals[f"W{i}"], dtype=dtype, requires_grad=True)
        b = torch.tensor(vals[f"b{i}"], dtype=dtype, requires_grad=True)
        params += [W, b]
        Ws.append(W)
        z = F.linear(h, W, b) if spec["layout"] == "column" else torch.addmm(b, h, W)
        h = activation(layer, z, dtype, stable)
    loss = spec["loss"]
    total = loss_total(loss["type"], z, h, y)
    if stable and loss["type"] != "mse":
        total = FusedLoss.apply(z, y, total.detach(), loss["type"])
    batch, n_out = y.shape
    total = total / {"sum": 1, "mean": batch * n_out, "batch_mean": batch}[loss["reduction"]]
    L = loss["scale"] * total
    if loss["weight_decay"] != 0:
        L = L + loss["weight_decay"] / 2 * sum((W ** 2).sum() for W in Ws)
    L.backward()
    grad = torch.cat([t.grad.reshape(-1) for t in params])
    return L.item(), [float(v) for v in grad.tolist()]


def num(v):
    return v if math.isfinite(v) else ("nan" if math.isnan(v) else ("inf" if v > 0 else "-inf"))


def bits_equal(a, b):
    return np.array_equal(np.array(a, dtype=np.float64).view(np.int64),
                          np.array(b, dtype=np.float64).view(np.int64))


def source_name(path):
    """A temporary dump_specs file is named by its generator and seed."""
    base = os.path.basename(path)
    if base.startswith("hard_"):
        return f"ga_hardnet seed {base[5:-5]} (bench/dump_specs)"
    if base.startswith("gate_"):
        return f"test_gate case seed {base[5:-5]} (bench/dump_specs)"
    return os.path.relpath(path)


def reference(prog, path):
    spec = problem(prog, path)
    loss1, grad1 = run(spec, torch.float32, 1)
    loss2, grad2 = run(spec, torch.float32, 2)
    loss64, grad64 = run(spec, torch.float64, 1)
    _, sgrad1 = run(spec, torch.float32, 1, stable=True)
    _, sgrad64 = run(spec, torch.float64, 1, stable=True)
    return {
        "generator": GENERATOR, "torch": torch.__version__, "numpy": np.__version__,
        "source": source_name(path), "spec": spec,
        "float32": {"threads": 1, "loss": num(loss1), "grad": [num(v) for v in grad1],
                    "threads2_loss": num(loss2), "threads2_grad": [num(v) for v in grad2],
                    "threads_agree": bits_equal([loss1] + grad1, [loss2] + grad2),
                    "stable_grad": [num(v) for v in sgrad1]},
        "float64": {"threads": 1, "loss": num(loss64), "grad": [num(v) for v in grad64],
                    "stable_grad": [num(v) for v in sgrad64]},
    }


def out_name(path):
    """hard_12.json, first-draft.json, verdicts_fail_cancel.json."""
    base = os.path.basename(path)
    parent = os.path.basename(os.path.dirname(os.path.abspath(path)))
    return base if parent in ("specs", "torchf32") or base.startswith(("hard_", "gate_")) \
        else f"{parent}_{base}"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--gradaudit", default="build/gradaudit")
    ap.add_argument("--out", default="fixtures/reference/torch_f32")
    ap.add_argument("--max-batch", type=int, default=0,
                    help="skip specs with more samples (0: no limit)")
    ap.add_argument("specs", nargs="+")
    args = ap.parse_args()
    torch.set_flush_denormal(False)
    paths = []
    for p in args.specs:
        paths += sorted(os.path.join(p, f) for f in os.listdir(p) if f.endswith(".json")) \
            if os.path.isdir(p) else [p]
    os.makedirs(args.out, exist_ok=True)
    print(f"torch {torch.__version__}, numpy {np.__version__}")
    written = skipped = disagree = 0
    for path in paths:
        name = out_name(path)
        if name.startswith("hard_"):
            print(f"hardnet seed {name[5:-5]}")
        try:
            with open(path) as fh:
                data = json.load(fh)["data"]
            batch = len(data["x"][0] if data.get("orientation") == "columns" else data["x"])
            if args.max_batch and batch > args.max_batch:
                raise Skip(f"batch {batch} > --max-batch {args.max_batch}")
            ref = reference(args.gradaudit, path)
        except Skip as e:
            print(f"skip {path}: {e}")
            skipped += 1
            continue
        except (subprocess.CalledProcessError, KeyError) as e:
            print(f"skip {path}: not a spec gradaudit evaluates ({e})")
            skipped += 1
            continue
        disagree += not ref["float32"]["threads_agree"]
        tmp = os.path.join(args.out, name + ".tmp")
        with open(tmp, "w") as fh:
            json.dump(ref, fh, indent=None, separators=(",", ":"))
            fh.write("\n")
        os.replace(tmp, os.path.join(args.out, name))
        written += 1
    print(f"{written} references in {args.out}, {skipped} specs skipped, "
          f"{disagree} with float32 results that differ between 1 and 2 threads")


if __name__ == "__main__":
    sys.exit(main())
