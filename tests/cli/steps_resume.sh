#!/usr/bin/env bash
# A steps-strategy run (--eval-strategy/--save-strategy steps, intervals that do not divide the
# epoch, load_best_model_at_end true and false) stopped by a signal in the middle of an epoch,
# after a mid-epoch evaluation and checkpoint, then continued with --resume, ends as the
# uninterrupted run: the same adapter bytes, the same trainer_state.json (log_history, best
# checkpoint, eval/save steps; timings aside), the same checkpoints and metrics.json (which reports
# the best checkpoint's evaluation with load_best_model_at_end, and with false none here: the last
# step, 360, was not evaluated). The epoch table shows each epoch's last mid-epoch evaluation and
# training_curves.svg plots every evaluation at its fractional epoch.
# SIGKILL leaves no resume/ (a single process writes it at a signal it can catch, docs/training.md):
# the killed run's checkpoints are whole and --resume of the absent folder is a clear refusal
# that points to --resume OUTPUT (the newest checkpoint's resume state: tests/cli/resume_checkpoint.sh).
# Exit 0 pass, 77 skip, 1 fail.
source "$(dirname "$0")/../support/cli_common.sh" stepsres
head -n 121 "$SHARED/data/imdb/train.csv" >"$T/train.csv"
head -n 11 "$SHARED/data/imdb/validation.csv" >"$T/val.csv"
for lb in true false; do
  C=(train --model "$M" --train "$T/train.csv" --validation "$T/val.csv" --max-length 64 --threads 1 --epochs 3
     --batch-size 1 --logging-steps 3 --eval-strategy steps --eval-steps 7 --save-strategy steps --save-steps 14
     --save-total-limit 3 --load-best-model-at-end $lb)
  $LB "${C[@]}" --output "$T/a$lb" >"$T/a.log" 2>&1 || { tail -5 "$T/a.log"; fail "uninterrupted run ($lb)"; }
  # the epoch table shows each epoch's last mid-epoch evaluation (every 7 steps: 119, 238, 357)
  for r in "1 119" "2 238" "3 357"; do set -- $r
    line=$(grep -F "eval at step $2 (" "$T/a.log" | head -1)
    loss=$(sed 's/.*: loss \([0-9.]*\) .*/\1/' <<<"$line")
    grep -Eq "^$1 +[0-9.]+ +$loss +[0-9.]+ .*\(eval at step $2\)$" "$T/a.log" ||
      { grep -A4 '^Epoch' "$T/a.log"; fail "epoch $1's row shows step $2's evaluation (loss $loss)"; }
  done
  # training_curves.svg: the 51 evaluations at their fractional epochs (x = 70 + 490 x epoch / 3)
  python3 - "$T/a$lb/training_curves.svg" "$T/a$lb/trainer_state.json" <<'PY' || fail "training_curves.svg ($lb)"
import json, re, sys
svg, st = open(sys.argv[1]).read(), json.load(open(sys.argv[2]))
ev = [e for e in st["log_history"] if "eval_loss" in e]
lines = {c: re.findall(r'stroke="%s" stroke-width="2" points="([^"]*)"' % c, svg) for c in ("#1f77b4", "#d62728")}
assert len(lines["#1f77b4"]) == 1 and len(lines["#1f77b4"][0].split()) == 3, "train loss: one point per epoch"
assert len(lines["#d62728"]) == 1, "one eval loss curve"
pts = [tuple(map(float, p.split(","))) for p in lines["#d62728"][0].split()]
assert len(pts) == len(ev) == 51, (len(pts), len(ev))
for (x, _), e in zip(pts, ev):
    assert abs(x - (70 + 490 * e["step"] / 120 / 3)) < 0.06, (x, e["step"])
