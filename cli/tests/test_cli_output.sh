#!/bin/sh
# test_cli_output.sh: where outputs go (issue 17, Output). The shared writer
# follows symlinks, refuses read-only targets and the command's own input,
# writes devices and pipes directly ('-' is stdout), copes with a 250-character
# name, and on a full disk (a small tmpfs) exits 3 leaving no partial file;
# audit's four CSVs are all new or all old.
. "$(dirname "$0")/tap.sh"
SPEC="${GA_SOURCE_ROOT:?}/fixtures/specs/relu-regression.json"
cd "$T" || exit 99
cp "$SPEC" spec.json
WORKED=algorithm-that-enables-learning

no_temporaries() { # DIR: no temporary file of the writer left in DIR
    [ -z "$(find "${1:-.}" -name '.gradaudit-*' -o -name '*.tmp.*')" ]
}

# a reference CSV, written to a plain path
run check spec.json --csv plain.csv
check "check --csv to a plain path" test "$status" = 0 -a -s plain.csv

# symlinks: the target is replaced, the link stays a link (also a dangling one)
echo old >target.csv
ln -s target.csv link.csv
run check spec.json --csv link.csv
check "check --csv through a symlink: exit 0" test "$status" = 0
check "... the link is still a link" test -L link.csv
check "... its target holds the CSV" cmp -s target.csv plain.csv
mkdir sub
ln -s sub/new.csv dangling.csv
run train spec.json --norms dangling.csv --epochs 3
check "train --norms through a dangling symlink creates its target" \
    test "$status" = 0 -a -L dangling.csv -a -s sub/new.csv
check "no temporary file left" no_temporaries

# a read-only target is refused, untouched
echo keep >ro.csv
chmod 444 ro.csv
run check spec.json --csv ro.csv;           refused "check --csv read-only file" 2 "cannot write ro.csv: it is read-only"
check "... untouched, still read-only" sh -c '[ "$(cat ro.csv)" = keep ] && [ ! -w ro.csv -o "$(stat -c %a ro.csv)" = 444 ]'
run train spec.json --norms ro.csv;         refused "train --norms read-only file" 2 "cannot write ro.csv: it is read-only"
chmod 644 target.csv
echo old >target.csv
chmod 444 target.csv
run check spec.json --csv link.csv;         refused "check --csv symlink to a read-only file" 2 "cannot write link.csv: it is read-only"

# the output is one of the inputs: refused, the input untouched
run check spec.json --csv spec.json;        refused "check SPEC --csv SPEC" 2 "spec.json: is the input spec.json"
check "... spec unchanged" cmp -s spec.json "$SPEC"
ln -s spec.json alias.json
run train spec.json --norms alias.json;     refused "train SPEC --norms (a link to SPEC)" 2 "alias.json: is the input spec.json"
check "... spec unchanged" cmp -s spec.json "$SPEC"
cp "${GA_SOURCE_ROOT}/fixtures/norms/steps/step_0.npz" step_0.npz
cp step_0.npz step_0-copy.npz
run norms step_0.npz -o step_0.npz;         refused "norms FILE.npz -o FILE.npz" 2 "step_0.npz: is the input step_0.npz"
check "... archive unchanged" cmp -s step_0.npz step_0-copy.npz
run train spec.json --norms tn.csv --plot spec.svg --epochs 2
check "train --plot beside --norms: fine" test "$status" = 0 -a -s tn.csv
run train spec.json --norms t2.csv --plot t2.csv;  refused "train --plot FILE.csv: refused" 2 "--plot: 't2.csv' must end in .svg, .png or .pdf"
run scan --depth 2 --width 3 --batch 2 -o s.csv
cp s.csv s2.csv
run merge s.csv -o s.csv;                   refused "merge SHARD -o SHARD" 2 "s.csv: is the input s.csv"
check "... shard unchanged" cmp -s s.csv s2.csv
printf '{"depth": 2, "width": 3, "batch": 2}\n' >scan.json
cp scan.json scan2.json
run scan --spec scan.json -o scan.json;     refused "scan --spec F -o F" 2 "scan.json: is the input scan.json"
check "... scan spec unchanged" cmp -s scan.json scan2.json

run scan --depth 2 --width 3 --batch 2 -o same.svg --plot same.svg
refused "scan -o F --plot F" 2 "--plot same.svg: is also the CSV's -o"
check "... nothing written" test ! -e same.svg
run audit --out ''
refused "audit --out ''" 2 "gradaudit audit: --out needs a directory; try 'gradaudit audit --help'"

# devices and pipes are written directly; '-' is standard output
run check spec.json --csv /dev/null
check "check --csv /dev/null: exit 0, /dev/null still a device" test "$status" = 0 -a -c /dev/null
timeout 20 "$GRADAUDIT" check spec.json --csv /dev/stdout >dev-stdout.txt 2>"$T/err"
check "check --csv /dev/stdout (a redirected file) writes the whole CSV into it, then the report" \
    sh -c "[ $? = 0 ] && head -c $(wc -c <plain.csv) dev-stdout.txt | cmp -s - plain.csv &&
           grep -q '^result: ' dev-stdout.txt"
timeout 20 "$GRADAUDIT" merge s.csv -o - >merged.txt 2>"$T/err"
check "merge -o - writes to stdout" sh -c "[ $? = 0 ] && cmp -s merged.txt s.csv"
timeout 20 "$GRADAUDIT" train spec.json --norms - --epochs 3 >train-dash.txt 2>"$T/err"
check "train --norms - writes the rows to stdout, no file named -" \
    sh -c "[ $? = 0 ] && cmp -s train-dash.txt sub/new.csv && [ ! -e ./- ]"
