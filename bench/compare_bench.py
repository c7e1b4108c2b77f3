#!/usr/bin/env python3
"""compare_bench.py: times of two builds side by side, in alternating rounds.

    bench/compare_bench.py BASE_BUILD NEW_BUILD [ROUNDS]   (default 5)

For issue 13's "no slower than" targets: each round runs, from both builds one
after the other, bench_check 2026 (the oracle check, w = 8..64: the gradaudit
side of bench_rounds.py), bench_core 512 8 256 5 (the double core; best of 5)
and bench_mcscale 64 4 16 20 (the Monte Carlo rounding scale; best of 20).
Prints, per figure, the median over rounds of each build's time and the median
of the per-round ratios new/base (above 1: the new build is slower), with the
range. A build without bench_mcscale (older than it) is given one compiled by
hand as BASE_BUILD/bench/bench_mcscale if present, else that row is skipped.
"""
import os
import re
import statistics
import subprocess
import sys


def run(cmd):
    return subprocess.run(cmd, capture_output=True, text=True, check=True).stdout


def figures(build):
    out = {}
    text = run([os.path.join(build, "bench", "bench_check"), "2026"])
    for line in text.splitlines():
        f = line.split()
        if f and f[0].isdigit():
            out["check w=%s" % f[0]] = float(f[2])
    text = run([os.path.join(build, "bench", "bench_core"), "512", "8", "256", "5"])
    out["core 512x8 B256"] = float(re.search(r"best ([0-9.]+) ms", text).group(1)) / 1e3
    mc = os.path.join(build, "bench", "bench_mcscale")
    if os.path.exists(mc):
        text = run([mc, "64", "4", "16", "20"])
        out["mcscale 64x4 B16"] = float(re.search(r"best ([0-9.]+) s", text).group(1))
    return out


def main():
    base, new = sys.argv[1], sys.argv[2]
    rounds = int(sys.argv[3]) if len(sys.argv) > 3 else 5
    rows = {}
    for _ in range(rounds):
        b, n = figures(base), figures(new)
        for k in n:
            if k in b:
                rows.setdefault(k, []).append((b[k], n[k]))
    print("%-18s %12s %12s %8s %16s" % ("figure", "base s", "new s", "ratio", "ratio range"))
    for k, v in rows.items():
        r = [n / b for b, n in v]
        print("%-18s %12.4f %12.4f %8.2f %7.2f-%-8.2f" % (
            k, statistics.median(b for b, _ in v), statistics.median(n for _, n in v),
            statistics.median(r), min(r), max(r)))


if __name__ == "__main__":
    main()
