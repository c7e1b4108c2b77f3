# tap.sh: what the shell suites of cli/tests share (sourced, POSIX sh): TAP
# output, a temporary directory, and runs of $GRADAUDIT with a time limit.
#   run ARGS...     runs the program, stdin from /dev/null, 20 s at most;
#                   sets $status, and $T/out, $T/err hold stdout and stderr
#   refused DESC STATUS TEXT
#                   one test: exit STATUS, exactly one line on stderr that
#                   contains TEXT, nothing on stdout
#   check DESC CMD...  one test: CMD succeeds
#   skip DESC WHY   one test skipped, with the reason
#   at_exit CMD     CMD runs before the temporary directory is removed
#   done_testing    prints the plan; the suite's status says whether all passed
: "${GRADAUDIT:?GRADAUDIT names the program (meson sets it)}"
n=0
failed=0
T=$(mktemp -d /tmp/ga_cli_XXXXXX) || exit 99
on_exit=:
at_exit() { on_exit="$on_exit; $1"; }
trap 'eval "$on_exit"; chmod -R u+w "$T" 2>/dev/null; rm -rf "$T"' EXIT

run() {
    timeout 20 "$GRADAUDIT" "$@" >"$T/out" 2>"$T/err" </dev/null
    status=$?
}

pass() { n=$((n + 1)); echo "ok $n - $1"; }
skip() { n=$((n + 1)); echo "ok $n - $1 # SKIP $2"; }
fail() {
    n=$((n + 1))
    failed=1
    echo "not ok $n - $1"
    shift
    for line in "$@"; do echo "#   $line"; done
}

refused() {
    lines=$(wc -l <"$T/err")
    if [ "$status" = "$2" ] && [ "$lines" -eq 1 ] && grep -qF -- "$3" "$T/err" && [ ! -s "$T/out" ]; then
        pass "$1"
    else
        fail "$1" "exit $status (want $2), $lines stderr lines (want 1) containing '$3':" \
            "$(head -c 600 "$T/err")" "stdout: $(head -c 200 "$T/out")"
    fi
}

check() {
    desc=$1
    shift
    if "$@"; then pass "$desc"; else fail "$desc" "failed: $*"; fi
}

done_testing() {
    echo "1..$n"
    exit "$failed"
}
