#!/usr/bin/env bash
# Creates (once) the pinned Python environment of the server tests (tests/cli/serve*.sh): the
# `requests` client and schemathesis, which fuzzes the server against its own OpenAPI document.
# Shared by every worktree under a lock; pip moves packages to the pins in place.
# Prints the path of the environment's bin folder on success; exits 77 when PyPI is unreachable.
set -euo pipefail
ENV_DIR=${LORABERT_SERVE_ENV:-${XDG_CACHE_HOME:-$HOME/.cache}/lorabert/serve-env}
# hypothesis: the last releases that schemathesis 3.39 works with (newer ones dropped an internal it uses)
PINS="requests==2.32.3 schemathesis==3.39.16 hypothesis==6.123.0"
# shellcheck source=tools/reference/pinned_venv.sh
source "$(dirname "$0")/reference/pinned_venv.sh"
lb_pinned_venv "$ENV_DIR" "$PINS" || exit $?
echo "$ENV_DIR/bin"
