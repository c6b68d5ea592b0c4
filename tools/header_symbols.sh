#!/usr/bin/env bash
# The functions include/lorabert.h declares, one name a line (sorted): the shared library's
# export list. With --map, the GNU ld version script that exports exactly those and hides every
# other symbol (internal lb_ functions included), so no internal module needs an annotation.
# Usage: tools/header_symbols.sh [--map] [HEADER]   (CC from the environment, default cc)
set -euo pipefail
map=0; [ "${1:-}" = --map ] && { map=1; shift; }
h=${1:-"$(dirname "$0")/../include/lorabert.h"}
# The preprocessor drops comments (which name functions in prose) and macros; what is left is
# declarations, where a public function is an lb_ name followed by "(" but not "(*" (function-
# pointer members and typedefs are "(*name)", and may return an lb_ type: lb_status (*fn)(...)).
names=$(${CC:-cc} -E -P -x c "$h" | grep -oE '\blb_[a-z0-9_]+[[:space:]]*\([^*]' | sed -E 's/[[:space:]]*\(.$//' |
        LC_ALL=C sort -u)
[ -n "$names" ] || { echo "header_symbols.sh: no lb_ functions found in $h" >&2; exit 1; }
if [ $map -eq 0 ]; then echo "$names"; exit 0; fi
echo "/* generated from $h by tools/header_symbols.sh: the public API only */"
echo "{"
echo "  global:"
sed 's/.*/    &;/' <<<"$names"
echo "  local: *;"
echo "};"
