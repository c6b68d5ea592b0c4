#!/usr/bin/env bash
# The HF cache is shared both ways with Python's huggingface_hub 0.17.3 (the reference env):
# it reads offline what lorabert downloaded, and lorabert reads offline what it downloaded from
# the same look-alike hub. Skips when the reference env is absent (runs it when CI=true).
set -u
cd "$(dirname "$0")/../.."
LB=${LORABERT_BIN:-build/release/lorabert}
PY=${LORABERT_REF_PY:-${XDG_CACHE_HOME:-$HOME/.cache}/lorabert/refenv/bin/python}
if [ "${CI:-}" = true ]; then PY=$(bash tools/reference/setup_env.sh) || exit 1; fi
if ! [ -x "$PY" ] || ! "$PY" -c 'import huggingface_hub' 2>/dev/null; then
  echo "reference env (huggingface_hub) absent: run tools/reference/setup_env.sh"; exit 77
fi
source tests/support/hubserver.sh
export HF_HUB_DISABLE_TELEMETRY=1

# 1. lorabert writes, huggingface_hub reads (offline).
ours=$($LB download org/tiny) || fail "lorabert download"
dsours=$($LB download org/data --dataset) || fail "lorabert download dataset"
HF_HUB_OFFLINE=1 "$PY" - "$ours" "$dsours" "$HUB_ROOT/repos" <<'PYEOF' || fail "huggingface_hub could not read lorabert's cache"
import sys, os
from huggingface_hub import snapshot_download, hf_hub_download, try_to_load_from_cache
ours, dsours, repos = sys.argv[1:]
assert snapshot_download("org/tiny", local_files_only=True) == ours, "snapshot path differs"
assert snapshot_download("org/data", repo_type="dataset", local_files_only=True) == dsours
for f in ["config.json", "model.safetensors", "sub/dir/notes.txt", "vocab.txt"]:
    p = hf_hub_download("org/tiny", f, local_files_only=True)
    assert p == os.path.join(ours, f), p
    assert open(p, "rb").read() == open(os.path.join(repos, "models/org--tiny", f), "rb").read(), f
    assert try_to_load_from_cache("org/tiny", f) == p
p = hf_hub_download("org/data", "data/validation.parquet", repo_type="dataset", local_files_only=True)
assert open(p, "rb").read() == open(os.path.join(repos, "datasets/org--data/data/validation.parquet"), "rb").read()
print("huggingface_hub read lorabert's cache")
PYEOF

# 2. huggingface_hub downloads from the look-alike hub, lorabert reads (offline, then online
#    without fetching anything again).
export HF_HUB_CACHE="$HUB_ROOT/pycache" HUGGINGFACE_HUB_CACHE="$HUB_ROOT/pycache"
theirs=$("$PY" -c 'from huggingface_hub import snapshot_download; print(snapshot_download("org/tiny"))' 2>/dev/null | tail -1) \
  || fail "huggingface_hub download from the look-alike hub"
[ -f "$theirs/model.safetensors" ] || fail "python snapshot incomplete: $theirs"
got=$(HF_HUB_OFFLINE=1 $LB download org/tiny) || fail "lorabert offline read of huggingface_hub's cache"
[ "$got" = "$theirs" ] || fail "lorabert resolved $got, huggingface_hub wrote $theirs"
before=$(grep -c '"GET"' "$HUB_ROOT/requests.log")
got=$($LB download org/tiny) || fail "lorabert online over huggingface_hub's cache"
[ "$got" = "$theirs" ] || fail "online path differs"
after=$(grep -c '"GET"' "$HUB_ROOT/requests.log")
[ $((after - before)) -eq 1 ] || fail "lorabert fetched again what huggingface_hub had cached ($((after - before)) GETs)"
cmp -s "$got/model.safetensors" "$HUB_ROOT/repos/models/org--tiny/model.safetensors" || fail "content"
echo "hub_interop: ok"
