#!/usr/bin/env bash
# compare_outputs.sh: does a change keep the program's behaviour byte for byte?
#
#   bench/compare_outputs.sh BASE_BUILD NEW_BUILD [N_HARD]
#
# BASE_BUILD and NEW_BUILD are meson build directories (the commit before the
# change and after it; `git worktree add /tmp/base REV && meson setup
# /tmp/base/build /tmp/base` gives the first). Compared, stdout + stderr +
# exit status + every file written:
#   - `check SPEC --csv` with each method (oracle, central, gsl, ridders,
#     forward) and `check SPEC --fast` (its "seconds:" line dropped: timings),
#     and `eval SPEC`, on every spec in fixtures/specs (and verdicts/), on the
#     gate's nets and on N_HARD (default 100) hard nets written by
#     NEW_BUILD/bench/dump_specs;
#   - `audit`; `tutorial SLUG` for each tutorial (seeds 0, 1, 4294967295 where
#     a seed is taken, with --dump-state) and algorithm-that-enables-learning's
#     --csv.
# Not compared: the "seconds:" line of --fast and the folder audit names as
# the transcripts' place.
# Prints one line per difference and a count; exit 0 when nothing differs.
set -uo pipefail
base=$(cd "$1" && pwd) new=$(cd "$2" && pwd) n_hard=${3:-100}
src=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d) || exit 3
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/specs" "$work/base" "$work/new"
"$new/bench/dump_specs" "$work/specs" "$n_hard" >/dev/null || exit 3
cp "$src"/fixtures/specs/*.json "$src"/fixtures/specs/verdicts/*.json "$work/specs/"

runs=0 diffs=0
# run NAME ARGS...: runs both programs from inside their own output folder
run() {
  local name=$1
  shift
  for side in base new; do
    local dir=$work/$side/$name
    mkdir -p "$dir"
    local prog=$base/gradaudit
    [[ $side == new ]] && prog=$new/gradaudit
    (cd "$dir" && "$prog" "$@" >out 2>&1; echo "exit $?" >>out)
    # timings, and where the transcripts were read from, differ by nature
    sed -i -e '/^  seconds: /d' -e 's#references in /.*#references in PATH#' "$dir/out"
  done
  runs=$((runs + 1))
  if ! diff -r -q "$work/base/$name" "$work/new/$name" >/dev/null; then
    diffs=$((diffs + 1))
    echo "DIFFERS: gradaudit $* (outputs in $name)"
    diff -r "$work/base/$name" "$work/new/$name" | head -8
  fi
  rm -rf "$work/base/$name" "$work/new/$name"
}

for spec in "$work"/specs/*.json; do
  s=$(basename "$spec" .json)
  for m in oracle central gsl ridders forward; do
    run "$s.$m" check "$spec" --method "$m" --csv out.csv
  done
  run "$s.fast" check "$spec" --fast
  run "$s.eval" eval "$spec"
done
run audit audit
run tut.csv tutorial algorithm-that-enables-learning --csv out.csv
run tut.hbw tutorial how-backprop-works
for slug in wrapping-your-head first-draft hand-by-hand; do
  for seed in 0 1 4294967295; do
    run "tut.$slug.$seed" tutorial "$slug" --seed "$seed" --dump-state
  done
done
echo "compare_outputs: $runs runs, $diffs differ ($(ls "$work/specs" | wc -l) specs)"
[[ $diffs -eq 0 ]]
