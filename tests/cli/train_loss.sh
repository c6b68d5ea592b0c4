#!/usr/bin/env bash
# `lorabert train --label-smoothing-factor / --class-weights` against the pinned HF stack: the
# trajectories tests/golden/distilbert_traj_smooth (Trainer label_smoothing_factor 0.2) and
# distilbert_traj_cw (torch CrossEntropyLoss(weight=[0.4, 1.6]) in compute_loss), replayed through
# the CLI from their initial adapters and batch orders: every logged step loss and the final
# adapter within 1e-3 relative, and the last epoch's eval_loss (HF's evaluate() under the same
# loss) within 1e-3. Then --class-weights auto's notice, the options' refusals and --help.
set -u
source "$(dirname "$0")/../support/cli_common.sh" trainloss
for case in smooth:--label-smoothing-factor=0.2 cw:--class-weights=0.4,1.6; do
  name=${case%%:*} opt=${case#*:}
  G=tests/golden/distilbert_traj_$name/trajectory
  [ -f "$G/expected.json" ] || fail "golden $G absent (tools/reference/make_goldens.py)"
  # each case has its own random model: the shared tokenizer files beside it, as cli_common.sh does
  MC=$T/model_$name
  mkdir -p "$MC" && cp "$G"/../model/* "$M/vocab.txt" "$M/tokenizer_config.json" "$MC/"
  # the validation set: the golden's eval_rows of train.csv
  python3 - "$G/expected.json" "$SHARED/data/imdb/train.csv" "$T/val_$name.csv" <<'PY' || fail "eval rows"
import csv, json, sys
rows = json.load(open(sys.argv[1]))["eval_rows"]
with open(sys.argv[2], newline="", encoding="utf-8") as f:
    r = list(csv.reader(f))
with open(sys.argv[3], "w", newline="", encoding="utf-8") as f:
    w = csv.writer(f)
    w.writerow(r[0])
    for i in rows:
        w.writerow(r[1 + i])
PY
  $LB train --model "$MC" --train "$SHARED/data/imdb/train.csv" --validation "$T/val_$name.csv" --epochs 2 \
    --batch-size 4 --max-length 128 --init-adapter "$G/init" --batch-order "$G/order.json" --logging-steps 1 \
    --threads 2 "${opt%%=*}" "${opt#*=}" --output "$T/$name" >"$T/$name.log" 2>&1 || { cat "$T/$name.log"; fail "train $name"; }
  python3 - "$G" "$T/$name" <<'PY' || fail "$name: parity with the HF Trainer"
import array, json, math, struct, sys
g, out = sys.argv[1], sys.argv[2]
def tensors(p):
    b = open(p, "rb").read()
    n = struct.unpack("<Q", b[:8])[0]
    h = json.loads(b[8:8 + n])
    return {k: array.array("f", b[8 + n + v["data_offsets"][0]:8 + n + v["data_offsets"][1]])
            for k, v in h.items() if k != "__metadata__"}
exp = json.load(open(g + "/expected.json"))
hist = json.load(open(out + "/trainer_state.json"))["log_history"]
ours = [e["loss"] for e in sorted((e for e in hist if "loss" in e and "step" in e), key=lambda e: e["step"])]
assert len(ours) == len(exp["losses"]), (len(ours), len(exp["losses"]))
worst = max(abs(a - b) / abs(b) for a, b in zip(ours, exp["losses"]))
evals = [e for e in hist if "eval_loss" in e]
ev = max(evals, key=lambda e: e["step"])["eval_loss"]
ev_rel = abs(ev - exp["eval_loss"]) / exp["eval_loss"]
# the last epoch's adapter: checkpoint-<last step>
a = tensors(out + "/checkpoint-%d/adapter_model.safetensors" % len(ours))
b = tensors(g + "/final/adapter_model.safetensors")
assert sorted(a) == sorted(b), (sorted(a), sorted(b))
tw = max(math.sqrt(sum((p - q) ** 2 for p, q in zip(a[k], b[k])) / sum(q * q for q in b[k])) for k in b)
print("%s: %d steps, loss max rel diff %.3g (4 decimals logged, as HF), final tensors %.3g, eval_loss %.9g vs HF "
      "%.9g (rel %.3g)" % (g, len(ours), worst, tw, ev, exp["eval_loss"], ev_rel))
sys.exit(0 if worst <= 1e-3 and tw <= 1e-3 and ev_rel <= 1e-3 else 1)
PY
done
grep -q '^label smoothing factor 0.2' "$T/smooth.log" || fail "smoothing notice: $(cat "$T/smooth.log")"
grep -q '^class weights: \[0.4, 1.6\]' "$T/cw.log" || fail "class weights notice"

# auto: n / (num_labels x count) over the training set (the notice gives the weights)
head -n 41 "$SHARED/data/imdb/train.csv" >"$T/train.csv"
read -r n0 n1 < <(python3 -c "
import csv,sys
r=[int(x['label']) for x in csv.DictReader(open('$T/train.csv'))]; print(r.count(0), r.count(1))")
want=$(python3 -c "print('[%.6g, %.6g]' % (40 / (2 * $n0), 40 / (2 * $n1)))")
COMMON=(--model "$M" --train "$T/train.csv" --max-length 64 --threads 2 --no-eval --epochs 1)
$LB train "${COMMON[@]}" --class-weights auto --output "$T/auto" >"$T/auto.log" 2>&1 || { cat "$T/auto.log"; fail "auto"; }
grep -qF "class weights (auto: n / (num_labels * count)): $want" "$T/auto.log" || fail "auto weights: want $want; $(grep class "$T/auto.log")"

# refusals: one line, exit 2 (usage)
refused() { # expected-text args...
  local want=$1; shift
  $LB train "${COMMON[@]}" "$@" --output "$T/bad" >/dev/null 2>"$T/err"; local rc=$?
  [ $rc -eq 2 ] && [ "$(wc -l <"$T/err")" -eq 1 ] && grep -q -- "$want" "$T/err" || fail "$* : rc=$rc $(cat "$T/err")"
  [ ! -e "$T/bad" ] || fail "$*: a refused run left its output folder"
}
refused 'expected 0 <= X < 1' --label-smoothing-factor 1
refused 'needs a number in' --label-smoothing-factor 1.5
refused 'not supported' --label-smoothing-factor 0.1 --class-weights auto
refused '3 weights for a model of 2 labels' --class-weights 1,2,3
refused "weight 2 'x'" --class-weights 1,x
refused "weight 1 '0'" --class-weights 0,1
refused 'weight 2 is empty' --class-weights 1,
printf 'label,text\n0,"fine"\n0,"ok"\n' >"$T/one_class.csv"
refused 'label 1 (Positive) has no example' --class-weights auto --train "$T/one_class.csv"
$LB train --help | grep -q -- '--label-smoothing-factor X' || fail "--help lists --label-smoothing-factor"
$LB train --help | grep -q -- '--class-weights auto|W0,W1' || fail "--help lists --class-weights"
echo "train_loss: ok"
