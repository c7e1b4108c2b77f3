#!/bin/sh
# test_cli_json.sh: check --json, eval --json and audit --json (docs/json.md).
# Each document is parsed with /usr/bin/python3's json module and compared,
# number by number (bit for bit), with the CSV and the text of the same run
# parsed on their own (json_vs_text.py); '-' puts the JSON alone on stdout;
# an unwritable path is exit 2 naming it, before any work and with no file
# left; a failed write (/dev/full, a full tmpfs) is exit 3, the old file kept.
. "$(dirname "$0")/tap.sh"
SPECS="${GA_SOURCE_ROOT:?}/fixtures/specs"
CMP="$(cd "$(dirname "$0")" && pwd)/json_vs_text.py"
cd "$T" || exit 99
cp "$SPECS/relu-regression.json" spec.json
cp "$SPECS/softmax-classifier.json" soft.json
if [ ! -x /usr/bin/python3 ]; then
    skip "every --json test" "no /usr/bin/python3 to parse the JSON with"
    done_testing
fi
# agree DESC MODE FILES...: json_vs_text.py finds no difference
agree() {
    desc=$1
    shift
    if out=$(/usr/bin/python3 "$CMP" "$@" 2>&1); then pass "$desc"; else fail "$desc" "$out"; fi
}
no_temporaries() { [ -z "$(find "${1:-.}" -name '.gradaudit-*')" ]; }

# ---- check: every method, a FAIL, non-finite values --------------------------
for m in oracle central gsl ridders forward; do
    run check spec.json --method "$m" --json "c-$m.json" --csv "c-$m.csv"
    cp "$T/out" "c-$m.txt"
    check "check --method $m --json: exit 0" test "$status" = 0
    agree "check --method $m: JSON = CSV and text" check "c-$m.json" "c-$m.csv" "c-$m.txt"
done
run check soft.json --json soft-c.json --csv soft-c.csv
cp "$T/out" soft-c.txt
agree "check softmax-classifier: JSON = CSV and text" check soft-c.json soft-c.csv soft-c.txt
k=0
for inj in 'W1[0,0]*nan' 'W2[1,1]*-inf' 'b1[0,0]*1.001'; do
    k=$((k + 1))
    run check spec.json --method central --inject "$inj" --json "inj$k.json" --csv "inj$k.csv"
    cp "$T/out" "inj$k.txt"
    check "check --inject '$inj' --json: exit 1" test "$status" = 1
    agree "... JSON = CSV and text" check "inj$k.json" "inj$k.csv" "inj$k.txt"
done
check "a NaN entry is null with KEY_nonfinite \"NaN\"" \
    grep -q '"name": "W1\[0,0\]", .*"analytic": null, "analytic_nonfinite": "NaN"' inj1.json
check "-inf is null with \"-Infinity\"" \
    grep -q '"name": "W2\[1,1\]", .*"analytic": null, "analytic_nonfinite": "-Infinity"' inj2.json
check "the FAIL is counted" /usr/bin/python3 -c \
    'import json,sys; d=json.load(open("inj3.json")); sys.exit(d["counts"]["FAIL"] < 1 or
     [e["verdict"] for e in d["entries"] if e["name"] == "b1[0,0]"] != ["FAIL"])'
# the comparison itself can fail: one changed digit is found
sed 's/"analytic": \(-\{0,1\}[0-9]\)\.\([0-9]\)/"analytic": \1.9\2/' c-oracle.json >mutated.json
check "json_vs_text.py finds a changed analytic value" \
    sh -c "! /usr/bin/python3 '$CMP' check mutated.json c-oracle.csv c-oracle.txt >/dev/null"

# ---- --json -: the document alone on stdout ------------------------------------
run check spec.json --json -
check "check --json -: exit 0, stdout is the same document as --json FILE" \
    sh -c "[ $status = 0 ] && cmp -s '$T/out' c-oracle.json"
run eval spec.json --params --json e.json
cp "$T/out" e.txt
agree "eval --json: loss and every gradient = eval's text" eval e.json e.txt
run eval spec.json --json -
check "eval --json -: exit 0, stdout is the same document as --json FILE" \
    sh -c "[ $status = 0 ] && cmp -s '$T/out' e.json"
