# Sourced by tests/cli/*.sh (directly, or through cli_common.sh): moves to the repository root and
# sets LB (the binary, $LORABERT_BIN), SHARED (../shared, $LORABERT_SHARED), fail() and T (a
# scratch folder /tmp/lb<NAME>XXXXXX removed on exit: a script that sets its own EXIT trap removes
# it there too), and offers need_ref_py.
# Usage: source "$(dirname "$0")/../support/cli_base.sh" NAME
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
LB=${LORABERT_BIN:-build/release/lorabert}
SHARED=${LORABERT_SHARED:-../shared}
fail() { echo "FAIL: $*"; exit 1; }
T=$(mktemp -d "/tmp/lb${1:-cli}XXXXXX")
trap 'rm -rf "$T"' EXIT

# need_ref_py IMPORTS: PY = the pinned reference env's python ($LORABERT_REF_PY, else the cached
# one; in CI tools/reference/setup_env.sh makes it, and a failure there fails the test); skips (77)
# when that python cannot import IMPORTS ("transformers, peft").
need_ref_py() {
  PY=${LORABERT_REF_PY:-${XDG_CACHE_HOME:-$HOME/.cache}/lorabert/refenv/bin/python}
  if [ "${CI:-}" = true ]; then PY=$(bash tools/reference/setup_env.sh) || exit 1; fi
  if ! [ -x "$PY" ] || ! "$PY" -c "import $1" 2>/dev/null; then
    echo "reference env absent: run tools/reference/setup_env.sh"; exit 77
  fi
}
