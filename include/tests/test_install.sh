#!/bin/sh
# test_install.sh c|cxx BUILD_DIR TESTS_DIR [SANITIZE]: the public header
# stands alone. Installs the build into a temporary destdir, then checks that
#   - include/gradaudit/ holds gradaudit.h and gradaudit_criterion.h only;
#   - c: user.c, including only <gradaudit.h>, compiles with -std=c11 -Wall
#     -Wextra -Wpedantic -Werror and nothing but the installed include dir
#     (through the installed gradaudit.pc), links against the installed
#     libgradaudit.so and runs (its report, a long name whole, the norm log);
#   - cxx: the same with user.c compiled as C++20 (its designated
#     initialisers are in order): it links only if extern "C" covers every
#     declaration (one outside would be looked for under a mangled name);
#     skipped, saying so, when no C++ compiler is found.
# SANITIZE: the build's b_sanitize (the program links against an
# instrumented library). Exit 0 pass, 77 skip (meson), else fail.
set -eu
mode=$1 build=$2 tests=$3 san=${4:-none}
case "$mode" in c|cxx) ;; *) echo "usage: test_install.sh c|cxx BUILD_DIR TESTS_DIR [SANITIZE]"; exit 99 ;; esac
if [ "$mode" = cxx ]; then
  cxx=
  for c in ${CXX:-} c++ g++ clang++; do
    if command -v "$c" >/dev/null 2>&1; then cxx=$c; break; fi
  done
  if [ -z "$cxx" ]; then
    echo "SKIP: no C++ compiler (c++, g++, clang++; or set CXX): gradaudit.h not compiled as C++"
    exit 77
  fi
  cc=$cxx
  std="-x c++ -std=c++20"
else
  cc=${CC:-cc}
  std=-std=c11
fi
work=$(mktemp -d) || exit 99
trap 'rm -rf "$work"' EXIT
flags=
[ "$san" != none ] && flags="-fsanitize=$san"

meson install -C "$build" --destdir "$work/root" --no-rebuild --quiet >"$work/install.log" 2>&1 ||
  { cat "$work/install.log"; echo "FAIL: meson install --destdir"; exit 1; }
pc=$(find "$work/root" -name gradaudit.pc | head -n 1)
[ -n "$pc" ] || { echo "FAIL: no gradaudit.pc installed"; exit 1; }
inc=$(find "$work/root" -type d -path '*/include/gradaudit' | head -n 1)
headers=$(cd "$inc" && ls | tr '\n' ' ')
if [ "$headers" != "gradaudit.h gradaudit_criterion.h " ]; then
  echo "FAIL: installed headers are '$headers', want only gradaudit.h gradaudit_criterion.h"
  exit 1
fi
prefix=${pc%/lib/*}
prefix=${prefix%/share/*}
export PKG_CONFIG_PATH="$(dirname "$pc")"
cflags=$(pkg-config --define-variable=prefix="$prefix" --cflags gradaudit)
libs=$(pkg-config --define-variable=prefix="$prefix" --libs gradaudit)
libdir=$(pkg-config --define-variable=prefix="$prefix" --variable=libdir gradaudit)
case "$cflags" in *"$work"*) ;; *) echo "FAIL: pkg-config --cflags '$cflags' not in the destdir"; exit 1 ;; esac

# shellcheck disable=SC2086
$cc $std -Wall -Wextra -Wpedantic -Werror $flags $cflags "$tests/user.c" -o "$work/user" \
  $libs -Wl,-rpath,"$libdir" || { echo "FAIL: user.c ($std, $cc) against the installed header"; exit 1; }
"$work/user" "$work/r.csv" "$work/n.csv" >"$work/out" 2>&1 || { cat "$work/out"; echo "FAIL: user.c ran"; exit 1; }
grep -q '^names: a_parameter_name_well_beyond_forty_bytes_long\[0\] (FAIL)$' "$work/out" ||
  { cat "$work/out"; echo "FAIL: user.c's output"; exit 1; }
grep -q '^a_parameter_name_well_beyond_forty_bytes_long\[0\],0,' "$work/r.csv" ||
  { cat "$work/r.csv"; echo "FAIL: the CSV's long name"; exit 1; }
echo "ok: user.c ($std, $cc) compiled against $inc alone, linked against $libdir, ran"