timeout 20 "$GRADAUDIT" scan --depth 2 --width 3 --batch 2 --seeds 0-3 --no-progress >scan-plain.txt 2>/dev/null
timeout 20 "$GRADAUDIT" scan --depth 2 --width 3 --batch 2 --seeds 0-3 --no-progress -o - >scan-dash.txt 2>"$T/err"
check "scan -o - streams the same bytes as scan without -o" cmp -s scan-plain.txt scan-dash.txt
timeout 20 "$GRADAUDIT" scan --depth 2 --width 3 --batch 2 --seeds 0-3 --no-progress --checkpoint 0 \
    -o /dev/stdout >scan-dev.txt 2>"$T/err"
check "scan -o /dev/stdout --checkpoint 0: written once, not once per checkpoint" \
    cmp -s scan-plain.txt scan-dev.txt
timeout 20 "$GRADAUDIT" merge s.csv -o - >&- 2>"$T/err"
status=$?
: >"$T/out"
refused "merge -o - with stdout closed: refused before the work" 2 "cannot write -: Bad file descriptor"
timeout 20 "$GRADAUDIT" check spec.json --csv /dev/stdout >&- 2>"$T/err"
status=$?
refused "check --csv /dev/stdout with stdout closed" 2 "cannot write /dev/stdout: Bad file descriptor"
mkfifo pipe
timeout 20 cat pipe >from-pipe.csv &
reader=$!
run train spec.json --norms pipe --epochs 3
wait $reader
check "train --norms FIFO: written to the reader" \
    sh -c "[ $status = 0 ] && [ -p pipe ] && cmp -s from-pipe.csv sub/new.csv"
blockdev=$(find /dev -maxdepth 1 -type b 2>/dev/null | head -n 1)
if [ -n "$blockdev" ]; then
    run check spec.json --csv "$blockdev"
    refused "check --csv a block device: refused" 2 "cannot write $blockdev: it is a block device"
else
    skip "check --csv a block device" "no block device in /dev"
fi
run check spec.json --csv /dev/full;        refused "check --csv /dev/full: exit 3" 3 "writing /dev/full failed: No space left on device"
check "... /dev/full still a device" test -c /dev/full
run train spec.json --norms /dev/full;      refused "train --norms /dev/full: exit 3" 3 "writing /dev/full failed: No space left on device"
check "... /dev/full still a device" test -c /dev/full

# a 250-character name (the temporary name is short)
long=$(printf '%0250d' 0 | tr 0 a)
run check spec.json --csv "$long"
check "check --csv with a 250-character name" test "$status" = 0 -a -s "$long"
check "no temporary file left" no_temporaries

# a full disk: a tmpfs of 256 KiB, filled
mkdir disk
if ! mount -t tmpfs -o size=256k tmpfs disk 2>/dev/null; then
    skip "full disk" "mount -t tmpfs not permitted here (needs root)"
    done_testing
fi
at_exit "umount '$T/disk'"
fill_disk() { # fill disk/ to the last byte, then free $1 KiB
    rm -f disk/fill
    dd if=/dev/zero of=disk/fill bs=4k 2>/dev/null
    [ "${1:-0}" = 0 ] || truncate -s "-${1}K" disk/fill
}
echo old >disk/c.csv
fill_disk
run check spec.json --csv disk/c.csv;       refused "full disk: check --csv exits 3" 3 "disk/c.csv failed: No space left on device"
check "... the old CSV intact" test "$(cat disk/c.csv)" = old
run train spec.json --norms disk/n.csv;     refused "full disk: train --norms exits 3" 3 "disk/n.csv failed: No space left on device"
run merge s.csv -o disk/m.csv;              refused "full disk: merge -o exits 3" 3 "disk/m.csv failed: No space left on device"
run scan --depth 2 --width 3 --batch 2 -o disk/s.csv --no-progress
refused "full disk: scan -o exits 3" 3 "disk/s.csv failed: No space left on device"
run tutorial $WORKED --csv disk/w.csv
check "full disk: tutorial --csv exits 3 naming the file" \
    sh -c "[ $status = 3 ] && grep -q 'disk/w.csv failed: No space left on device' '$T/err'"
if command -v gnuplot >/dev/null 2>&1; then
    run scan --depth 2 --width 3 --batch 2 -o s3.csv --plot disk/p.svg --no-progress
    refused "full disk: scan --plot exits 3" 3 "disk/p.svg failed: No space left on device"
else
    skip "full disk: scan --plot" "gnuplot is not installed"
fi
check "full disk: no file but the old one and the filler" \
    test "$(ls -A disk | tr '\n' ' ')" = "c.csv fill "

# audit --out on a disk with room for some of its four CSVs only: all old
rm -f disk/fill
mkdir disk/aud
for f in summary worked claims audit; do echo "old $f" >disk/aud/$f.csv; done
fill_disk 12
run audit --out disk/aud
check "audit --out, disk full midway: exit 3 naming the file" \
    sh -c "[ $status = 3 ] && grep -q 'No space left on device' '$T/err'"
check "... all four CSVs still the old ones" \
    sh -c 'for f in summary worked claims audit; do [ "$(cat disk/aud/$f.csv)" = "old $f" ] || exit 1; done'
check "... no temporary file left" no_temporaries disk
rm -f disk/fill
run audit --out disk/aud
check "audit --out with room: all four new" \
    sh -c "[ $status = 0 ] && ! grep -l '^old' disk/aud/*.csv"

done_testing
