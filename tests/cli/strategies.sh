#!/usr/bin/env bash
# --eval-strategy / --save-strategy no|steps|epoch, --eval-steps / --save-steps (steps or a ratio of
# the run's steps), --load-best-model-at-end true|false end to end against HF Trainer
# (tools/reference/strategy_golden.py in the pinned reference env, transformers 4.32.1 + PEFT 0.6.2):
# the tiny DistilBERT from distilbert_traj's init adapter on 80 train.csv rows in a fixed order, 3
# epochs of 20 steps, 40 validation rows, logging_steps 1.
#  - tests/golden/distilbert_traj_steps: eval every 7 steps, save every 14 (neither divides the
#    epoch), metric accuracy, save_total_limit 2, load_best_model_at_end: the best is decided at
#    saves only (step 7's better accuracy is not a checkpoint), checkpoint-42 is the best and kept,
#    -14 and -28 are rotated away;
#  - tests/golden/distilbert_traj_steps_last: eval_steps 0.15 (ceil(60 x 0.15) = 9 steps), save
#    strategy no, load_best_model_at_end false: no checkpoint, no best, the last step's adapter;
#  - tests/golden/distilbert_traj_steps_es: eval and save every 6 steps, EarlyStoppingCallback(2),
#    save_total_limit 1: HF stops in the middle of epoch 2 (step 36, epoch 1.8) with checkpoint-24
#    the best and the only one left.
# lorabert must log the same learning rates bit for bit and the same losses (per step), evaluate at
# the same steps and epochs with eval losses within 1e-3, keep the same checkpoints, name the same
# best, write HF's eval_steps / save_steps in trainer_state.json, and end with HF's adapter within
# 1e-3; plus the options' usage errors (HF's load_best_model_at_end checks) and --help text.
source "$(dirname "$0")/../support/cli_common.sh" strat
for g in distilbert_traj_steps distilbert_traj_steps_last distilbert_traj_steps_es; do
  [ -f "tests/golden/$g/trajectory/expected.json" ] || { echo "golden $g absent (tools/reference/strategy_golden.py)"; exit 77; }
done
help=$($LB train --help)
for o in '--eval-strategy no|steps|epoch' '--save-strategy no|steps|epoch' '--eval-steps N|X' '--save-steps N|X' \
         '--load-best-model-at-end true|false'; do
  grep -q -- "$o" <<<"$help" || fail "train --help lists $o"
done
# refusals, before anything is loaded
usage() { # expected-message args...
  local want=$1; shift
  $LB train "$@" >"$T/u" 2>&1; local rc=$?
  [ $rc -eq 2 ] || { cat "$T/u"; fail "$* : exit $rc, expected 2"; }
  grep -q -- "$want" "$T/u" || fail "$*: $(cat "$T/u")"
}
usage "--eval-strategy must be no, steps or epoch" --eval-strategy hourly
usage "--save-strategy must be no, steps or epoch" --save-strategy always
usage "--load-best-model-at-end must be true or false" --load-best-model-at-end maybe
usage "--eval-steps must be an integer if bigger than 1" --eval-strategy steps --eval-steps 2.5
usage "--save-steps must be an integer if bigger than 1" --save-steps 7.5
usage "exclude each other" --no-eval --eval-strategy steps
G=tests/golden/distilbert_traj_steps/trajectory
GL=tests/golden/distilbert_traj_steps_last/trajectory
head -n 41 "$SHARED/data/imdb/validation.csv" >"$T/val.csv"
base=(train --model "$M" --train "$SHARED/data/imdb/train.csv" --validation "$T/val.csv" --epochs 3 --batch-size 4
      --max-length 128 --lr 3e-3 --logging-steps 1 --threads 2)
# HF's load_best_model_at_end checks, with HF's meaning; refused before the output folder is made
usage "requires the save and eval strategy to match" "${base[@]:1}" --init-adapter "$G/init" --eval-strategy steps \
  --output "$T/x1"
usage "not a round multiple of 7" "${base[@]:1}" --init-adapter "$G/init" --eval-strategy steps --eval-steps 7 \
  --save-strategy steps --save-steps 10 --output "$T/x2"
usage "mixing ratio and absolute steps" "${base[@]:1}" --init-adapter "$G/init" --eval-strategy steps \
  --eval-steps 0.1 --save-strategy steps --save-steps 10 --output "$T/x3"
