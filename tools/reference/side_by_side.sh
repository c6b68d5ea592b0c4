#!/usr/bin/env bash
# The seed recipe on one model by lorabert and by HF Trainer + PEFT, one after the other on this
# machine, with per-epoch metrics and wall times side by side (docs/results.md).
#   tools/reference/side_by_side.sh MODEL_DIR OUT_DIR [EPOCHS=3] [THREADS=2] [EXTRA lorabert train ARGS...]
# lorabert: build/release/lorabert train --target-modules query,value --logging-steps <steps per
# epoch> (so its "Training Loss" is the epoch mean, as HF's logging_strategy="epoch"); every
# output line is time-stamped so that per-epoch training and evaluation wall times can be read
# off (evaluation time from trainer_state.json's eval_runtime). HF: tools/reference/hf_train.py
# (its own per-epoch timer). Writes OUT_DIR/{lorabert,hf}/..., OUT_DIR/summary.md and .json.
set -euo pipefail
cd "$(dirname "$0")/../.."
MODEL=$1; OUT=$2; EPOCHS=${3:-3}; THREADS=${4:-2}; shift $(( $# < 4 ? $# : 4 ))
SHARED=${LORABERT_SHARED:-../shared}
TRAIN=${SBS_TRAIN:-$SHARED/data/imdb/train.csv}; VAL=${SBS_VALIDATION:-$SHARED/data/imdb/validation.csv}
PY=$(bash tools/reference/setup_env.sh)
mkdir -p "$OUT"
ROWS=$(($(python3 -c 'import csv,sys; print(sum(1 for _ in csv.DictReader(open(sys.argv[1], newline="", encoding="utf-8"))))' "$TRAIN")))
STEPS=$(( (ROWS + 3) / 4 ))
stamp() { while IFS= read -r l; do printf '%s %s\n' "$(date +%s.%N)" "$l"; done; }
echo "lorabert: $EPOCHS epochs, $ROWS rows, $STEPS steps/epoch, $THREADS threads" >&2
/usr/bin/time -v -o "$OUT/lorabert.time" build/release/lorabert train --model "$MODEL" --train "$TRAIN" \
  --validation "$VAL" --target-modules query,value --epochs "$EPOCHS" --threads "$THREADS" \
  --logging-steps "$STEPS" --output "$OUT/lorabert" "$@" 2>&1 | stamp >"$OUT/lorabert.log"
echo "hf: $EPOCHS epochs" >&2
/usr/bin/time -v -o "$OUT/hf.time" "$PY" tools/reference/hf_train.py --model "$MODEL" --train "$TRAIN" \
  --validation "$VAL" --epochs "$EPOCHS" --threads "$THREADS" --output "$OUT/hf" 2>&1 | stamp >"$OUT/hf.log"
python3 - "$OUT" <<'PY'
import json, re, sys
out = sys.argv[1]
lines = [l.rstrip("\n").split(" ", 1) for l in open(f"{out}/lorabert.log")]
lines = [(float(t), s) for t, s in (l for l in lines if len(l) == 2)]
t_start = next(t for t, s in lines if re.match(r"\d+ training examples", s))
row_t = [t for t, s in lines if re.match(r"\d+\s+(No log|[0-9.]+)\s+[0-9.]+\s", s)]
state = json.load(open(f"{out}/lorabert/trainer_state.json"))
evals = [h for h in state["log_history"] if "eval_loss" in h]
trains = {round(h["epoch"]): h["loss"] for h in state["log_history"] if "loss" in h}
lb, prev = [], t_start
for e, (h, t) in enumerate(zip(evals, row_t), 1):
    lb.append({"epoch": e, "train_loss": trains.get(e), "eval_loss": h["eval_loss"], "eval_accuracy": h["eval_accuracy"],
               "eval_precision": h["eval_precision"], "eval_recall": h["eval_recall"], "eval_f1": h["eval_f1"],
               "train_s": t - prev - h["eval_runtime"], "eval_s": h["eval_runtime"], "wall_s": t - prev})
    prev = t
hf = json.load(open(f"{out}/hf/hf_results.json"))["epochs"]
def tm(path):
    d = {}
    for l in open(path):
        k, _, v = l.strip().rpartition(": ")
        d[k] = v
    return d
lt, ht = tm(f"{out}/lorabert.time"), tm(f"{out}/hf.time")
json.dump({"lorabert": lb, "hf": hf, "time": {"lorabert": lt, "hf": ht}}, open(f"{out}/summary.json", "w"), indent=1)
f = lambda x, p=4: "-" if x is None else f"{x:.{p}f}"
md = ["| epoch | system | train loss | val loss | accuracy | precision | recall | F1 | train s | eval s |",
      "|---|---|---|---|---|---|---|---|---|---|"]
for a, b in zip(lb, hf):
    for name, r in (("lorabert", a), ("HF + PEFT", b)):
        md.append(f"| {r['epoch']} | {name} | {f(r['train_loss'])} | {f(r['eval_loss'])} | {f(r['eval_accuracy'])} | "
                  f"{f(r['eval_precision'])} | {f(r['eval_recall'])} | {f(r['eval_f1'])} | {f(r['train_s'], 1)} | "
                  f"{f(r['eval_s'], 1)} |")
for name, t in (("lorabert", lt), ("HF + PEFT", ht)):
    md.append(f"\n{name}: wall {t.get('Elapsed (wall clock) time (h:mm:ss or m:ss)')}, user {t.get('User time (seconds)')} s, "
              f"sys {t.get('System time (seconds)')} s, peak RSS {int(t.get('Maximum resident set size (kbytes)', 0)) / 1024:.0f} MiB")
open(f"{out}/summary.md", "w").write("\n".join(md) + "\n")
print("\n".join(md))
PY
