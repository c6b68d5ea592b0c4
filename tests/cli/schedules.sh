#!/usr/bin/env bash
# --lr-scheduler-type / --warmup-ratio end to end against HF Trainer: the tiny DistilBERT's
# 102-step trajectory (tests/golden/distilbert_traj: rows, batch order, init adapter) with the
# cosine schedule and warmup_ratio 0.1 (tests/golden/distilbert_traj_cosine, written by
# tools/reference/sched_traj_golden.py in the pinned reference env). trainer_state.json's
# log_history at --logging-steps 1 must hold HF's learning rate at every step bit for bit, the
# logged loss within 1e-3 relative, and the final adapter within 1e-3; plus the options' usage
# errors and --help text.
source "$(dirname "$0")/../support/cli_common.sh" sched
G=tests/golden/distilbert_traj/trajectory
C=tests/golden/distilbert_traj_cosine/trajectory
[ -f "$C/expected.json" ] || { echo "golden $C absent (tools/reference/sched_traj_golden.py)"; exit 77; }
help=$($LB train --help)
grep -q -- '--lr-scheduler-type NAME' <<<"$help" || fail "train --help lists --lr-scheduler-type"
grep -q 'cosine_with_restarts' <<<"$help" || fail "train --help names the schedules"
grep -q -- '--warmup-ratio X' <<<"$help" || fail "train --help lists --warmup-ratio"
$LB train --lr-scheduler-type inverse_sqrt >"$T/e" 2>&1; [ $? -eq 2 ] || fail "unknown schedule must be a usage error"
grep -q 'lr-scheduler-type' "$T/e" || fail "the usage error names the option: $(cat "$T/e")"
$LB train --warmup-ratio 1.5 >/dev/null 2>&1; [ $? -eq 2 ] || fail "--warmup-ratio above 1 must be a usage error"
$LB train --warmup-ratio -0.1 >/dev/null 2>&1; [ $? -eq 2 ] || fail "negative --warmup-ratio must be a usage error"

args=(train --model "$M" --train "$SHARED/data/imdb/train.csv" --no-eval --epochs 2 --batch-size 4 --max-length 128
      --init-adapter "$G/init" --batch-order "$G/order.json" --logging-steps 1 --threads 2)
# polynomial decays to 1e-7: a learning rate not above it is refused as transformers does
$LB "${args[@]}" --lr 1e-8 --lr-scheduler-type polynomial --output "$T/poly" >"$T/poly.log" 2>&1
rc=$?; [ $rc -eq 2 ] || { cat "$T/poly.log"; fail "polynomial with lr 1e-8: exit $rc, expected 2"; }
grep -q 'lr_end' "$T/poly.log" || fail "polynomial refusal names lr_end: $(cat "$T/poly.log")"
[ -e "$T/poly" ] && fail "a refused run leaves no output folder"

$LB "${args[@]}" --lr-scheduler-type cosine --warmup-ratio 0.1 --output "$T/cos" >"$T/cos.log" 2>&1 ||
  { cat "$T/cos.log"; fail "cosine run"; }
python3 - "$C" "$T/cos" <<'PY' || fail "cosine + warmup_ratio parity with HF Trainer"
import array, json, math, struct, sys
g, out = sys.argv[1], sys.argv[2]
def tensors(p):
    b = open(p, "rb").read()
    n = struct.unpack("<Q", b[:8])[0]
    h = json.loads(b[8:8 + n])
    return {k: array.array("f", b[8 + n + v["data_offsets"][0]:8 + n + v["data_offsets"][1]])
            for k, v in h.items() if k != "__metadata__"}
exp = json.load(open(g + "/expected.json"))
hist = [e for e in json.load(open(out + "/trainer_state.json"))["log_history"] if "loss" in e and "step" in e]
hist.sort(key=lambda e: e["step"])
assert [e["step"] for e in hist] == list(range(1, len(exp["log_learning_rates"]) + 1)), [e["step"] for e in hist]
for e, want in zip(hist, exp["log_learning_rates"]):
    assert e["learning_rate"] == want, (e["step"], e["learning_rate"], want)
worst = max(abs(e["loss"] - w) / abs(w) for e, w in zip(hist, exp["log_losses"]))
a, b = tensors(out + "/adapter_model.safetensors"), tensors(g + "/final/adapter_model.safetensors")
assert sorted(a) == sorted(b), (sorted(a), sorted(b))
tw = max(math.sqrt(sum((p - q) ** 2 for p, q in zip(a[k], b[k])) / sum(q * q for q in b[k])) for k in b)
print("cosine, warmup_ratio 0.1: %d logged learning rates identical to HF's, logged loss max relative diff %.3g, "
      "final tensors max relative L2 diff %.3g" % (len(hist), worst, tw))
sys.exit(0 if worst <= 1e-3 and tw <= 1e-3 else 1)
PY
echo "schedules: ok"
