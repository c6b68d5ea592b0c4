#!/usr/bin/env bash
# Every checkpoint-<step>/ carries the resume state (resume.json, optimizer.safetensors,
# best.safetensors: the format of OUTPUT/resume): a run killed with SIGKILL (no resume/ written)
# continues from a checkpoint and ends as the uninterrupted run: the same adapter bytes, the same
# trainer_state.json (log_history, best checkpoint) and metrics.json (timings aside: runtime,
# samples/steps per second, train_runtime), the same checkpoints with the same adapters.
#   - steps strategy (eval every 50, save every 100; 1000-step epochs, 2000 steps): killed after
#     checkpoint-1000 (a steps checkpoint at an epoch's last step), resumed with --resume OUTPUT
#     (its newest checkpoint with state, HF's resume_from_checkpoint=True) and, in a copy, with
#     --resume OUTPUT/checkpoint-1000 and OUTPUT/checkpoint-500 (later checkpoints stay and are
#     rewritten as the run reaches them)
#   - epoch strategy with --save-total-limit 1 (rotation keeps the best): killed after
#     checkpoint-400 (the end of epoch 1 of 3), resumed from it
# The runs are long enough (~1000 steps after the checkpoint waited for) for the kill to land
# before the end however fast the machine; the tiny model makes each a few seconds.
# Refusals: another label smoothing factor (exit 2) or another training set (exit 2), a checkpoint without
# resume state ("written by an older lorabert without resume state", exit 4), a truncated
# optimizer.safetensors (exit 4, its size and where its data should end), a truncated resume.json
# (exit 4, the byte). Exit 0 pass, 77 skip, 1 fail.
source "$(dirname "$0")/../support/cli_common.sh" ckptres
head -n 1001 "$SHARED/data/imdb/train.csv" >"$T/train.csv"
head -n 401 "$SHARED/data/imdb/train.csv" >"$T/train400.csv"
head -n 11 "$SHARED/data/imdb/validation.csv" >"$T/val.csv"

same() { # same A B WHAT: the two finished runs' files agree (timings aside)
  cmp "$1/adapter_model.safetensors" "$2/adapter_model.safetensors" || fail "$3: the resumed adapter differs"
  PYTHONPATH=tests/support python3 - "$1" "$2" <<'PY' || fail "$3: the resumed run's files differ"
import json, os, sys
from run_compare import same_run_files, strip
a, b = sys.argv[1], sys.argv[2]
ca = same_run_files(a, b)
for c in ca:
    for f in ("adapter_model.safetensors", "optimizer.safetensors"):
        pa, pb = os.path.join(a, c, f), os.path.join(b, c, f)
        if f == "optimizer.safetensors" and not os.path.exists(pa):
            assert not os.path.exists(pb), (c, f)
            continue
        # the tensors; the optimizer file's metadata holds each checkpoint's own random id
        ra, rb = open(pa, "rb").read(), open(pb, "rb").read()
        ha, hb = int.from_bytes(ra[:8], "little"), int.from_bytes(rb[:8], "little")
        assert ra[8 + ha:] == rb[8 + hb:], (c, f)
    sa, sb = (strip(json.load(open(os.path.join(d, c, "trainer_state.json")))) for d in (a, b))
    assert sa == sb, (c, "trainer_state.json")
st = json.load(open(os.path.join(a, "trainer_state.json")))
print("  %d steps, %d log entries, checkpoints %s, best %s" % (st["global_step"], len(st["log_history"]), ca,
      st["best_model_checkpoint"] and os.path.basename(st["best_model_checkpoint"])))
PY
}

# kill9 RUN DIR STEP: starts RUN into DIR, SIGKILLs it once DIR/checkpoint-STEP is whole
kill9() {
  local dir=$2 step=$3
  $LB "${C[@]}" --output "$dir" >"$T/k.log" 2>&1 &
  local pid=$!
  for _ in $(seq 1200); do [ -f "$dir/checkpoint-$step/resume.json" ] && break; sleep 0.025; done
  kill -KILL $pid; wait $pid 2>/dev/null; local rc=$?
  [ $rc -eq 137 ] || { tail -3 "$T/k.log"; fail "SIGKILL after checkpoint-$step: rc=$rc (the run ended first?)"; }
  [ -e "$dir/resume" ] && fail "SIGKILL: a resume/ folder cannot have been written"
  [ -f "$dir/adapter_model.safetensors" ] && fail "SIGKILL: the killed run cannot have finished"
  echo "killed after checkpoint-$step: $(cd "$dir" && ls -d checkpoint-* | tr '\n' ' ')"
}

# ---- steps strategy: a steps checkpoint at the epoch's end, newest and older checkpoints ----
C=(train --model "$M" --train "$T/train.csv" --validation "$T/val.csv" --max-length 64 --threads 1 --epochs 2
   --batch-size 1 --logging-steps 25 --eval-strategy steps --eval-steps 50 --save-strategy steps --save-steps 100
   --load-best-model-at-end true)