run eval soft.json --params --json soft-e.json
cp "$T/out" soft-e.txt
agree "eval --json softmax-classifier = text" eval soft-e.json soft-e.txt
cp "$SPECS/algorithm-that-enables-learning.json" values.json
run eval values.json --params --json values-e.json
cp "$T/out" values-e.txt
agree "eval --json, a spec with parameters.values = text" eval values-e.json values-e.txt
check "... and no seed key (no seed line)" sh -c "! grep -q '\"seed\"' values-e.json && ! grep -q '^seed ' values-e.txt"
check "eval --json says dtype float64 by default" grep -q '"dtype": "float64"' e.json
run eval spec.json --dtype float32 --params --json f32-e.json
cp "$T/out" f32-e.txt
agree "eval --dtype float32 --json = text (dtype float32 on both)" eval f32-e.json f32-e.txt
check "check --json says dtype float64 by default" grep -q '"dtype": "float64"' c-oracle.json
run check spec.json --dtype float32 --json f32-c.json --csv f32-c.csv
cp "$T/out" f32-c.txt
check "check --dtype float32 --json: exit 0" test "$status" = 0
agree "check --dtype float32 --json = CSV and text (dtype float32 on both)" check f32-c.json f32-c.csv f32-c.txt
run check spec.json --csv - --json -
refused "check --csv - --json -: refused" 2 "--csv and --json both name standard output"
run check spec.json --csv same --json same
refused "check --csv F --json F: refused" 2 "--csv and --json both name 'same'"
echo old >x.csv
ln -s x.csv x-link.json
run check spec.json --csv x.csv --json x-link.json
refused "check --csv F --json (a link to F): refused" 2 "--csv and --json both name 'x-link.json'"
check "... F untouched" test "$(cat x.csv)" = old

# ---- audit -----------------------------------------------------------------------
run audit --out aud --json a.json
cp "$T/out" a.txt
check "audit --json: exit 0" test "$status" = 0
agree "audit --json = summary.csv and the text" audit a.json aud/summary.csv a.txt
run audit --out aud2 --json -
check "audit --json -: stdout holds the JSON alone, the CSVs are written" \
    sh -c "[ $status = 0 ] && /usr/bin/python3 '$CMP' doc '$T/out' audit && [ -s aud2/summary.csv ]"

# ---- unwritable paths: exit 2 before any work, naming the path, no file --------
run check spec.json --json nodir/c.json
refused "check --json in a missing directory" 2 "nodir/c.json"
run check spec.json --json ''
refused "check --json ''" 2 "--json needs a file name"
run check spec.json --fast --json f.json
refused "check --fast --json: refused" 2 "--fast goes with --seed, --directions and --inject only"
check "... no f.json" test ! -e f.json
echo keep >ro.json
chmod 444 ro.json
run check spec.json --json ro.json
refused "check --json read-only file" 2 "cannot write ro.json: it is read-only"
check "... untouched" test "$(cat ro.json)" = keep
run check spec.json --json spec.json
refused "check SPEC --json SPEC" 2 "spec.json: is the input spec.json"
check "... spec unchanged" cmp -s spec.json "$SPECS/relu-regression.json"
run eval spec.json --json nodir/e.json
refused "eval --json in a missing directory" 2 "nodir/e.json"
run eval spec.json --json ''
refused "eval --json ''" 2 "--json needs a file name"
run eval spec.json --json spec.json
refused "eval SPEC --json SPEC" 2 "spec.json: is the input spec.json"
run audit --out aud3 --json nodir/a.json
refused "audit --json in a missing directory" 2 "nodir/a.json"
check "... --out not even created" test ! -e aud3
mkdir aud4
run audit --out aud4 --json aud4/summary.csv
refused "audit --json DIR/summary.csv: refused" 2 "--json aud4/summary.csv: is also aud4/summary.csv, a CSV of --out"
check "... no summary.csv written" test ! -e aud4/summary.csv
run audit --json ''
refused "audit --json ''" 2 "--json needs a file name"
check "no temporary file and no partial JSON left" \
    sh -c "[ ! -e nodir ] && [ ! -e f.json ] && [ -z \"\$(find . -name '.gradaudit-*')\" ]"

# ---- failed writes: exit 3 ---------------------------------------------------------
run check spec.json --json /dev/full
refused "check --json /dev/full: exit 3" 3 "writing /dev/full failed: No space left on device"
run eval spec.json --json /dev/full
refused "eval --json /dev/full: exit 3" 3 "/dev/full failed: No space left on device"
mkdir disk
if mount -t tmpfs -o size=64k tmpfs disk 2>/dev/null; then
    at_exit "umount '$T/disk'"
    echo old >disk/c.json
    echo old >disk/c.csv
    dd if=/dev/zero of=disk/fill bs=4k 2>/dev/null
    run check spec.json --json disk/c.json --csv disk/c.csv
    refused "full disk: check --json exits 3" 3 "disk/c.json failed: No space left on device"
    check "... the old JSON and CSV intact, no temporary" \
        sh -c '[ "$(cat disk/c.json)" = old ] && [ "$(cat disk/c.csv)" = old ] && [ "$(ls -A disk | tr "\n" " ")" = "c.csv c.json fill " ]'
else
    skip "full disk" "mount -t tmpfs not permitted here (needs root)"
fi
check "no temporary file left" no_temporaries
done_testing
