#!/bin/sh
# test_cli_input.sh: inputs that are not plain files, or that the program
# would refuse only after long work (issue 17, Input). Each case: exit 2, one
# line naming the path and the reason, nothing on stdout, no file written,
# and no block: every run has a 20 s limit and a FIFO has no writer.
. "$(dirname "$0")/tap.sh"
SPEC="${GA_SOURCE_ROOT:?}/fixtures/specs/relu-regression.json"
cd "$T" || exit 99

mkfifo fifo
mkdir adir
run eval fifo;                              refused "eval FIFO" 2 "fifo: is a FIFO, not a regular file"
run check fifo;                             refused "check FIFO" 2 "fifo: is a FIFO, not a regular file"
run train fifo --norms n.csv;               refused "train FIFO" 2 "fifo: is a FIFO, not a regular file"
run scan --spec fifo -o s.csv;              refused "scan --spec FIFO" 2 "fifo: is a FIFO, not a regular file"
run merge fifo -o m.csv;                    refused "merge FIFO" 2 "fifo: is a FIFO, not a regular file"
run eval /dev/zero;                         refused "eval /dev/zero, unread" 2 "/dev/zero: is a character device"
run merge /dev/zero -o m.csv;               refused "merge /dev/zero" 2 "/dev/zero: is a character device"
run eval adir;                              refused "eval a directory" 2 "adir: is a directory"
run scan --spec adir;                       refused "scan --spec a directory" 2 "adir: is a directory"
run merge adir -o m.csv;                    refused "merge a directory" 2 "adir: is a directory"
check "no output file was written" test ! -e n.csv -a ! -e s.csv -a ! -e m.csv

# audit's reference transcripts are inputs too: a FIFO among them is refused
# unread, never waited for, and never taken for an absent reference
mkdir refs refs/first-draft
mkfifo refs/seeds.txt
run audit --refs refs --out aud;            refused "audit --refs with a FIFO for seeds.txt" 2 "refs/seeds.txt: is a FIFO, not a regular file"
rm refs/seeds.txt
echo 1 >refs/seeds.txt
mkfifo refs/first-draft/seed-1.txt
mkdir refs/wrapping-your-head
for ext in txt state; do
    cp "$GA_SOURCE_ROOT/fixtures/reference/transcripts/wrapping-your-head/seed-1.$ext" refs/wrapping-your-head/
done
run audit --refs refs --out aud;            refused "audit --refs with a FIFO for a transcript" 2 "refs/first-draft/seed-1.txt: is a FIFO, not a regular file"
check "audit wrote nothing" test ! -e aud

# standard input is read when named '-'
timeout 20 "$GRADAUDIT" eval - <"$SPEC" >"$T/out" 2>"$T/err"
status=$?
check "eval - reads the spec from standard input" \
    sh -c "[ $status = 0 ] && grep -q '^loss ' '$T/out' && [ ! -s '$T/err' ]"

# merge's cap: the shards' sizes are judged before reading (sparse files)
truncate -s 5G huge.csv
run merge huge.csv -o m.csv;                refused "merge: a 5 GiB shard refused unread" 2 "huge.csv: the shards come to more than merge's cap of 4294967296 bytes"
truncate -s 3G a.csv
truncate -s 3G b.csv
run merge a.csv b.csv -o m.csv;             refused "merge: shards over the cap together" 2 "b.csv: the shards come to more than merge's cap"
check "merge wrote nothing" test ! -e m.csv

# a duplicated key in a scan spec, as in spec files
printf '{"depth": 2,\n "depth": 3}\n' >dup.json
run scan --spec dup.json -o s.csv;          refused "scan spec: duplicated key" 2 "dup.json:2:8: duplicate key \"depth\""
check "scan wrote nothing" test ! -e s.csv

# a scan spec is a few settings: over 1 MiB it is refused unread
truncate -s 2M bigscan.json
run scan --spec bigscan.json -o s.csv;      refused "scan --spec over its 1 MiB cap" 2 "bigscan.json: 2097152 bytes, over the cap of 1048576 bytes"

# an init recipe that overflows to Inf: eval and train refuse it as check does
sed 's/"W1": {"scheme": "he"}/"W1": {"scheme": "randn", "scale": 1e308}/' "$SPEC" >inf.json
check "inf.json has the overflowing recipe" grep -q 1e308 inf.json
run eval inf.json;                          refused "eval: init overflows to Inf" 2 "inf.json: parameters.init: W1[7,2] is inf (the recipe overflows a double"
run train inf.json --norms n.csv;           refused "train: init overflows to Inf" 2 "inf.json: parameters.init: W1[7,2] is inf"
run check inf.json;                         refused "check: init overflows to Inf" 2 "inf.json: parameters.init: W1[7,2] is inf"
check "train wrote no norms" test ! -e n.csv

