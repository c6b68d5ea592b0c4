# Sourced by the hub CLI tests: starts tests/support/hubserver.py (the look-alike Hub) in a
# temp dir and exports HF_ENDPOINT / HF_HUB_CACHE pointing at it; cleans up on exit.
# Exits 77 (skip) when python3 is missing.
command -v python3 >/dev/null 2>&1 || { echo "python3 not found: it runs the look-alike hub server"; exit 77; }
HUB_ROOT=$(mktemp -d /tmp/lbhubcli.XXXXXX)
python3 tests/support/hubserver.py "$HUB_ROOT" &
HUB_PID=$!
trap 'kill $HUB_PID 2>/dev/null; wait $HUB_PID 2>/dev/null; rm -rf "$HUB_ROOT"' EXIT
for _ in $(seq 200); do [ -f "$HUB_ROOT/port" ] && break; sleep 0.05; done
[ -f "$HUB_ROOT/port" ] || { echo "hub server did not start"; exit 1; }
unset HF_TOKEN HUGGING_FACE_HUB_TOKEN HF_HUB_OFFLINE TRANSFORMERS_OFFLINE HF_HOME XDG_CACHE_HOME
export HF_ENDPOINT="http://127.0.0.1:$(cat "$HUB_ROOT/port")"
export HF_HUB_CACHE="$HUB_ROOT/cache" HUGGINGFACE_HUB_CACHE="$HUB_ROOT/cache"
fail() { echo "FAIL: $*"; exit 1; }