$LB "${C[@]}" --output "$T/a" >"$T/a.log" 2>&1 || { tail -5 "$T/a.log"; fail "uninterrupted run"; }
for c in "$T"/a/checkpoint-*; do
  s=${c##*-}
  if [ "$s" = 2000 ]; then # the last step: nothing left to resume, no state
    [ -e "$c/resume.json" ] && fail "checkpoint-2000 (the run's last step) carries resume state"
  else
    for f in resume.json optimizer.safetensors best.safetensors trainer_state.json adapter_model.safetensors; do
      [ -f "$c/$f" ] || fail "$c lacks $f"
    done
  fi
done
kill9 steps "$T/k" 1000
cp -a "$T/k" "$T/k2"
cp -a "$T/k" "$T/k3"
cp -a "$T/k" "$T/bad"
newest=$(cd "$T/k" && ls -d checkpoint-* | sort -t- -k2 -n | tail -1)
$LB "${C[@]}" --resume "$T/k" >"$T/r.log" 2>&1 || { tail -5 "$T/r.log"; fail "--resume OUTPUT"; }
grep -q "continuing from $T/k/$newest" "$T/r.log" || { head -3 "$T/r.log"; fail "--resume OUTPUT: not from $newest"; }
grep -q "resuming at step ${newest#checkpoint-} of 2000" "$T/r.log" || fail "--resume OUTPUT: not at step ${newest#checkpoint-}"
same "$T/a" "$T/k" "--resume OUTPUT ($newest)"
echo "--resume OUTPUT: continued from $newest: identical"
$LB "${C[@]}" --resume "$T/k2/checkpoint-1000" >"$T/r.log" 2>&1 || { tail -5 "$T/r.log"; fail "--resume checkpoint-1000"; }
grep -q "resuming at step 1000 of 2000 (epoch 2)" "$T/r.log" || { head -5 "$T/r.log"; fail "not resumed at step 1000"; }
same "$T/a" "$T/k2" "--resume OUTPUT/checkpoint-1000"
echo "--resume OUTPUT/checkpoint-1000: identical"
$LB "${C[@]}" --resume "$T/k3/checkpoint-500" >"$T/r.log" 2>&1 || { tail -5 "$T/r.log"; fail "--resume checkpoint-500"; }
grep -q "resuming at step 500 of 2000 (epoch 1)" "$T/r.log" || { head -5 "$T/r.log"; fail "not resumed at step 500"; }
same "$T/a" "$T/k3" "--resume OUTPUT/checkpoint-500"
echo "--resume OUTPUT/checkpoint-500 (checkpoint-600 .. $newest present, rewritten): identical"

# ---- refusals, each one clear line ----
refuse() { # refuse RC PATTERN WHAT ARGS...: exits RC with one line matching PATTERN
  local rc=$1 pat=$2 what=$3; shift 3
  "$@" >"$T/x.log" 2>&1; local got=$?
  [ $got -eq "$rc" ] && [ "$(wc -l <"$T/x.log")" -le 2 ] && grep -Eq "$pat" "$T/x.log" ||
    { cat "$T/x.log"; fail "$what: rc=$got, expected $rc and /$pat/"; }
  echo "$what: exit $got: $(grep -E "$pat" "$T/x.log" | head -1)"
}
B=$T/bad/checkpoint-1000
refuse 2 "label_smoothing_factor" "another label smoothing" $LB "${C[@]}" --label-smoothing-factor 0.1 --resume "$B"
C40=("${C[@]}"); C40[4]=$T/train400.csv
refuse 2 "train|rows|n_train" "another training set" $LB "${C40[@]}" --resume "$B"
cp -a "$B" "$T/bad/checkpoint-999"; rm "$T/bad/checkpoint-999/resume.json"
refuse 4 "written by an older lorabert without resume state" "no resume state" $LB "${C[@]}" --resume "$T/bad/checkpoint-999"
truncate -s -100 "$B/optimizer.safetensors"
refuse 4 "optimizer.safetensors: tensor data ends at byte [0-9]+ but the file is [0-9]+ bytes.*truncated" \
  "truncated optimizer.safetensors" $LB "${C[@]}" --resume "$B"
B=$T/bad/$(cd "$T/bad" && ls -d checkpoint-* | grep -v -e checkpoint-1000 -e checkpoint-999 | head -1)
truncate -s 300 "$B/resume.json"
refuse 4 "resume.json: invalid JSON at byte" "truncated resume.json" $LB "${C[@]}" --resume "$B"

# ---- epoch strategy, --save-total-limit 1: the epoch-end checkpoint ----
C=(train --model "$M" --train "$T/train400.csv" --validation "$T/val.csv" --max-length 64 --threads 1 --epochs 3
   --batch-size 1 --logging-steps 25 --save-total-limit 1)
$LB "${C[@]}" --output "$T/e" >"$T/a.log" 2>&1 || { tail -5 "$T/a.log"; fail "uninterrupted epoch run"; }
kill9 epoch "$T/ek" 400
$LB "${C[@]}" --resume "$T/ek/checkpoint-400" >"$T/r.log" 2>&1 || { tail -5 "$T/r.log"; fail "--resume checkpoint-400"; }
grep -q "resuming at step 400 of 1200 (epoch 2)" "$T/r.log" || { head -5 "$T/r.log"; fail "not resumed at step 400"; }
same "$T/e" "$T/ek" "epoch strategy, --resume OUTPUT/checkpoint-400"
echo "epoch strategy, save_total_limit 1: --resume OUTPUT/checkpoint-400: identical"
echo "resume_checkpoint: ok"