# wide_spec N FILE: an N-N-1 identity net, one sample, zero weights
wide_spec() {
    awk -v n="$1" 'BEGIN { printf "{\"layout\": \"row\", \"input\": %d, \"layers\": [{\"size\": %d, \"activation\": \"identity\"}, {\"size\": 1, \"activation\": \"identity\"}], \"loss\": {\"type\": \"mse\", \"reduction\": \"mean\"}, \"data\": {\"x\": [[", n, n;
        for (i = 0; i < n; i++) printf "%s0.5", i ? "," : ""; printf "]], \"y\": [[1]]}, \"parameters\": {\"init\": {\"seed\": 1, \"default\": {\"scheme\": \"zeros\"}}}}\n" }' >"$2"
}
# a spec whose oracle would exceed the memory cap: refused before the net is
# even built (81 M parameters; building it alone would take 1.3 GB and seconds)
wide_spec 9000 big.json
start=$(date +%s)
run check big.json
refused "check: over the memory cap, exit 2" 2 "big.json: 81018001 parameters and a batch of 1 need "
check "... before any work (under 5 s)" test $(($(date +%s) - start)) -lt 5
grep -qF "over the memory cap of 8589934592 bytes" "$T/err"
check "... naming the cap" test $? = 0
# 62.4 M parameters: under the cap by the old lower bound of the oracle's
# working set (two variables a parameter at 160 bits: 8.0e9 bytes), over it by
# the oracle's own count (at 192 bits, route (b)'s second precision: 9.0e9),
# so refused before the work as well (exit 2), not after building a gigabyte of
# net and stopping in the oracle with exit 3 as before
wide_spec 7900 big2.json
start=$(date +%s)
run check big2.json
refused "check: over the cap by the oracle's own count, exit 2" 2 "big2.json: 62425801 parameters and a batch of 1 need "
check "... before any work (under 5 s)" test $(($(date +%s) - start)) -lt 5
# 16.0 M parameters: under the cap by the oracle's count (2.3e9 bytes), over it
# with the check's own arrays (the report's entries, about 600 bytes each: 1.0e10
# in all), refused before any work, also by the finite-difference methods that
# need no oracle (before, a check of it built a 10 GB report)
wide_spec 4000 big3.json
start=$(date +%s)
run check big3.json
refused "check: over the cap with the check's own arrays, exit 2" 2 "big3.json: 16008001 parameters and a batch of 1 need "
grep -qF "the oracle's MPFR variables and balls and the check's own arrays" "$T/err"
check "... naming both parts" test $? = 0
run check big3.json --method central --cross-check 0
refused "check --method central: over the cap with the check's own arrays, exit 2" 2 "big3.json: 16008001 parameters and a batch of 1 need "
check "... before any work (under 5 s)" test $(($(date +%s) - start)) -lt 5

# attention over 1,024 tokens, 4 heads, batch 8: 284 parameters, but its
# weights (B H T^2 = 33.5 M numbers) and their gradients as balls and as the
# enclosure's intervals need 3.8e10 bytes; refused before any work (before,
# the check started and ran for minutes towards that)
awk 'BEGIN { T = 1024; B = 8;
    printf "{\"layout\": \"row\", \"input\": %d, \"layers\": [{\"type\": \"embedding\", \"vocab\": 4, \"dim\": 8}, {\"size\": 24, \"activation\": \"identity\", \"tokens\": %d}, {\"type\": \"attention\", \"tokens\": %d, \"heads\": 4}, {\"size\": 4, \"activation\": \"identity\", \"tokens\": %d}], \"loss\": {\"type\": \"softmax_ce\", \"reduction\": \"batch_mean\"}, \"data\": {\"x\": [", T, T, T, T;
    for (s = 0; s < B; s++) { printf "%s[", s ? "," : ""; for (i = 0; i < T; i++) printf "%s%d", i ? "," : "", i % 4; printf "]" }
    printf "], \"y\": ["; for (s = 0; s < B; s++) { printf "%s[", s ? "," : ""; for (i = 0; i < 4 * T; i++) printf "%s%d", i ? "," : "", i % 4 == 0; printf "]" }
    printf "]}, \"parameters\": {\"init\": {\"seed\": 1, \"default\": {\"scheme\": \"randn\", \"scale\": 0.02}}}}\n" }' >attn.json
start=$(date +%s)
run check attn.json
refused "check: attention's weights over the memory cap, exit 2" 2 "attn.json: 284 parameters and a batch of 8 need "
check "... before any work (under 5 s)" test $(($(date +%s) - start)) -lt 5

done_testing
