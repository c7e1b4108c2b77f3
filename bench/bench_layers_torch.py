"""The peer of bench_layers.c: forward + backward (loss, then .backward()) of the
same two nets in torch float64 on the CPU, and the writer of the two spec files
both programs read.

usage:
  /usr/bin/python3 bench/bench_layers_torch.py write DIR
      writes DIR/cnn.json and DIR/gpt.json (explicit parameter values and data,
      NumPy's legacy stream seeded 14; the output is deterministic)
  /usr/bin/python3 bench/bench_layers_torch.py DIR/cnn.json DIR/gpt.json [THREADS REPS]
      times each spec's loss and backward, median (and best) of REPS repetitions
      after one warm-up, with torch.set_num_threads(THREADS) (default 1, 20)

The nets (docs/spec.md's maths; the layers torch users write for them):
  cnn  batch 32 of 1x28x28 images in [0, 1): conv 3x3 to 8 channels relu (8x26x26),
       max pool 2 (8x13x13), conv 3x3 to 16 channels relu (16x11x11), max pool 2
       (16x5x5, the last row and column dropped), dense 400 -> 10, softmax
       cross-entropy (batch_mean: F.cross_entropy's mean); 5,258 parameters
  gpt  batch 8 of T = 32 tokens, vocabulary 256, width d = 64, 4 heads: token
       embedding, learned position bias (T d), layer norm, qkv projection (d -> 3d),
       causal self-attention (scores times 1/sqrt(16), softmax, weights times v),
       projection (d -> d), residual from the position bias, layer norm, MLP
       (d -> 4d gelu_tanh -> d), residual, layer norm, vocabulary projection
       (d -> 256), softmax cross-entropy per token (mean over the B T tokens);
       every dense layer is per token (its W shared by the tokens); 85,184 parameters
Both programs print the loss: they agree to rounding (the sums are in different orders).
"""
import json
import math
import os
import sys
import time

import numpy as np

CNN_B, GPT_B, T, D, H, V = 32, 8, 32, 64, 4, 256


def write_specs(out):
    rs = np.random.RandomState(14)
    os.makedirs(out, exist_ok=True)
    # CNN
    x = rs.rand(CNN_B, 28 * 28)
    labels = rs.randint(0, 10, size=CNN_B)
    vals = {
        "W1": rs.randn(8, 9) * math.sqrt(2 / 9), "b1": 0.1 * rs.randn(8),
        "W3": rs.randn(16, 72) * math.sqrt(2 / 72), "b3": 0.1 * rs.randn(16),
        "W5": rs.randn(400, 10) * math.sqrt(1 / 400), "b5": 0.1 * rs.randn(10),
    }
    cnn = {
        "description": "bench_layers CNN: LeNet-like, batch 32, 1x28x28",
        "layout": "row", "input": 784,
        "layers": [
            {"type": "conv2d", "in_shape": [1, 28, 28], "channels": 8, "kernel": 3, "activation": "relu"},
            {"type": "maxpool2d", "in_shape": [8, 26, 26], "kernel": 2},
            {"type": "conv2d", "in_shape": [8, 13, 13], "channels": 16, "kernel": 3, "activation": "relu"},
            {"type": "maxpool2d", "in_shape": [16, 11, 11], "kernel": 2},
            {"size": 10, "activation": "identity"},
        ],
        "loss": {"type": "softmax_ce", "reduction": "batch_mean"},
        "data": {"x": x.tolist(), "y": np.eye(10)[labels].tolist()},
        "parameters": {"values": {k: v.tolist() for k, v in vals.items()}},
    }
    # GPT-2-like block
    ids = rs.randint(0, V, size=(GPT_B, T + 1))
    y = np.zeros((GPT_B, T * V))
    for n in range(GPT_B):
        for t in range(T):
            y[n, t * V + ids[n, t + 1]] = 1.0  # the next token
    lecun = lambda i, o: rs.randn(i, o) * math.sqrt(1 / i)  # noqa: E731
    vals = {"E1": 0.2 * rs.randn(V, D), "P2": 0.2 * rs.randn(T * D),
            "gamma3": np.ones(D), "beta3": np.zeros(D),
            "W4": lecun(D, 3 * D), "b4": 0.02 * rs.randn(3 * D),
            "W6": lecun(D, D), "b6": 0.02 * rs.randn(D),
            "gamma8": np.ones(D), "beta8": np.zeros(D),
            "W9": lecun(D, 4 * D), "b9": 0.02 * rs.randn(4 * D),
            "W10": lecun(4 * D, D), "b10": 0.02 * rs.randn(D),
            "gamma12": np.ones(D), "beta12": np.zeros(D),
            "W13": lecun(D, V), "b13": 0.02 * rs.randn(V)}
    gpt = {
        "description": "bench_layers GPT-2-like block: batch 8, T 32, d 64, 4 heads, vocabulary 256",
        "layout": "row", "input": T,
        "layers": [
            {"type": "embedding", "vocab": V, "dim": D},
            {"type": "bias"},
            {"type": "layernorm", "tokens": T},
            {"size": 3 * D, "tokens": T, "activation": "identity"},
            {"type": "attention", "tokens": T, "heads": H},
            {"size": D, "tokens": T, "activation": "identity"},
            {"type": "residual", "from": 2},
            {"type": "layernorm", "tokens": T},
            {"size": 4 * D, "tokens": T, "activation": "gelu_tanh"},
            {"size": D, "tokens": T, "activation": "identity"},
            {"type": "residual", "from": 7},
            {"type": "layernorm", "tokens": T},
            {"size": V, "tokens": T, "activation": "identity"},
        ],
        "loss": {"type": "softmax_ce", "reduction": "batch_mean"},
        "data": {"x": ids[:, :T].astype(float).tolist(), "y": y.tolist()},
        "parameters": {"values": {k: v.tolist() for k, v in vals.items()}},
    }
    for name, spec in (("cnn.json", cnn), ("gpt.json", gpt)):
        with open(os.path.join(out, name), "w") as f:
            json.dump(spec, f)
            f.write("\n")
        print(os.path.join(out, name), sum(np.size(v) for v in spec["parameters"]["values"].values()),
              "parameters")


