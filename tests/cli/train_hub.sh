#!/usr/bin/env bash
# `lorabert train --dataset REPO_ID` resolves the split files of a hub dataset snapshot through
# the look-alike hub (tests/support/hubserver.py): train.csv at the top level, the validation
# split under data/ (random bytes there, so the run must stop with a format error naming it).
set -u
cd "$(dirname "$0")/../.."
LB=${LORABERT_BIN:-build/release/lorabert}
SHARED=${LORABERT_SHARED:-../shared}
[ -f "$SHARED/data/tokenizer/vocab.txt" ] || { echo "shared data absent ($SHARED); set LORABERT_SHARED"; exit 77; }
source tests/support/hubserver.sh
M=$HUB_ROOT/model
mkdir -p "$M"
cp tests/golden/distilbert_traj/model/* "$SHARED/data/tokenizer/vocab.txt" "$M/"
$LB train --model "$M" --dataset org/data --epochs 1 --max-length 32 --output "$HUB_ROOT/out" >/dev/null 2>"$HUB_ROOT/err"; rc=$?
[ $rc -eq 4 ] || fail "rc=$rc, want 4 (corrupt validation parquet): $(cat "$HUB_ROOT/err")"
grep -q 'data/validation.parquet' "$HUB_ROOT/err" || fail "error must name the validation split file: $(cat "$HUB_ROOT/err")"
[ -f "$HF_HUB_CACHE"/datasets--org--data/snapshots/*/train.csv ] || fail "dataset not in the HF cache"
$LB train --model "$M" --dataset org/nope --epochs 1 >/dev/null 2>"$HUB_ROOT/err"; rc=$?
[ $rc -eq 7 ] || fail "missing dataset repo: rc=$rc $(cat "$HUB_ROOT/err")"
$LB train --model ./no/such/dir --epochs 1 >/dev/null 2>"$HUB_ROOT/err"; rc=$?
[ $rc -eq 3 ] || fail "missing model folder: rc=$rc $(cat "$HUB_ROOT/err")"
echo ok
