#!/usr/bin/env bash
# `lorabert serve` against its own OpenAPI document (GET /api-doc/openapi.json) with schemathesis
# (pinned by tools/serve_env.sh): every route, valid and invalid data (-D all), every check
# (no 5xx, documented status codes, content types, headers and response schemas, invalid data
# rejected, auth not ignored), 0 failures; once without and once with --api-key. Fixed seed;
# fewer examples in the ASan build.
set -u
source "$(dirname "$0")/../support/cli_common.sh" serve_schema
source "$(dirname "$0")/../support/serve_common.sh"
EXAMPLES=100; [ "$MODE" = asan ] && EXAMPLES=25
run_st() { # run_st LABEL [st options]
  local label=$1; shift
  (cd "$T" && "$SERVE_BIN/st" run "$URL/api-doc/openapi.json" --checks all -D all --hypothesis-seed 1 \
     --hypothesis-max-examples "$EXAMPLES" --request-timeout 60000 "$@") >"$T/st.log" 2>&1; local rc=$?
  sed -n '/SUMMARY/,$p' "$T/st.log"
  [ $rc -eq 0 ] || { cat "$T/st.log" | tail -80; fail "schemathesis ($label): rc=$rc"; }
  grep -q ' passed in ' "$T/st.log" && ! grep -qE '[0-9]+ (failed|errored)' "$T/st.log" || fail "schemathesis ($label)"
}
start_server --adapter a1="$A1"
run_st "no key"
stop_server
start_server --adapter a1="$A1" --api-key k3y
run_st "--api-key" -H "Authorization: Bearer k3y"
stop_server
echo "serve_schema: ok"
