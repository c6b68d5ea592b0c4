#!/usr/bin/env bash
# `lorabert download` end to end against the look-alike hub: output, exit codes, messages,
# concurrent runs, the progress line on a terminal; predict/info given a repo id.
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
# Refusals (issue 10 §2): exit status and one line naming the rule; nothing requested.
n_req=$(wc -l <"$HUB_ROOT/requests.log")
$LB download 'org/x?y=1#' 2>"$HUB_ROOT/err"; rc=$?
[ $rc -eq 2 ] && grep -q "invalid hub repo id 'org/x?y=1#': character '?'" "$HUB_ROOT/err" || fail "repo id with '?': rc=$rc $(cat "$HUB_ROOT/err")"
HF_TOKEN=$'hf_secret_token\r\nX-Injected: 1' $LB download org/tiny 2>"$HUB_ROOT/err"; rc=$?
[ $rc -eq 2 ] && grep -q "^lorabert: HF_TOKEN: byte 0x0d" "$HUB_ROOT/err" && ! grep -q hf_secret "$HUB_ROOT/err" ||
    fail "HF_TOKEN with CR LF: rc=$rc $(cat "$HUB_ROOT/err")"
[ "$(wc -l <"$HUB_ROOT/requests.log")" -eq "$n_req" ] || fail "a refused id or token still reached the hub"
HF_ENDPOINT=file:///etc $LB download org/tiny 2>"$HUB_ROOT/err"; rc=$?
[ $rc -eq 5 ] && grep -q "HF_ENDPOINT 'file:///etc': scheme 'file' is not allowed" "$HUB_ROOT/err" || fail "HF_ENDPOINT file://: rc=$rc $(cat "$HUB_ROOT/err")"
echo '{"cdn_location": {"model.safetensors": "file:///etc/passwd"}}' >"$HUB_ROOT/control.json"
HF_HUB_CACHE=$HUB_ROOT/cache2 $LB download org/tiny --include model.safetensors >/dev/null 2>"$HUB_ROOT/err"; rc=$?
[ $rc -eq 7 ] && grep -q "'file:///etc/passwd': scheme 'file' is not allowed" "$HUB_ROOT/err" || fail "CDN redirect to file://: rc=$rc $(cat "$HUB_ROOT/err")"
! grep -rqs '^root:' "$HUB_ROOT/cache2" || fail "/etc/passwd was copied into the cache"
echo '{}' >"$HUB_ROOT/control.json"

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
# Implicit resolution: predict / info given a repo id fetch the model into the cache first,
# then work offline from it.
C="$HUB_ROOT/repos/models/org--clf"; mkdir -p "$C" && cp tests/golden/distilbert_tiny/model/* "$C/"
{ echo '[PAD]'; for i in $(seq 0 98); do echo "[unused$i]"; done; printf '[UNK]\n[CLS]\n[SEP]\n[MASK]\n';
  for i in $(seq 99 114); do echo "[unused$i]"; done; } >"$C/vocab.txt"
echo "not a weight file" >"$C/pytorch_model.bin"
$LB predict --json --model org/clf "It was good." >"$HUB_ROOT/p1" || fail "predict --model org/clf"
grep -q '"label":"\(Negative\|Positive\)"' "$HUB_ROOT/p1" || fail "predict output: $(cat "$HUB_ROOT/p1")"
snap=$(ls -d "$HF_HUB_CACHE"/models--org--clf/snapshots/*)
[ -f "$snap/model.safetensors" ] && [ ! -e "$snap/pytorch_model.bin" ] || fail "predict fetched the wrong files: $(ls "$snap")"
HF_HUB_OFFLINE=1 $LB predict --json --model org/clf "It was good." >"$HUB_ROOT/p2" || fail "offline predict"
cmp -s "$HUB_ROOT/p1" "$HUB_ROOT/p2" || fail "offline result differs"
HF_HUB_OFFLINE=1 $LB info org/clf | grep -q '^parameters:    24,162 in 40 tensors$' || fail "info org/clf"
echo "download: ok"
