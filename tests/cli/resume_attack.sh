#!/usr/bin/env bash
# A resume folder is user input: every field of resume.json is checked against the run, and a
# folder whose files come from two checkpoints is refused (issue 10's repros: order[] out of
# range, negative step_in_epoch / epoch, a huge global_step, files of another step). Each must
# be exit 4 with the field or file named, never a crash; the untouched folder still resumes.
set -u
source "$(dirname "$0")/../support/cli_common.sh" resatk
# 4000 rows (the 1000 reviews four times): an epoch of 4000 steps leaves the SIGTERM below
# thousands of steps after the first progress line (step 400) to land mid-epoch, however fast
# the CPU (with 400 rows a fast machine finished the epoch before the signal arrived).
{ cat "$SHARED/data/imdb/train.csv"; for _ in 1 2 3; do tail -n +2 "$SHARED/data/imdb/train.csv"; done; } >"$T/train.csv"
R=(--model "$M" --train "$T/train.csv" --max-length 64 --threads 1 --epochs 500 --batch-size 1 --no-eval)
interrupted() {   # interrupted OUTPUT: a run stopped by SIGTERM after its first logged steps
  $LB train "${R[@]}" --output "$1" >"$1.log" 2>&1 &
  local pid=$! rc
  for _ in $(seq 300); do grep -q '^epoch [0-9]*/500 step' "$1.log" 2>/dev/null && break; sleep 0.1; done
  sleep "${2:-0}"
  kill -TERM $pid
  wait $pid; rc=$?
  [ $rc -eq 9 ] || fail "SIGTERM: rc=$rc $(tail -3 "$1.log")"
}
interrupted "$T/a"
interrupted "$T/b" 1
grep -q "\"order_valid\": 1" "$T/a/resume/resume.json" || fail "run a did not stop mid-epoch: $(grep -o "\"order_valid\": [0-9]" "$T/a/resume/resume.json") $(tail -2 "$T/a.log")"
cmp -s "$T/a/resume/optimizer.safetensors" "$T/b/resume/optimizer.safetensors" && fail "two runs stopped at one step"

attack() {   # attack NAME EXPECTED_IN_MESSAGE PYTHON_EDIT_OF_d
  local dir=$T/atk_$1
  rm -rf "$dir"; mkdir -p "$dir"; cp -r "$T/a/resume" "$dir/resume"
  python3 - "$dir/resume/resume.json" "$3" <<'PY'
import json, sys
p, edit = sys.argv[1], sys.argv[2]
d = json.load(open(p))
exec(edit)
json.dump(d, open(p, "w"))
PY
  $LB train "${R[@]}" --resume "$dir/resume" >"$dir.log" 2>&1; local rc=$?
  [ $rc -eq 4 ] || fail "$1: rc=$rc (expected 4) $(tail -3 "$dir.log")"
  grep -q -- "$2" "$dir.log" || fail "$1: message does not name $2: $(tail -2 "$dir.log")"
}
attack order_last 'order' 'd["order"][-1] = 1000000'
attack step_neg 'step_in_epoch' 'd["step_in_epoch"] = -1'
attack step_neg100 'step_in_epoch' 'd["step_in_epoch"] = -100'
attack epoch_neg 'epoch' 'd["epoch"] = -3'
attack global_huge 'global_step' 'd["global_step"] = 1e9'
attack order_dup 'order' 'd["order"][0] = d["order"][1]'
attack rng_text 'dropout_rng' 'd["dropout_rng"][0] = "12x"'

# A file of another checkpoint (the optimizer state of run b) in run a's folder.
rm -rf "$T/mix"; mkdir -p "$T/mix"; cp -r "$T/a/resume" "$T/mix/resume"
cp "$T/b/resume/optimizer.safetensors" "$T/mix/resume/"
$LB train "${R[@]}" --resume "$T/mix/resume" >"$T/mix.log" 2>&1; rc=$?
[ $rc -eq 4 ] && grep -q 'mixes files of different checkpoints' "$T/mix.log" || fail "mixed checkpoint: rc=$rc $(tail -2 "$T/mix.log")"
cp "$T/b/resume/adapter_model.safetensors" "$T/mix/resume/"
cp "$T/a/resume/optimizer.safetensors" "$T/mix/resume/"
$LB train "${R[@]}" --resume "$T/mix/resume" >"$T/mix2.log" 2>&1; rc=$?
[ $rc -eq 4 ] && grep -q 'adapter_model.safetensors' "$T/mix2.log" || fail "mixed adapter: rc=$rc $(tail -2 "$T/mix2.log")"

# The untouched folder resumes.
$LB train "${R[@]}" --resume "$T/a/resume" >"$T/re.log" 2>&1 &
pid=$!
for _ in $(seq 300); do grep -q '^resuming at step' "$T/re.log" 2>/dev/null && break; sleep 0.1; done
grep -q '^resuming at step' "$T/re.log" || { kill $pid; fail "untouched resume: $(tail -3 "$T/re.log")"; }
kill -TERM $pid; wait $pid
echo "resume attacks refused"