usage "requires load_best_model_at_end" "${base[@]:1}" --init-adapter "$G/init" --eval-strategy steps \
  --save-strategy no --load-best-model-at-end false --early-stopping-patience 2 --output "$T/x4"
for x in x1 x2 x3 x4; do [ -e "$T/$x" ] && fail "a refused run ($x) leaves no output folder"; done

$LB "${base[@]}" --init-adapter "$G/init" --batch-order "$G/order.json" --lr-scheduler-type linear --warmup-ratio 0.1 \
  --eval-strategy steps --eval-steps 7 --save-strategy steps --save-steps 14 --metric-for-best accuracy \
  --save-total-limit 2 --output "$T/steps" >"$T/steps.log" 2>&1 || { cat "$T/steps.log"; fail "steps run"; }
grep -q '^eval at step 7 (epoch 0.35): loss ' "$T/steps.log" || { cat "$T/steps.log"; fail "mid-epoch evaluation line"; }
grep -q '^eval at step 42 (epoch 2.10): .*, saved .*checkpoint-42 (best so far)$' "$T/steps.log" ||
  { cat "$T/steps.log"; fail "evaluation + checkpoint line"; }
grep -q '^best checkpoint: checkpoint-42 ' "$T/steps.log" || { cat "$T/steps.log"; fail "best checkpoint notice"; }
$LB "${base[@]}" --init-adapter "$GL/init" --batch-order "$GL/order.json" --lr-scheduler-type cosine --warmup-ratio 0.05 \
  --eval-strategy steps --eval-steps 0.15 --save-strategy no --load-best-model-at-end false \
  --output "$T/last" >"$T/last.log" 2>&1 || { cat "$T/last.log"; fail "save-strategy no run"; }
grep -q 'best ' "$T/last.log" && { cat "$T/last.log"; fail "load_best_model_at_end false: no best is announced"; }
GE=tests/golden/distilbert_traj_steps_es/trajectory
$LB "${base[@]}" --init-adapter "$GE/init" --batch-order "$GE/order.json" --lr-scheduler-type linear --warmup-ratio 0.05 \
  --eval-strategy steps --eval-steps 6 --save-strategy steps --save-steps 6 --save-total-limit 1 \
  --early-stopping-patience 2 --output "$T/es" >"$T/es.log" 2>&1 || { cat "$T/es.log"; fail "early stopping run"; }
grep -q '^early stopping: eval_loss did not improve by more than 0 in 2 evaluations; stopping after step 36 (epoch 1.80 of 3)$' \
  "$T/es.log" || { cat "$T/es.log"; fail "early stopping notice"; }
python3 - "$G" "$T/steps" "$GL" "$T/last" "$GE" "$T/es" <<'PY' || fail "strategies parity with HF Trainer"
import array, json, math, os, struct, sys
def tensors(p):
    b = open(p, "rb").read()
    n = struct.unpack("<Q", b[:8])[0]
    h = json.loads(b[8:8 + n])
    return {k: array.array("f", b[8 + n + v["data_offsets"][0]:8 + n + v["data_offsets"][1]])
            for k, v in h.items() if k != "__metadata__"}
