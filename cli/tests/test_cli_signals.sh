#!/bin/sh
# test_cli_signals.sh: SIGINT and SIGTERM while a command's temporary file
# exists (issue 17, Output). GRADAUDIT_TEST_HOLD=30, a hook for tests only,
# makes the writer wait once its temporaries are complete and before it
# renames them: the signal arrives at that moment, deterministically. Each
# case: exit 128 + the signal (130, 143), a message, the previous output
# untouched and no temporary file left.
. "$(dirname "$0")/tap.sh"
SPEC="${GA_SOURCE_ROOT:?}/fixtures/specs/relu-regression.json"
cd "$T" || exit 99
mkdir dst
"$GRADAUDIT" scan --depth 2 --width 3 --batch 2 -o shard.csv 2>/dev/null

# interrupted SIGNAL WANT DESC OUTPUT... -- ARGS...: runs ARGS with the hold,
# waits for a temporary file in dst/, sends SIGNAL, checks
interrupted() {
    sig=$1 want=$2 desc=$3
    shift 3
    outputs=
    while [ "$1" != -- ]; do outputs="$outputs $1"; shift; done
    shift
    for f in $outputs; do echo "previous $f" >"$f"; done
    GRADAUDIT_TEST_HOLD=30 timeout 60 "$GRADAUDIT" "$@" >"$T/out" 2>"$T/err" </dev/null &
    pid=$!
    i=0
    while [ $i -lt 400 ] && [ -z "$(find dst -name '.gradaudit-*')" ]; do
        sleep 0.05
        i=$((i + 1))
    done
    seen=$(find dst -name '.gradaudit-*' | wc -l)
    [ -z "$WATCH" ] || watched=$(ls -A "$WATCH" | wc -l)
    kill -"$sig" $pid
    wait $pid
    status=$?
    left=$(find dst -name '.gradaudit-*' | wc -l)
    intact=yes
    for f in $outputs; do [ "$(cat "$f")" = "previous $f" ] || intact=no; done
    if [ "$seen" -gt 0 ] && [ "$status" = "$want" ] && [ "$left" = 0 ] && [ $intact = yes ] &&
        grep -qE 'interrupted|terminated' "$T/err"; then
        pass "$desc"
    else
        fail "$desc" "temporaries seen $seen (want > 0), exit $status (want $want)," \
            "temporaries left $left (want 0), previous outputs intact: $intact" \
            "stderr: $(tail -c 300 "$T/err")"
    fi
}

interrupted INT 130 "check --csv, SIGINT" dst/c.csv -- check "$SPEC" --csv dst/c.csv
interrupted TERM 143 "check --csv, SIGTERM" dst/c.csv -- check "$SPEC" --csv dst/c.csv

# train's --norms is no temporary: its rows are streamed in place as the steps
# finish (docs/norms.md). A signal stops the run between steps: 128 + the
# signal, a message, the rows so far all whole, no temporary file.
streamed() {
    sig=$1 want=$2 desc=$3
    rm -f dst/live.csv
    timeout 60 "$GRADAUDIT" train "$SPEC" --norms dst/live.csv --epochs 10000000 --lr 0.01 \
        --no-progress >"$T/out" 2>"$T/err" </dev/null &
    pid=$!
    i=0
    rows=0
    while [ $i -lt 400 ] && [ "$rows" -lt 21 ]; do
        sleep 0.05
        i=$((i + 1))
        [ ! -f dst/live.csv ] || rows=$(wc -l <dst/live.csv)
    done
    kill -"$sig" $pid
    wait $pid
    status=$?
    rows=$(wc -l <dst/live.csv)
    whole=no
    [ "$(tail -c 1 dst/live.csv | od -An -tx1 | tr -d ' ')" = 0a ] &&
        awk -F, 'NR == 1 { n = NF } NF != n { bad = 1 } END { exit bad }' dst/live.csv && whole=yes
    if [ "$status" = "$want" ] && [ "$rows" -ge 21 ] && [ $whole = yes ] &&
        [ -z "$(find dst -name '.gradaudit-*')" ] &&
        grep -qE "(interrupted|terminated) \(SIG$sig\): dst/live.csv holds the rows" "$T/err"; then
        pass "$desc"
    else
        fail "$desc" "exit $status (want $want), $rows rows (want >= 21), rows whole: $whole" \
            "stderr: $(tail -c 300 "$T/err")"
    fi
}
streamed INT 130 "train --norms, SIGINT: stops between steps, the rows so far whole"
streamed TERM 143 "train --norms, SIGTERM: stops between steps, the rows so far whole"
interrupted TERM 143 "merge -o, SIGTERM" dst/m.csv -- merge shard.csv -o dst/m.csv
interrupted INT 130 "tutorial --csv, SIGINT" dst/w.csv -- tutorial algorithm-that-enables-learning --csv dst/w.csv
interrupted TERM 143 "audit --out, SIGTERM: the four CSVs all old" \
    dst/summary.csv dst/worked.csv dst/claims.csv dst/audit.csv -- audit --out dst
interrupted TERM 143 "scan -o, SIGTERM during the final write" dst/s.csv -- \
    scan --depth 2 --width 3 --batch 2 -o dst/s.csv --no-progress
if command -v gnuplot >/dev/null 2>&1; then
    mkdir scratch
    export TMPDIR="$T/scratch" WATCH="$T/scratch"
    interrupted INT 130 "scan --plot, SIGINT while the plot is written" dst/p.svg -- \
        scan --depth 2 --width 3 --batch 2 --plot dst/p.svg --no-progress
    unset TMPDIR WATCH
    check "... gnuplot's data was in \$TMPDIR then, and is removed" \
        test "$watched" -gt 0 -a -z "$(ls -A scratch)"
    export TMPDIR="$T/scratch" WATCH="$T/scratch"
    interrupted TERM 143 "train --plot, SIGTERM while the plot is written" dst/tp.svg -- \
        train "$SPEC" --norms n2.csv --epochs 5 --plot dst/tp.svg --no-progress
    unset TMPDIR WATCH
    check "... train's gnuplot data and script were in \$TMPDIR then, and are removed" \
        test "$watched" -gt 0 -a -z "$(ls -A scratch)"
else
    skip "scan --plot, SIGINT" "gnuplot is not installed"
fi

done_testing
