#!/usr/bin/env bash
# The installable library (issue 11 §2): `make lib` gives liblorabert.a and
# liblorabert.so.VERSION (soname liblorabert.so.MAJOR, both from include/lorabert.h) + symlinks;
# the shared library exports exactly the functions the header declares (internal lb_ functions
# stay hidden); `make install DESTDIR= PREFIX=` puts the seven files in place with a lorabert.pc
# naming PREFIX (not DESTDIR), and `make uninstall` removes exactly those.
set -u
source "$(dirname "$0")/../support/cli_base.sh" lib
MODE=$(basename "$(dirname "$LB")")
B=build/$MODE

make -s -j2 MODE="$MODE" lib >"$T/make.log" 2>&1 || { cat "$T/make.log"; fail "make lib"; }
ver=$(sed -n 's/^#define LORABERT_VERSION "\([0-9.]*\)".*/\1/p' include/lorabert.h)
major=$(sed -n 's/^#define LORABERT_VERSION_MAJOR \([0-9]*\).*/\1/p' include/lorabert.h)
[ -n "$ver" ] && [ "${ver%%.*}" = "$major" ] || fail "header version '$ver' / major '$major'"
so=$B/liblorabert.so.$ver
[ -f "$so" ] && [ -f "$B/liblorabert.a" ] || fail "make lib: missing $so or liblorabert.a"
[ "$(readlink "$B/liblorabert.so.$major")" = "liblorabert.so.$ver" ] || fail "liblorabert.so.$major symlink"
[ "$(readlink "$B/liblorabert.so")" = "liblorabert.so.$major" ] || fail "liblorabert.so symlink"
soname=$(objdump -p "$so" | awk '$1 == "SONAME" {print $2}')
[ "$soname" = "liblorabert.so.$major" ] || fail "soname '$soname', want liblorabert.so.$major"

# Exports: every defined dynamic symbol is a function the header declares, and every declared
# function is exported.
tools/header_symbols.sh >"$T/declared"
nm -D --defined-only "$so" | awk '{print $NF}' | LC_ALL=C sort -u >"$T/exported"
if ! cmp -s "$T/declared" "$T/exported"; then
  echo "declared in include/lorabert.h (<) versus exported by $so (>):"
  diff "$T/declared" "$T/exported" | grep '^[<>]'
  fail "the shared library must export exactly the header's functions"
fi
nm -D --defined-only "$so" | awk '$2 != "T" {bad = bad " " $NF} END {exit bad != ""}' || fail "non-function exports"
# the archive holds internal lb_ functions that the .so hides (so the check above means something)
internal=$(nm --defined-only -g "$B/liblorabert.a" 2>/dev/null | awk '$2 == "T" && $3 ~ /^lb_/ {print $3}' \
           | LC_ALL=C sort -u | comm -23 - "$T/declared" | wc -l)
[ "$internal" -gt 20 ] || fail "expected internal lb_ functions in liblorabert.a, found $internal"
echo "exports: $(wc -l <"$T/exported") functions, the header's; $internal internal lb_ functions hidden"

# install / uninstall into a staging DESTDIR
make -s MODE="$MODE" install DESTDIR="$T/stage" PREFIX=/opt/lb >"$T/make.log" 2>&1 || { cat "$T/make.log"; fail "make install"; }
(cd "$T/stage" && find . \( -type f -o -type l \) | LC_ALL=C sort) >"$T/files"
printf '%s\n' ./opt/lb/bin/lorabert ./opt/lb/include/lorabert.h ./opt/lb/lib/liblorabert.a \
  ./opt/lb/lib/liblorabert.so ./opt/lb/lib/liblorabert.so.$major ./opt/lb/lib/liblorabert.so.$ver \
  ./opt/lb/lib/pkgconfig/lorabert.pc $(pkg-config --exists ompi-c 2>/dev/null && echo ./opt/lb/lib/lorabert/lorabert-mpi.so) |
  LC_ALL=C sort >"$T/want"   # the CLI's MPI plugin where Open MPI is installed (docs/distributed.md)
diff "$T/want" "$T/files" || fail "installed files"
L=$T/stage/opt/lb/lib
[ -L "$L/liblorabert.so.$major" ] && [ -L "$L/liblorabert.so" ] || fail "installed symlinks"
cmp -s "$L/liblorabert.so" "$so" && cmp -s include/lorabert.h "$T/stage/opt/lb/include/lorabert.h" || fail "installed copies differ"
pc=$L/pkgconfig/lorabert.pc
grep -qx 'prefix=/opt/lb' "$pc" && grep -qx "Version: $ver" "$pc" || fail "lorabert.pc: $(cat "$pc")"
grep -q "$T" "$pc" && fail "lorabert.pc names the DESTDIR: $(cat "$pc")"
libs=$(PKG_CONFIG_PATH=$L/pkgconfig pkg-config --libs lorabert) && cflags=$(PKG_CONFIG_PATH=$L/pkgconfig pkg-config --cflags lorabert) \
  || fail "pkg-config cannot read lorabert.pc"
[ "$(echo $cflags)" = "-I/opt/lb/include" ] && [ "$(echo $libs)" = "-L/opt/lb/lib -llorabert" ] || fail "pkg-config: '$cflags' '$libs'"
static=$(PKG_CONFIG_PATH=$L/pkgconfig pkg-config --static --libs lorabert)
for l in -lopenblas -lutf8proc -lcjson -lcurl -lcrypto -lzstd -lsnappy -llz4 -lz -lm -fopenmp; do
  grep -qw -- "$l" <<<"$static" || fail "pkg-config --static lacks $l: $static"
done
touch "$T/stage/opt/lb/lib/other.so"   # not ours: uninstall leaves it
make -s MODE="$MODE" uninstall DESTDIR="$T/stage" PREFIX=/opt/lb >"$T/make.log" 2>&1 || { cat "$T/make.log"; fail "make uninstall"; }
left=$(cd "$T/stage" && find . \( -type f -o -type l \) | LC_ALL=C sort)
[ "$left" = "./opt/lb/lib/other.so" ] || fail "uninstall left: $left"
echo "library: ok"