kind = lambda e: "final" if "train_runtime" in e else "eval" if "eval_loss" in e else "train"
ok = True
for g, out in zip(sys.argv[1::2], sys.argv[2::2]):
    exp = json.load(open(g + "/expected.json"))
    st = json.load(open(out + "/trainer_state.json"))
    assert st["global_step"] == exp["global_step"] and st["epoch"] == exp["epoch"], (st["global_step"], st["epoch"])
    assert (st["eval_steps"], st["save_steps"]) == (exp["eval_steps"], exp["save_steps"]), \
        (st["eval_steps"], st["save_steps"], exp["eval_steps"], exp["save_steps"])
    best = os.path.basename(st["best_model_checkpoint"]) if st["best_model_checkpoint"] else None
    assert best == exp["best_model_checkpoint"], (best, exp["best_model_checkpoint"])
    if exp["best_metric"] is None:
        assert st["best_metric"] is None, st["best_metric"]
    else:
        assert abs(st["best_metric"] - exp["best_metric"]) <= 1e-3 * abs(exp["best_metric"]), st["best_metric"]
    left = sorted((d for d in os.listdir(out) if d.startswith("checkpoint-")), key=lambda d: int(d[11:]))
    assert left == exp["checkpoints"], (left, exp["checkpoints"])
    for c in left:  # each checkpoint's own trainer_state names the steps it was written at
        cs = json.load(open(os.path.join(out, c, "trainer_state.json")))
        assert cs["global_step"] == int(c[11:]), (c, cs["global_step"])
    ours, theirs = st["log_history"], exp["log_history"]
    sig = lambda h: [(kind(e), e["step"], e["epoch"]) for e in h]
    assert sig(ours) == sig(theirs), (sig(ours), sig(theirs))
    worst = 0
    for a, b in zip(ours, theirs):
        if kind(a) == "train":
            assert a["learning_rate"] == b["learning_rate"], (a, b)
            worst = max(worst, abs(a["loss"] - b["loss"]) / abs(b["loss"]))
        elif kind(a) == "eval":
            worst = max(worst, abs(a["eval_loss"] - b["eval_loss"]) / abs(b["eval_loss"]))
            assert a["eval_accuracy"] == b["eval_accuracy"], (a, b)
        else:
            worst = max(worst, abs(a["train_loss"] - b["train_loss"]) / abs(b["train_loss"]))
            assert a["total_flos"] == b["total_flos"], (a["total_flos"], b["total_flos"])
    a, b = tensors(out + "/adapter_model.safetensors"), tensors(g + "/final/adapter_model.safetensors")
    assert sorted(a) == sorted(b), (sorted(a), sorted(b))
    tw = max(math.sqrt(sum((p - q) ** 2 for p, q in zip(a[k], b[k])) / sum(q * q for q in b[k])) for k in b)
    nev = sum(kind(e) == "eval" for e in ours)
    print("%s: %d steps, %d evaluations at the same steps as HF, best %s, checkpoints %s; losses / eval losses max "
          "relative diff %.3g, learning rates identical, final tensors max relative L2 diff %.3g"
          % (os.path.basename(os.path.dirname(g)), st["global_step"], nev, best, left, worst, tw))
    ok &= worst <= 1e-3 and tw <= 1e-3
sys.exit(0 if ok else 1)
PY
# A resume keeps the options that decide the loss, the evaluations and the result: resume.json
# records them and another value is refused naming it (label smoothing, class weights, strategies).
R=(--model "$M" --train "$SHARED/data/imdb/train.csv" --max-length 64 --threads 1 --epochs 500 --batch-size 1
   --no-eval --save-strategy steps --save-steps 100000)
$LB train "${R[@]}" --output "$T/int" >"$T/int.log" 2>&1 &
pid=$!
for _ in $(seq 300); do grep -q '^epoch [0-9]*/500 step' "$T/int.log" 2>/dev/null && break; sleep 0.1; done
kill -TERM $pid; wait $pid; rc=$?
[ $rc -eq 9 ] || fail "SIGTERM: rc=$rc $(tail -3 "$T/int.log")"
grep -q '"run_options": "label_smoothing_factor=0;class_weights=none;eval_strategy=no;.*save_strategy=steps;save_steps=100000;' \
  "$T/int/resume/resume.json" || fail "resume.json records the run's options: $(grep run_options "$T/int/resume/resume.json")"
refused() { # expected-in-message extra-args...
  local want=$1; shift
  $LB train "${R[@]}" "$@" --resume "$T/int/resume" >"$T/r.log" 2>&1; local rc=$?
  [ $rc -eq 2 ] || { cat "$T/r.log"; fail "resume with $*: exit $rc, expected 2"; }
  grep -q -- "$want" "$T/r.log" || fail "resume with $*: $(tail -2 "$T/r.log")"
}
R2=("${R[@]:0:${#R[@]}-4}")  # without the strategy options
refused 'trained with label_smoothing_factor=0, resuming with label_smoothing_factor=0.1' \
  --label-smoothing-factor 0.1
refused 'trained with class_weights=none, resuming with class_weights=1,2' --class-weights 1,2
R=("${R2[@]}" --save-strategy epoch)
refused 'trained with save_strategy=steps, resuming with save_strategy=epoch'
echo "strategies: ok"
