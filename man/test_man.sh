#!/bin/sh
# test_man.sh PROGRAM DIR: every man page in DIR was generated from the
# current --help: each long option and each command its --help prints
# appears in the page (help2man escapes '-' as '\-'), and the page's title
# names the command. TAP output.
prog=$1 dir=$2
n=0 fail=0
check() { # page, command words...
  page=$1; shift
  n=$((n + 1))
  if [ ! -s "$dir/$page" ]; then
    echo "not ok $n - $page: missing or empty"; fail=1; return
  fi
  missing=
  for opt in $("$prog" "$@" --help 2>&1 | grep -o -- '--[a-z][a-z-]*' | sort -u); do
    esc=$(printf '%s' "$opt" | sed 's/-/\\\\-/g')
    grep -q -- "$esc" "$dir/$page" || missing="$missing $opt"
  done
  title=$(echo "$page" | sed 's/\.1$//' | tr a-z A-Z)
  grep -q "^\.TH \"*$title\"* " "$dir/$page" || missing="$missing (title $title)"
  if [ -n "$missing" ]; then
    echo "not ok $n - $page lacks:$missing"; fail=1
  else
    echo "ok $n - $page holds every option of \`gradaudit $*--help\`"
  fi
}
check gradaudit.1
for c in audit check eval tutorial scan train merge norms; do
  check gradaudit-$c.1 $c
done
# the top page lists every command
n=$((n + 1))
missing=
for c in audit check eval tutorial scan train merge norms; do
  grep -q "^$c\$" "$dir/gradaudit.1" || missing="$missing $c"
done
[ -z "$missing" ] && echo "ok $n - gradaudit.1 lists every command" || { echo "not ok $n - gradaudit.1 lacks:$missing"; fail=1; }
echo "1..$n"
exit $fail