def load(path, torch):
    spec = json.load(open(path))
    P = {k: torch.tensor(np.array(v, dtype=np.float64), requires_grad=True)
         for k, v in spec["parameters"]["values"].items()}
    x = np.array(spec["data"]["x"], dtype=np.float64)
    y = np.array(spec["data"]["y"], dtype=np.float64)
    return spec, P, x, y


def cnn_step(P, x, labels, F):
    B = x.shape[0]
    h = F.relu(F.conv2d(x.reshape(B, 1, 28, 28), P["W1"].reshape(8, 1, 3, 3), P["b1"]))
    h = F.max_pool2d(h, 2)
    h = F.relu(F.conv2d(h, P["W3"].reshape(16, 8, 3, 3), P["b3"]))
    h = F.max_pool2d(h, 2)
    z = h.reshape(B, -1) @ P["W5"] + P["b5"]
    return F.cross_entropy(z, labels)


def gpt_step(P, ids, labels, F, torch):
    B = ids.shape[0]
    hs = D // H
    m = 1.0 / math.sqrt(hs)
    e = F.embedding(ids, P["E1"]).reshape(B, T * D)
    x2 = e + P["P2"]
    h = F.layer_norm(x2.reshape(B, T, D), (D,), P["gamma3"], P["beta3"], eps=1e-5)
    qkv = h @ P["W4"] + P["b4"]
    q, k, v = qkv.split(D, dim=2)
    q, k, v = (t.reshape(B, T, H, hs).transpose(1, 2) for t in (q, k, v))
    s = (q @ k.transpose(-2, -1)) * m
    s = s.masked_fill(torch.triu(torch.ones(T, T, dtype=torch.bool), 1), float("-inf"))
    a = (torch.softmax(s, dim=-1) @ v).transpose(1, 2).reshape(B, T, D)
    x7 = (a @ P["W6"] + P["b6"]) + x2.reshape(B, T, D)
    h = F.layer_norm(x7, (D,), P["gamma8"], P["beta8"], eps=1e-5)
    h = F.gelu(h @ P["W9"] + P["b9"], approximate="tanh")
    x11 = (h @ P["W10"] + P["b10"]) + x7
    h = F.layer_norm(x11, (D,), P["gamma12"], P["beta12"], eps=1e-5)
    z = h @ P["W13"] + P["b13"]
    return F.cross_entropy(z.reshape(B * T, V), labels.reshape(-1))


def bench(paths, threads, reps):
    import torch
    import torch.nn.functional as F
    torch.set_num_threads(threads)
    for path in paths:
        spec, P, x, y = load(path, torch)
        if spec["layers"][0].get("type") == "embedding":
            ids = torch.tensor(x.astype(np.int64))
            labels = torch.tensor(y.reshape(-1, V).argmax(axis=1).reshape(x.shape[0], T))
            fn = lambda: gpt_step(P, ids, labels, F, torch)  # noqa: E731
            name = "gpt"
        else:
            xt = torch.tensor(x)
            labels = torch.tensor(y.argmax(axis=1))
            fn = lambda: cnn_step(P, xt, labels, F)  # noqa: E731
            name = "cnn"

        def step():
            for p in P.values():
                p.grad = None
            loss = fn()
            loss.backward()
            return loss.item()

        loss = step()  # warm-up
        times = []
        for _ in range(reps):
            t0 = time.perf_counter()
            loss = step()
            times.append(time.perf_counter() - t0)
        times.sort()
        n_params = sum(p.numel() for p in P.values())
        print(f"torch {torch.__version__} float64, {torch.get_num_threads()} thread(s): {name} "
              f"({os.path.basename(path)}, {n_params} parameters, batch {x.shape[0]}): median "
              f"{1e3 * times[reps // 2]:.3f} ms, best {1e3 * times[0]:.3f} ms, loss {loss:.12g}")


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "write":
        write_specs(sys.argv[2])
    elif len(sys.argv) >= 2 and sys.argv[1] != "write":
        files = [a for a in sys.argv[1:] if a.endswith(".json")]
        rest = [int(a) for a in sys.argv[1:] if not a.endswith(".json")]
        threads, reps = (rest + [1, 20][len(rest):])[:2]
        bench(files, threads, reps)
    else:
        sys.exit(__doc__)
