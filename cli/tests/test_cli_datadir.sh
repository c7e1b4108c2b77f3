#!/bin/sh
# test_cli_datadir.sh: where `gradaudit audit` finds the NumPy reference
# transcripts (DATADIR/transcripts: GRADAUDIT_DATADIR, else the source tree's
# fixtures/reference from the build tree, else the installed data directory),
# and that a missing, unreadable or malformed reference is exit 2 naming the
# file, never a pass (issue 13). The installed program is checked after
# `meson install --destdir`: the same table as the build tree's.
#   env: GRADAUDIT, GA_SOURCE_ROOT, GA_BUILD_ROOT, MESON, GA_INSTALL_BINDIR
#   (prefix/bindir) and GA_INSTALL_DATADIR (prefix/datadir/gradaudit).
. "$(dirname "$0")/tap.sh"
REFS="${GA_SOURCE_ROOT:?}/fixtures/reference/transcripts"
unset GRADAUDIT_DATADIR
cd "$T" || exit 99

# run_with PROGRAM DATADIR ARGS...: as run, the program PROGRAM with
# GRADAUDIT_DATADIR=DATADIR (unset when DATADIR is '')
run_with() {
    prog=$1 dir=$2
    shift 2
    if [ -n "$dir" ]; then
        timeout 20 env GRADAUDIT_DATADIR="$dir" "$prog" "$@" >"$T/out" 2>"$T/err" </dev/null
    else
        timeout 20 "$prog" "$@" >"$T/out" 2>"$T/err" </dev/null
    fi
    status=$?
}

# a copy of the references: DATADIR/transcripts
copy_refs() {
    mkdir -p "$1" && cp -R "$REFS" "$1/transcripts" && rm -f "$1/transcripts/regenerate.py"
}

# the build tree's program reads the source tree's references
mkdir b i
(cd b && run audit --seeds 1 --out aud && echo "$status" >status)
status=$(cat b/status)
cp "$T/out" build.txt
check "build tree: audit exits 0 reading the source tree's references" \
    sh -c "[ $status = 0 ] && grep -qF 'references in $REFS' build.txt && \
           grep -q '^first-draft .*44/44 byte-identical to NumPy' build.txt"

# GRADAUDIT_DATADIR names an empty directory: no reference at all
mkdir empty
run_with "$GRADAUDIT" "$T/empty" audit --seeds 1 --out out1
refused "GRADAUDIT_DATADIR empty: exit 2 naming the missing seeds.txt" 2 \
    "gradaudit audit: reference transcripts: $T/empty/transcripts/seeds.txt: cannot open: No such file or directory"
check "GRADAUDIT_DATADIR empty: no output directory made" test ! -e out1

# GRADAUDIT_DATADIR overrides the build tree: a copy with one byte changed
# does not reproduce (exit 1), the intact copy does (exit 0)
copy_refs data
run_with "$GRADAUDIT" "$T/data" audit --seeds 1 --out out2
check "GRADAUDIT_DATADIR, intact copy: exit 0, its path printed" \
    sh -c "[ $status = 0 ] && grep -qF 'references in $T/data/transcripts' '$T/out'"
printf x >>data/transcripts/hand-by-hand/seed-42.txt
run_with "$GRADAUDIT" "$T/data" audit --seeds 1 --out out2
check "GRADAUDIT_DATADIR overrides the build tree: a changed reference is exit 1" \
    sh -c "[ $status = 1 ] && grep -q 'transcript mismatch: hand-by-hand seed 42' '$T/out'"
cp "$REFS/hand-by-hand/seed-42.txt" data/transcripts/hand-by-hand/seed-42.txt

# --refs overrides GRADAUDIT_DATADIR
run_with "$GRADAUDIT" "$T/empty" audit --refs "$T/data/transcripts" --seeds 1 --out out3
check "--refs overrides GRADAUDIT_DATADIR" sh -c "[ $status = 0 ]"

# an unreadable reference; root reads a mode-000 file anyway, so as root the
# program runs as uid 65534 (setpriv), else the case is skipped, saying so
chmod 000 data/transcripts/first-draft/seed-7.state
want="$T/data/transcripts/first-draft/seed-7.state: cannot open: Permission denied"
if [ ! -r data/transcripts/first-draft/seed-7.state ]; then
    run_with "$GRADAUDIT" "$T/data" audit --seeds 1 --out out4
    refused "unreadable reference: exit 2 naming it" 2 "$want"
elif command -v setpriv >/dev/null; then
    chmod 755 "$T"
    timeout 20 env GRADAUDIT_DATADIR="$T/data" setpriv --reuid=65534 --regid=65534 --clear-groups \
        "$GRADAUDIT" audit --seeds 1 --out out4 >"$T/out" 2>"$T/err" </dev/null
    status=$?
    chmod 700 "$T"
    refused "unreadable reference (as uid 65534: root reads a mode-000 file): exit 2 naming it" 2 "$want"
