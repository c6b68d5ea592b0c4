#!/usr/bin/env bash
# --early-stopping-patience / --early-stopping-threshold / --save-total-limit end to end against
# HF Trainer (tests/golden/distilbert_traj_earlystop, written by tools/reference/strategy_golden.py
# in the pinned reference env): the tiny DistilBERT from distilbert_traj's init adapter on 120
# train.csv rows in a fixed order, evaluated each epoch on 40 validation rows, polynomial schedule
# with warmup_ratio 0.05, EarlyStoppingCallback(2, 0.0005), save_total_limit 2: HF stops after
# epoch 4 of 6 with checkpoint-60 best, checkpoint-30 and -90 rotated away. lorabert must stop at
# the same step, keep the same checkpoints, name the same best, log the same learning rates bit
# for bit, losses and eval losses within 1e-3, and end with HF's adapter within 1e-3; plus the
# options' usage errors and --help text.
source "$(dirname "$0")/../support/cli_common.sh" estop
G=tests/golden/distilbert_traj_earlystop/trajectory
[ -f "$G/expected.json" ] || { echo "golden $G absent (tools/reference/strategy_golden.py)"; exit 77; }
help=$($LB train --help)
for o in '--early-stopping-patience N' '--early-stopping-threshold X' '--save-total-limit N' '--greater-is-better true|false'; do
  grep -q -- "$o" <<<"$help" || fail "train --help lists $o"
done
$LB train --greater-is-better maybe >/dev/null 2>&1; [ $? -eq 2 ] || fail "--greater-is-better maybe must be a usage error"
$LB train --save-total-limit -1 >/dev/null 2>&1; [ $? -eq 2 ] || fail "negative --save-total-limit must be a usage error"
$LB train --help | grep -q -- '--evaluation-strategy no|steps|epoch' || fail "train --help lists --evaluation-strategy"
# (the strategies themselves: tests/cli/strategies.sh)
head -n 41 "$SHARED/data/imdb/validation.csv" >"$T/val.csv"
args=(train --model "$M" --train "$SHARED/data/imdb/train.csv" --epochs 6 --batch-size 4 --max-length 128
      --init-adapter "$G/init" --batch-order "$G/order.json" --lr 2e-3 --lr-scheduler-type polynomial --warmup-ratio 0.05
      --logging-steps 5 --threads 2)
# early stopping needs evaluations, as EarlyStoppingCallback asserts
for off in --no-eval "--eval-strategy no"; do
  $LB "${args[@]}" --validation "$T/val.csv" $off --early-stopping-patience 2 --output "$T/noeval" >"$T/noeval.log" 2>&1
  rc=$?; [ $rc -eq 2 ] || { cat "$T/noeval.log"; fail "--early-stopping-patience with $off: exit $rc, expected 2"; }
  grep -q 'early stopping needs evaluations' "$T/noeval.log" || fail "$off: $(cat "$T/noeval.log")"
  [ -e "$T/noeval" ] && fail "$off: a refused run leaves no output folder"
done
$LB "${args[@]}" --validation "$T/val.csv" --early-stopping-patience 2 --early-stopping-threshold 0.0005 \
  --save-total-limit 2 --output "$T/es" >"$T/es.log" 2>&1 || { cat "$T/es.log"; fail "early stopping run"; }
grep -q '^early stopping: eval_loss did not improve' "$T/es.log" || { cat "$T/es.log"; fail "early stopping notice"; }
python3 - "$G" "$T/es" <<'PY' || fail "early stopping + save_total_limit parity with HF Trainer"
import array, json, math, os, struct, sys
g, out = sys.argv[1], sys.argv[2]
def tensors(p):
    b = open(p, "rb").read()
    n = struct.unpack("<Q", b[:8])[0]
    h = json.loads(b[8:8 + n])
    return {k: array.array("f", b[8 + n + v["data_offsets"][0]:8 + n + v["data_offsets"][1]])
            for k, v in h.items() if k != "__metadata__"}
exp = json.load(open(g + "/expected.json"))
st = json.load(open(out + "/trainer_state.json"))
assert st["global_step"] == exp["global_step"] and st["epoch"] == exp["epoch"], (st["global_step"], st["epoch"])
assert os.path.basename(st["best_model_checkpoint"]) == exp["best_model_checkpoint"], st["best_model_checkpoint"]
assert abs(st["best_metric"] - exp["best_metric"]) <= 1e-3 * abs(exp["best_metric"]), st["best_metric"]
left = sorted((d for d in os.listdir(out) if d.startswith("checkpoint-")), key=lambda d: int(d[11:]))
assert left == exp["checkpoints"], (left, exp["checkpoints"])
ours, theirs = st["log_history"], exp["log_history"]
kind = lambda e: "final" if "train_runtime" in e else "eval" if "eval_loss" in e else "train"
assert [(kind(e), e["step"], e["epoch"]) for e in ours] == [(kind(e), e["step"], e["epoch"]) for e in theirs], \
    ([(kind(e), e["step"], e["epoch"]) for e in ours], [(kind(e), e["step"], e["epoch"]) for e in theirs])
worst = 0
for a, b in zip(ours, theirs):
    if kind(a) == "train":
        assert a["learning_rate"] == b["learning_rate"], (a, b)
        worst = max(worst, abs(a["loss"] - b["loss"]) / abs(b["loss"]))
    elif kind(a) == "eval":
        worst = max(worst, abs(a["eval_loss"] - b["eval_loss"]) / abs(b["eval_loss"]))
    else:
        worst = max(worst, abs(a["train_loss"] - b["train_loss"]) / abs(b["train_loss"]))
        assert a["total_flos"] == b["total_flos"], (a["total_flos"], b["total_flos"])
a, b = tensors(out + "/adapter_model.safetensors"), tensors(g + "/final/adapter_model.safetensors")
assert sorted(a) == sorted(b), (sorted(a), sorted(b))
tw = max(math.sqrt(sum((p - q) ** 2 for p, q in zip(a[k], b[k])) / sum(q * q for q in b[k])) for k in b)
print("early stopping: stopped at step %d (epoch %g of 6) as HF, best %s, checkpoints %s; log_history %d entries, "
      "losses / eval losses max relative diff %.3g, learning rates identical, final tensors max relative L2 diff %.3g"
      % (st["global_step"], st["epoch"], exp["best_model_checkpoint"], left, len(ours), worst, tw))
sys.exit(0 if worst <= 1e-3 and tw <= 1e-3 else 1)
PY
echo "early_stopping: ok"
