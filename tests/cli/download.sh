#!/usr/bin/env bash
# `lorabert download` end to end against the look-alike hub: output, exit codes, messages,
# the progress line on a terminal.
set -u
cd "$(dirname "$0")/../.."
LB=${LORABERT_BIN:-build/release/lorabert}
source tests/support/hubserver.sh

$LB download --help | grep -q '^usage: lorabert download REPO_ID' || fail "--help"
$LB download >/dev/null 2>&1; [ $? -eq 2 ] || fail "no REPO_ID must be a usage error (2)"
$LB download org/tiny --bogus >/dev/null 2>&1; [ $? -eq 2 ] || fail "unknown option must be a usage error"
$LB download ./local >/dev/null 2>&1; [ $? -eq 2 ] || fail "a path is not a repo id"

out=$($LB download org/tiny 2>"$HUB_ROOT/err"); rc=$?
[ $rc -eq 0 ] || fail "download org/tiny: rc=$rc: $(cat "$HUB_ROOT/err")"
[ "$(printf '%s\n' "$out" | wc -l)" -eq 1 ] || fail "stdout must be the snapshot path only: $out"
[ "$(dirname "$out")" = "$HF_HUB_CACHE/models--org--tiny/snapshots" ] || fail "unexpected path $out"
cmp -s "$out/model.safetensors" "$HUB_ROOT/repos/models/org--tiny/model.safetensors" || fail "content"
[ ! -s "$HUB_ROOT/err" ] || fail "stderr not a terminal, so no progress output expected: $(cat "$HUB_ROOT/err")"

out=$($LB download org/data --dataset --include 'data/*' --revision main) || fail "dataset"
[ -f "$out/data/validation.parquet" ] && [ ! -e "$out/train.csv" ] || fail "--include on a dataset"

$LB download org/nope 2>"$HUB_ROOT/err"; rc=$?
[ $rc -eq 7 ] || fail "missing repo: rc=$rc, want 7"
[ "$(wc -l <"$HUB_ROOT/err")" -eq 1 ] && grep -q "no such model repo 'org/nope'" "$HUB_ROOT/err" || fail "404 message: $(cat "$HUB_ROOT/err")"
$LB download org/private 2>"$HUB_ROOT/err"; [ $? -eq 7 ] && grep -q HF_TOKEN "$HUB_ROOT/err" || fail "401 message"
HF_TOKEN=hf_secret_token $LB download org/private >/dev/null || fail "token"
HF_HUB_OFFLINE=1 $LB download org/other 2>"$HUB_ROOT/err"; [ $? -eq 3 ] && grep -q HF_HUB_OFFLINE "$HUB_ROOT/err" || fail "offline"
HF_ENDPOINT=http://127.0.0.1:1 $LB download solo 2>"$HUB_ROOT/err"; [ $? -eq 7 ] && grep -q "cannot reach" "$HUB_ROOT/err" || fail "unreachable"

# Two downloads of one repo at once (they take turns on each blob's lock) both succeed.
rm -rf "$HF_HUB_CACHE"
$LB download org/tiny >"$HUB_ROOT/o1" 2>&1 & p1=$!
$LB download org/tiny >"$HUB_ROOT/o2" 2>&1 & p2=$!
wait $p1 || fail "concurrent download 1: $(cat "$HUB_ROOT/o1")"
wait $p2 || fail "concurrent download 2: $(cat "$HUB_ROOT/o2")"
cmp -s "$(cat "$HUB_ROOT/o1")/model.safetensors" "$HUB_ROOT/repos/models/org--tiny/model.safetensors" || fail "concurrent content"
[ -z "$(find "$HF_HUB_CACHE" -name '*.incomplete' -o -name '*.lock' -o -name '*.tmp*')" ] || fail "leftovers: $(find "$HF_HUB_CACHE")"

# On a terminal: one progress line per downloaded file (the LFS one comes from the CDN).
rm -rf "$HF_HUB_CACHE"
script -qec "$LB download org/tiny --include '*.safetensors' >/dev/null" /dev/null >"$HUB_ROOT/tty" </dev/null || fail "tty run"
grep -q 'model.safetensors *100%' "$HUB_ROOT/tty" || fail "no progress line: $(cat -v "$HUB_ROOT/tty")"
echo "download: ok"