PY
  # interrupted after checkpoint-28 (epoch 0.23 of 120-step epochs), resumed
  $LB "${C[@]}" --output "$T/b$lb" >"$T/b.log" 2>&1 &
  pid=$!
  for _ in $(seq 600); do grep -q 'saved .*checkpoint-28' "$T/b.log" 2>/dev/null && break; sleep 0.05; done
  kill -TERM $pid; wait $pid; rc=$?
  [ $rc -eq 9 ] || { tail -5 "$T/b.log"; fail "SIGTERM ($lb): rc=$rc (the run ended before the signal?)"; }
  step=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["global_step"])' "$T/b$lb/resume/resume.json" 2>/dev/null ||
         grep -o '"global_step": *[0-9]*' "$T/b$lb/resume/resume.json" | grep -o '[0-9]*$')
  # the signal lands a few steps after checkpoint-28's line (120 steps an epoch, 360 in all)
  (( step >= 28 && step < 360 )) || fail "interrupted at step $step: not after checkpoint-28 and before the end"
  (( step % 120 )) || echo "note: the signal landed at an epoch's end (step $step), not in the middle"
  $LB "${C[@]}" --output "$T/b$lb" --resume "$T/b$lb/resume" >"$T/r.log" 2>&1 || { tail -5 "$T/r.log"; fail "resume ($lb)"; }
  cmp "$T/a$lb/adapter_model.safetensors" "$T/b$lb/adapter_model.safetensors" ||
    fail "load_best $lb: resumed adapter differs from the uninterrupted one (stopped at step $step)"
  PYTHONPATH=tests/support python3 - "$T/a$lb" "$T/b$lb" <<'PY' || fail "load_best $lb: resumed run's files differ (stopped at step $step)"
import json, os, sys
from run_compare import same_run_files, strip
a, b = sys.argv[1], sys.argv[2]
ca = same_run_files(a, b)
for c in ca:
    assert open(os.path.join(a, c, "adapter_model.safetensors"), "rb").read() == \
        open(os.path.join(b, c, "adapter_model.safetensors"), "rb").read(), c
st = json.load(open(os.path.join(a, "trainer_state.json")))
mj = json.load(open(os.path.join(a, "metrics.json")))
if a.endswith("true"):  # the best checkpoint's adapter and evaluation
    assert mj["best_epoch"] >= 1 and "loss" in mj and "eval_step" not in mj, mj
else:  # the last step's adapter; step 360 was not evaluated (every 7: 357): no evaluation reported
    assert "loss" not in mj and "eval_step" not in mj and "best_epoch" not in mj, mj
print("  %s: %d steps, %d evaluations, checkpoints %s, best %s" % (
    os.path.basename(a), st["global_step"], sum("eval_loss" in e for e in st["log_history"]), ca,
    st["best_model_checkpoint"] and os.path.basename(st["best_model_checkpoint"])))
PY
  echo "load_best_model_at_end $lb: interrupted at step $step (epoch $((step / 120 + 1)), after checkpoint-28), resumed: identical"
done
# SIGKILL after a mid-epoch checkpoint: nothing to resume from, said clearly; checkpoints whole
$LB "${C[@]}" --output "$T/k" >"$T/k.log" 2>&1 &
pid=$!
for _ in $(seq 600); do grep -q 'saved .*checkpoint-28' "$T/k.log" 2>/dev/null && break; sleep 0.05; done
kill -KILL $pid; wait $pid 2>/dev/null; rc=$?
[ $rc -eq 137 ] || fail "SIGKILL: rc=$rc"
[ -e "$T/k/resume" ] && fail "SIGKILL: a resume/ folder cannot have been written"
for c in "$T"/k/checkpoint-*; do
  s=$(basename "$c"); s=${s#checkpoint-}
  grep -q "\"global_step\": $s," "$c/trainer_state.json" || fail "SIGKILL: $c is not whole"
done
$LB "${C[@]}" --output "$T/k" --resume "$T/k/resume" >"$T/kr.log" 2>&1; rc=$?
[ $rc -ne 0 ] && [ $(wc -l <"$T/kr.log") -le 2 ] && grep -q 'resume OUTPUT continues from its newest checkpoint' "$T/kr.log" ||
  { cat "$T/kr.log"; fail "--resume of the absent resume/ after SIGKILL: rc=$rc, expected one clear line"; }
echo "SIGKILL after checkpoint-28: checkpoints whole ($(ls -d "$T"/k/checkpoint-* | wc -l)), no resume/, --resume: $(head -1 "$T/kr.log")"
echo "steps_resume: ok"
