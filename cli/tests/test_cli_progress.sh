#!/bin/sh
# test_cli_progress.sh: the progress line of check (and train, scan) is drawn on a
# terminal only (issue 17): with standard error on a pseudo-terminal
# (on_a_pty.py) it appears, at most a few times a second, and is erased at the
# end; into a file or a pipe not one byte of it, and never in an output file.
. "$(dirname "$0")/tap.sh"
PTY="$(cd "$(dirname "$0")" && pwd)/on_a_pty.py"
cd "$T" || exit 99
if [ ! -x /usr/bin/python3 ]; then
    skip "progress" "no /usr/bin/python3 for a pseudo-terminal"
    done_testing
fi
# a 16-64-64-1 tanh net: 5313 entries, about a second of central differences
/usr/bin/python3 - <<'PY' || exit 99
import json, random
random.seed(1)
spec = {"layout": "column", "input": 16,
        "layers": [{"size": 64, "activation": "tanh"}, {"size": 64, "activation": "tanh"},
                   {"size": 1, "activation": "identity"}],
        "loss": {"type": "mse", "reduction": "mean"},
        "data": {"x": [[round(random.uniform(-1, 1), 3) for _ in range(16)] for _ in range(8)],
                 "y": [[round(random.uniform(-1, 1), 3)] for _ in range(8)]},
        "parameters": {"init": {"seed": 3, "order": ["W1", "W2", "W3"],
                                "tensors": {"W1": {"scheme": "he"}, "W2": {"scheme": "he"},
                                            "W3": {"scheme": "lecun"}},
                                "default": {"scheme": "constant", "value": 0.01}}}}
json.dump(spec, open("big.json", "w"))
PY
has_progress_bytes() { # FILE: a carriage return, an erase or the line's text
    grep -q "$(printf '\r')" "$1" || grep -q "$(printf '\033')" "$1" || grep -q 'entries [0-9]*/' "$1"
}

# ---- not a terminal: nothing -------------------------------------------------
timeout 60 "$GRADAUDIT" check big.json --method central --csv file.csv >file.out 2>file.err
status=$?
check "check, stderr to a file: exit 0" test "$status" = 0
check "... stderr empty: no progress" test ! -s file.err
if has_progress_bytes file.out || has_progress_bytes file.csv; then
    fail "... no progress bytes in stdout or the CSV"
else
    pass "... no progress bytes in stdout or the CSV"
fi
timeout 60 "$GRADAUDIT" check big.json --method central 2>&1 >pipe.out | cat >pipe.err
check "check, stderr to a pipe: no progress" test ! -s pipe.err
check "... stdout the same as with stderr to a file" cmp -s pipe.out file.out

# ---- a terminal: drawn, limited, erased ------------------------------------------
start=$(date +%s)
timeout 60 /usr/bin/python3 "$PTY" tty.err "$GRADAUDIT" check big.json --method central --csv tty.csv >tty.out
status=$?
secs=$(( $(date +%s) - start + 1 ))
check "check on a terminal: exit 0" test "$status" = 0
check "... progress drawn: entries done/total and an ETA" \
    grep -q 'gradaudit check: entries [0-9]*/5313 ([0-9]*%), elapsed [0-9:]*, ETA [0-9:-]*' tty.err
check "... reaches 5313/5313" grep -q 'entries 5313/5313 (100%)' tty.err
check "... erased at the end (the last bytes: carriage return, erase line)" \
    sh -c "[ \"\$(tail -c 4 tty.err | od -An -c | tr -d ' ')\" = '\\r033[K' ]"
