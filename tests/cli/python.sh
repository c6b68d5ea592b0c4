#!/usr/bin/env bash
# The Python package: `pip install ./python[test]` into a fresh venv (the wheel builds and bundles
# liblorabert.so with `make lib` in this build's mode; pytest pinned in python/pyproject.toml),
# then python/tests with pytest against the CLI of the same build: predictions, evaluation and
# training equal the CLI's, bad inputs raise the C message, the GIL is released. In an ASan build
# python runs with the sanitizer runtimes preloaded. Skips only when PyPI (setuptools, pytest)
# is unreachable.
set -u
source "$(dirname "$0")/../support/cli_base.sh" py
MODE=$(basename "$(dirname "$LB")")
pin=$(grep -o '"pytest==[0-9.]*"' python/pyproject.toml | tr -d '"')
[ -n "$pin" ] || fail "python/pyproject.toml: no pinned pytest"
python3 -m venv "$T/venv" || fail "python3 -m venv"
V=$T/venv/bin
"$V/pip" download -q --no-deps -d "$T/dl" "$pin" >"$T/pip.log" 2>&1 || { tail -3 "$T/pip.log"; echo "PyPI unreachable: cannot install $pin"; exit 77; }
LORABERT_MODE=$MODE "$V/pip" install -q "./python[test]" >"$T/pip.log" 2>&1 || { tail -40 "$T/pip.log"; fail "pip install ./python"; }

preload=()
if [ "$MODE" = asan ]; then
  preload=(env LD_PRELOAD="$(cc -print-file-name=libasan.so) $(cc -print-file-name=libubsan.so)"
           ASAN_OPTIONS=detect_leaks=0:abort_on_error=0)
fi
# the installed package loads its bundled library, not the repository's build
loc=$(cd "$T" && "${preload[@]}" "$V/python" -c 'import lorabert; print(lorabert.__file__, lorabert.LIBRARY_PATH, lorabert.__version__)') \
  || fail "import lorabert"
echo "lorabert: $loc"
read -r file lib ver <<<"$loc"
case $file in "$T"/venv/*) ;; *) fail "lorabert imported from $file, not the venv";; esac
[ "$lib" = "$(dirname "$file")/liblorabert.so.0" ] || fail "library $lib is not the bundled copy"
# LORABERT_LIB overrides the bundled copy
R=$PWD
other=$(cd "$T" && LORABERT_LIB=$R/build/$MODE/liblorabert.so.0 "${preload[@]}" "$V/python" -c 'import lorabert; print(lorabert.LIBRARY_PATH)' 2>&1)
[ "$other" = "$R/build/$MODE/liblorabert.so.0" ] || fail "LORABERT_LIB not honoured: $other"

LORABERT_BIN=$PWD/$LB LORABERT_ROOT=$PWD "${preload[@]}" "$V/pytest" -q -p no:cacheprovider -rs ${PYTEST_ARGS:-} python/tests 2>&1 | tee "$T/pytest.log"
rc=${PIPESTATUS[0]}
[ "$rc" -eq 0 ] || fail "pytest (rc=$rc)"
if grep -q 'does not export' "$T/pytest.log"; then
  echo "skip: some Python tests wait for library functions: $(grep -o 'does not export [a-z_, ]*' "$T/pytest.log" | sort -u | tr '\n' ';')"
  exit 77
fi
echo "python: ok"
