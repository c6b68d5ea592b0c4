#!/usr/bin/env bash
# Creates (once) the pinned Python environment of the server tests (tests/cli/serve*.sh): the
# `requests` client and schemathesis, which fuzzes the server against its own OpenAPI document.
# Shared by every worktree under a lock; pip moves packages to the pins in place.
# Prints the path of the environment's bin folder on success; exits 77 when PyPI is unreachable.
set -euo pipefail
ENV_DIR=${LORABERT_SERVE_ENV:-${XDG_CACHE_HOME:-$HOME/.cache}/lorabert/serve-env}
STAMP="$ENV_DIR/.lorabert-pins"
# hypothesis: the last releases that schemathesis 3.39 works with (newer ones dropped an internal it uses)
PINS="requests==2.32.3 schemathesis==3.39.16 hypothesis==6.123.0"
if [ ! -f "$STAMP" ] || [ "$(cat "$STAMP")" != "$PINS" ]; then
  mkdir -p "$(dirname "$ENV_DIR")"
  exec 9>"$ENV_DIR.lock"
  flock 9
  if [ ! -f "$STAMP" ] || [ "$(cat "$STAMP")" != "$PINS" ]; then
    [ -x "$ENV_DIR/bin/python" ] || /usr/bin/python3 -m venv "$ENV_DIR" >&2
    if ! "$ENV_DIR/bin/pip" install -q --disable-pip-version-check $PINS >&2; then
      echo "tools/serve_env.sh: cannot install $PINS (PyPI unreachable?)" >&2
      exit 77
    fi
    echo "$PINS" > "$STAMP"
  fi
  exec 9>&-
fi
echo "$ENV_DIR/bin"
