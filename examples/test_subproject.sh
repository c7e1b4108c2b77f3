#!/bin/sh
# test_subproject.sh: gradaudit as a meson subproject (README.md, "As a meson
# subproject"). Builds examples/subproject/ as the parent project, its
# subprojects/gradaudit a symlink to this source tree and its
# subprojects/gradaudit.wrap the example's, offline (--wrap-mode=nodownload)
# and with --force-fallback-for=gradaudit (an installed gradaudit is never
# looked at), then checks that
#   - dependency('gradaudit') is the subproject's override, and the parent's
#     program, linked with the library of the parent's build tree, passes a
#     right gradient (exit 0) and FAILs a wrong one (exit 1);
#   - gradaudit registered no test and built no bench, fuzz target, example or
#     test program: the parent's test list is its own test alone;
#   - nothing of gradaudit's is installed: meson introspect --installed is
#     empty and meson install --destdir writes nothing.
# Every meson feature used here is older than gradaudit's meson_version (0.63),
# so there is no skip for an old meson.
#   env: MESON, GA_SOURCE_ROOT; CC (the build's compiler)
GRADAUDIT=${GRADAUDIT:-none} # tap.sh's run() is not used: this suite runs meson
. "${GA_SOURCE_ROOT:?}/cli/tests/tap.sh"
EX=$GA_SOURCE_ROOT/examples/subproject
P=$T/parent
mkdir -p "$P/subprojects" && cp "$EX/meson.build" "$EX/square_check.c" "$P/" &&
    cp "$EX/gradaudit.wrap" "$P/subprojects/" && ln -s "$GA_SOURCE_ROOT" "$P/subprojects/gradaudit" || exit 99
cd "$P" || exit 99

if nice "$MESON" setup b --wrap-mode=nodownload --force-fallback-for=gradaudit >setup.log 2>&1 &&
    nice "$MESON" compile -C b -j 2 >compile.log 2>&1; then
    pass "the parent project configures and builds offline with gradaudit as its subproject"
else
    fail "the parent project configures and builds offline with gradaudit as its subproject" \
        "$(tail -n 20 setup.log compile.log 2>/dev/null)"
    done_testing
fi
check "dependency('gradaudit') is the subproject's meson.override_dependency" \
    grep -q "^Dependency gradaudit found: YES .*(overridden)" setup.log

./b/square_check >right.txt 2>&1
status=$?
check "the parent's program passes a right gradient: exit 0, 2 pass" \
    sh -c "[ $status = 0 ] && grep -q '^result: 2 pass, 0 FAIL' right.txt"
./b/square_check --wrong >wrong.txt 2>&1
status=$?
check "the parent's program FAILs a wrong gradient: exit 1, theta[1] FAIL" \
    sh -c "[ $status = 1 ] && grep -q '^  FAIL theta\[1\]' wrong.txt"
if command -v ldd >/dev/null 2>&1; then
    check "the program runs with the libgradaudit of the parent's build tree" \
        sh -c "ldd b/square_check | grep -q 'libgradaudit.* => $P/b/subprojects/gradaudit/'"
else
    skip "the program runs with the libgradaudit of the parent's build tree" "no ldd"
fi

"$MESON" test -C b --list --no-rebuild 2>&1 | grep -v '^ninja:' >tests.txt
check "no test of gradaudit's registered: the parent lists its own test alone" \
    sh -c "[ \"\$(cat tests.txt)\" = square_gradient ]"
"$MESON" introspect b --targets >targets.json
check "no bench, fuzz target, example or test program of gradaudit's built: its only program is gradaudit" \
    python3 -c 'import json, sys
names = [t["name"] for t in json.load(open("targets.json"))
         if t["type"] == "executable" and "/subprojects/gradaudit/" in t["defined_in"]]
sys.exit("executables: %s" % names if names != ["gradaudit"] else 0)'
check "nothing to install: meson introspect --installed is empty" \
    sh -c "[ \"\$('$MESON' introspect b --installed)\" = '{}' ]"
"$MESON" install -C b --destdir "$T/root" --no-rebuild >install.log 2>&1
status=$?
check "meson install --destdir succeeds and writes nothing" \
    sh -c "[ $status = 0 ] && [ -z \"\$(find '$T/root' ! -type d 2>/dev/null)\" ]"

done_testing
