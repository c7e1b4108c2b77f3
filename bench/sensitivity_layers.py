#!/usr/bin/python3
"""The smallest relative error `gradaudit check` detects on the layer fixtures (issue 14).

For each entry the check FAILs an analytic value whose distance to the exact one exceeds the
entry's tolerance; tol / |exact| is therefore the smallest relative error detected there. This
prints its median and 90th percentile over the entries of fixtures/specs/lenet-like.json,
gpt-block-like.json and gpt2-like.json (entries whose exact value is 0 left out), for the core's
own float64 gradient (the tight enclosure) and, with --whole, as a gradient from code of its own
(the whole enclosure alone).

    /usr/bin/python3 bench/sensitivity_layers.py build/gradaudit [--whole]
"""
import csv
import os
import statistics
import subprocess
import sys
import tempfile

prog = sys.argv[1] if len(sys.argv) > 1 else "build/gradaudit"
root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
for name in ["lenet-like", "gpt-block-like", "gpt2-like"]:
    spec = os.path.join(root, "fixtures", "specs", name + ".json")
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "entries.csv")
        args = [prog, "check", spec, "--csv", out]
        if "--whole" in sys.argv:  # the core's own gradient handed back as someone else's
            grad = os.path.join(tmp, "grad.csv")
            ev = subprocess.run([prog, "eval", spec], capture_output=True, text=True, check=True)
            with open(grad, "w") as f:
                for line in ev.stdout.splitlines():
                    if line.startswith("grad "):
                        f.write(line.split()[2] + "\n")
            args += ["--grad", grad]
        subprocess.run(args, capture_output=True, check=True)
        rows = list(csv.DictReader(open(out)))
    rel = sorted(float(r["tol"]) / abs(float(r["oracle"])) for r in rows
                 if r["verdict"] == "pass" and float(r["oracle"]) != 0)
    print("%-15s %5d entries  median %.2e  90%% %.2e  (%d pass, %d exact zeros left out)"
          % (name, len(rows), statistics.median(rel), rel[int(0.9 * len(rel))], len(rel),
             sum(1 for r in rows if float(r["oracle"]) == 0)))
