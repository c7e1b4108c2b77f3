#!/bin/sh
# make_man.sh PROGRAM COMMAND OUT NAME: writes the man page of `PROGRAM COMMAND`
# (COMMAND "-" for the program itself) to OUT with help2man, from the same
# text as --help: the page says what the program prints, never more or less.
# help2man runs an executable with --help and --version; a command's page
# runs a small wrapper that adds the command word.
set -eu
prog=$1 cmd=$2 out=$3 name=$4
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
if [ "$cmd" = "-" ]; then
  exe=$tmp/gradaudit
  printf '#!/bin/sh\nexec "%s" "$@"\n' "$prog" > "$exe"
  include=$tmp/see_also
  printf '[SEE ALSO]\n.BR gradaudit-audit (1),\n.BR gradaudit-check (1),\n.BR gradaudit-eval (1),\n.BR gradaudit-tutorial (1),\n.BR gradaudit-scan (1),\n.BR gradaudit-train (1),\n.BR gradaudit-merge (1),\n.BR gradaudit-norms (1)\n' > "$include"
  set -- --include "$include"
else
  exe=$tmp/gradaudit-$cmd
  printf '#!/bin/sh\nexec "%s" %s "$@"\n' "$prog" "$cmd" > "$exe"
  # the page's title and NAME come from the version line's first word
  set -- --version-string "gradaudit-$cmd $("$prog" --version | sed 's/^gradaudit //')"
fi
chmod +x "$exe"
help2man --no-info --no-discard-stderr --name "$name" "$@" --output "$out.tmp" "$exe"
mv "$out.tmp" "$out"
