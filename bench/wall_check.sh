#!/usr/bin/env bash
# wall_check.sh PROGRAM SPEC N: median, best and worst wall time (ms) of
# `PROGRAM check SPEC` over N runs (date +%s%N around each; output discarded)
set -uo pipefail
prog=$1 spec=$2 n=$3
for _ in $(seq "$n"); do
  s=$(date +%s%N)
  "$prog" check "$spec" >/dev/null 2>&1
  e=$(date +%s%N)
  echo $(((e - s) / 1000))
done | sort -n | awk '{a[NR] = $1} END {printf "median %.1f best %.1f worst %.1f\n", a[int((NR + 1) / 2)] / 1000, a[1] / 1000, a[NR] / 1000}'