else
    skip "unreadable reference: exit 2" "running as root without setpriv, a mode-000 file is still readable"
fi
chmod 644 data/transcripts/first-draft/seed-7.state

# a reference that is a directory
mv data/transcripts/first-draft/seed-3.txt keep.txt
mkdir data/transcripts/first-draft/seed-3.txt
run_with "$GRADAUDIT" "$T/data" audit --seeds 1 --out out4
refused "a reference that is a directory: exit 2 naming it" 2 \
    "$T/data/transcripts/first-draft/seed-3.txt: is a directory"
rmdir data/transcripts/first-draft/seed-3.txt
mv keep.txt data/transcripts/first-draft/seed-3.txt

# a listed seed whose transcript is missing
mv data/transcripts/wrapping-your-head/seed-99991.txt gone.txt
run_with "$GRADAUDIT" "$T/data" audit --seeds 1 --out out5
refused "missing transcript of a listed seed: exit 2 naming it" 2 \
    "$T/data/transcripts/wrapping-your-head/seed-99991.txt: cannot open: No such file or directory"
mv gone.txt data/transcripts/wrapping-your-head/seed-99991.txt

# a .state without its bits section
cp data/transcripts/hand-by-hand/seed-0.state keep.state
sed -i '/^--- bits ---$/,$d' data/transcripts/hand-by-hand/seed-0.state
run_with "$GRADAUDIT" "$T/data" audit --seeds 1 --out out6
refused "a .state without its bits section: exit 2 naming it" 2 \
    "$T/data/transcripts/hand-by-hand/seed-0.state: no '--- bits ---' section"
mv keep.state data/transcripts/hand-by-hand/seed-0.state

# seeds.txt: a line that is not a seed, and a list of no seed
cp data/transcripts/seeds.txt keep.txt
printf '0\nseven\n' >data/transcripts/seeds.txt
run_with "$GRADAUDIT" "$T/data" audit --seeds 1 --out out7
refused "seeds.txt with a line that is not a seed: exit 2 naming the line" 2 \
    "$T/data/transcripts/seeds.txt:2: 'seven' is not a seed in 0..4294967295"
printf '\n\n' >data/transcripts/seeds.txt
run_with "$GRADAUDIT" "$T/data" audit --seeds 1 --out out7
refused "seeds.txt listing no seed: exit 2" 2 "$T/data/transcripts/seeds.txt: lists no seed"
mv keep.txt data/transcripts/seeds.txt
check "no refused run made its output directory" \
    sh -c '! ls -d out4 out5 out6 out7 2>/dev/null | grep -q .'

# installed: meson install --destdir, then the installed program
if "${MESON:?}" install -C "${GA_BUILD_ROOT:?}" --no-rebuild --destdir "$T/dest" >install.log 2>&1; then
    pass "meson install --destdir"
    data="$T/dest${GA_INSTALL_DATADIR:?}"
    prog="$T/dest${GA_INSTALL_BINDIR:?}/gradaudit"
    check "the transcripts are installed under the data directory, without the script" \
        sh -c "cmp -s '$REFS/seeds.txt' '$data/transcripts/seeds.txt' && \
               cmp -s '$REFS/first-draft/seed-0.state' '$data/transcripts/first-draft/seed-0.state' && \
               [ ! -e '$data/transcripts/regenerate.py' ]"
    (cd i && run_with "$prog" "$data" audit --seeds 1 --out aud && echo "$status" >status)
    status=$(cat i/status)
    sed 's#references in /.*#references in PATH#' "$T/out" >inst.txt
    sed 's#references in /.*#references in PATH#' build.txt >build-norm.txt
    check "installed program with GRADAUDIT_DATADIR: exit 0, the build tree's table" \
        sh -c "[ $status = 0 ] && cmp -s inst.txt build-norm.txt && \
               grep -qF 'references in $data/transcripts' '$T/out'"
    check "installed program: the same CSVs" \
        sh -c "for f in summary worked claims audit; do cmp -s b/aud/\$f.csv i/aud/\$f.csv || exit 1; done"
    # without GRADAUDIT_DATADIR it reads the real data directory; unless one
    # is installed there, that is a missing reference (the source tree is no
    # fallback for an installed program)
    if [ -e "$GA_INSTALL_DATADIR" ]; then
        skip "installed program without its data: exit 2" "$GA_INSTALL_DATADIR exists on this machine"
    else
        run_with "$prog" "" audit --seeds 1 --out inst-out2
        refused "installed program without its data: exit 2 naming the path" 2 \
            "$GA_INSTALL_DATADIR/transcripts/seeds.txt: cannot open"
    fi
else
    fail "meson install --destdir" "$(tail -5 install.log)"
fi

done_testing