draws=$(tr '\r' '\n' <tty.err | grep -c 'entries [0-9]')
check "... at most a few draws a second ($draws in about $secs s)" test "$draws" -le $((4 * secs + 3))
check "... stdout the same as off a terminal" cmp -s tty.out file.out
check "... the CSV the same as off a terminal" cmp -s tty.csv file.csv
timeout 60 /usr/bin/python3 "$PTY" quiet.err "$GRADAUDIT" check big.json --method central --no-progress >quiet.out
check "check --no-progress on a terminal: nothing on stderr" sh -c "[ $? = 0 ] && [ ! -s quiet.err ]"
timeout 60 /usr/bin/python3 "$PTY" oracle.err "$GRADAUDIT" check big.json >oracle.out
check "check (oracle) on a terminal: the oracle's passes as a percentage with an ETA, erased at the end" \
    sh -c "[ $? = 0 ] &&
           grep -q \"gradaudit check: the MPFR oracle's gradient ([0-9]*%), elapsed [0-9:]*, ETA [0-9:-]*\" oracle.err &&
           grep -q \"the MPFR oracle's gradient (100%)\" oracle.err &&
           [ \"\$(tail -c 4 oracle.err | od -An -c | tr -d ' ')\" = '\\r033[K' ]"
check "... its cross-check entry by entry" \
    grep -q "the oracle's cross-check, entries 2/2 (100%), elapsed [0-9:]*, ETA" oracle.err
check "... and the rounding enclosures before it, each to 100%" \
    sh -c "grep -q 'gradaudit check: the rounding enclosure (100%), elapsed [0-9:]*, ETA' oracle.err &&
           grep -q \"gradaudit check: the backward pass's enclosure (100%), elapsed\" oracle.err"
timeout 60 "$GRADAUDIT" check big.json 2>&1 >oracle-pipe.out | cat >oracle-pipe.err
check "check (oracle), stderr to a pipe: no progress, the same output" \
    sh -c "[ ! -s oracle-pipe.err ] && cmp -s oracle-pipe.out oracle.out"

# ---- train: the same rule, and erased at the end ---------------------------------------
timeout 60 "$GRADAUDIT" train big.json --epochs 3000 --norms n.csv >train.out 2>train.err
check "train, stderr to a file: no progress" sh -c "[ $? = 0 ] && [ ! -s train.err ]"
timeout 60 /usr/bin/python3 "$PTY" train-tty.err "$GRADAUDIT" train big.json --epochs 3000 --norms n-tty.csv >train-tty.out
check "train on a terminal: progress drawn" sh -c "[ $? = 0 ] && grep -q 'train .* steps' train-tty.err"
check "... the norms file without it, the same as off a terminal" cmp -s n.csv n-tty.csv
check "... erased at the end, no newline of its own (the prompt starts at column 0)" \
    sh -c "[ \"\$(tail -c 4 train-tty.err | od -An -c | tr -d ' ')\" = '\\r033[K' ] &&
           [ \$(tr -cd '\\n' <train-tty.err | wc -c) = 0 ]"

# ---- scan: the bar moves within one long configuration too -----------------------------
timeout 60 /usr/bin/python3 "$PTY" scan-tty.err "$GRADAUDIT" scan --act tanh --depth 1000 --width 128 \
    -o scan-tty.csv >scan-tty.out
check "scan of one deep configuration on a terminal: exit 0" test $? = 0
within=$(tr '\r' '\n' <scan-tty.err | grep -c '0/1 configurations *[1-9][0-9]*%')
check "... the bar moved $within times before the configuration ended (at least 2)" test "$within" -ge 2
timeout 60 "$GRADAUDIT" scan --act tanh --depth 1000 --width 128 -o scan-file.csv 2>scan-file.err
check "... off a terminal nothing, and the same CSV" \
    sh -c "[ ! -s scan-file.err ] && cmp -s scan-file.csv scan-tty.csv"
# ---- a signal: the line erased before the message ------------------------------------------
# interrupted NAME ARGS...: ARGS on a terminal, SIGINT once its progress line
# is drawn; the message must start at column 0 of a clean line: the bytes
# just before it erase the line ("\r", ESC [ K)
interrupted() {
    name=$1
    shift
    timeout 60 /usr/bin/python3 "$PTY" --sigint "$name" "$name.err" "$GRADAUDIT" "$@" >"$name.out"
    status=$?
    check "$name on a terminal, SIGINT: exit 130" test "$status" = 130
    if /usr/bin/python3 - "$name.err" <<'PY'
import re, sys
got = open(sys.argv[1], "rb").read()
m = re.search(rb"gradaudit[ :][^\r\n]*(interrupted|terminated)", got)
sys.exit(0 if m and got[:m.start()].endswith(b"\r\x1b[K") and got.endswith(b"\n") else 1)
PY
    then
        pass "... the progress line erased before the message"
    else
        fail "... the progress line erased before the message" "$(od -c "$name.err" | tail -6)"
    fi
}
interrupted check check big.json --method central
interrupted train train big.json --epochs 1000000 --norms sig.csv
interrupted scan scan --act tanh --depth 1000 --width 128,256 -o sig-scan.csv
done_testing
