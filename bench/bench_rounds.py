#!/usr/bin/python3
"""Rounds of the oracle check against torch.autograd.gradcheck, side by side.

Each round runs, one after the other, each in a fresh process:
  build/bench/bench_check SEED - ENGINE   (the check with its default cross-check)
  build/bench/bench_check SEED 0 ENGINE   (the verdicts alone)
  bench/bench_gradcheck.py SEED 2     (gradcheck, fast_mode=False, 2 threads)
and pairs the three times of each width within the round. Prints, per width,
the median and the range over the rounds of each time and of the two ratios
(gradcheck / check), so one noisy round shows as a range instead of a figure.
ENGINE is the oracle's route (b), ball (the default) or mpfr; REPS (default
1) repetitions of each program's every check within its process, the
fastest taken (a first call's costs and a busy machine's spikes left out).
Usage: /usr/bin/python3 bench/bench_rounds.py [ROUNDS] [SEED] [ENGINE] [REPS]   (from the root)
"""
import statistics
import subprocess
import sys

rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 9
seed = sys.argv[2] if len(sys.argv) > 2 else "2026"
engine = sys.argv[3] if len(sys.argv) > 3 else "ball"
reps = sys.argv[4] if len(sys.argv) > 4 else "1"


def times(cmd):
    """{width: seconds} from the table a bench program prints."""
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    t = {}
    for line in out.splitlines():
        f = line.split()
        if f and f[0].isdigit():
            t[int(f[0])] = float(f[2])
    return t


runs = {"cross": [], "verdicts": [], "gradcheck": []}
for _ in range(rounds):
    runs["cross"].append(times(["build/bench/bench_check", seed, "-", engine, "128", reps]))
    runs["verdicts"].append(times(["build/bench/bench_check", seed, "0", engine, "128", reps]))
    runs["gradcheck"].append(times([sys.executable, "bench/bench_gradcheck.py", seed, "2", reps]))


def cell(v, fmt):
    return f"{fmt % statistics.median(v)} [{fmt % min(v)}-{fmt % max(v)}]"


print(f"# {rounds} rounds, seed {seed}, engine {engine}, fastest of {reps} in each: median [min-max]; ratios paired within each round")
print("| w | check, with cross-check (s) | verdicts only (s) | gradcheck (s) "
      "| ratio, with cross-check | ratio, verdicts only |")
print("|--:|--:|--:|--:|--:|--:|")
for w in sorted(runs["gradcheck"][0]):
    c = [r[w] for r in runs["cross"]]
    v = [r[w] for r in runs["verdicts"]]
    g = [r[w] for r in runs["gradcheck"]]
    rc = [g[i] / c[i] for i in range(rounds)]
    rv = [g[i] / v[i] for i in range(rounds)]
    print(f"| {w} | {cell(c, '%.4f')} | {cell(v, '%.4f')} | {cell(g, '%.4f')} "
          f"| {cell(rc, '%.1f')} | {cell(rv, '%.1f')} |")
