#!/usr/bin/env bash
# `lorabert train / eval / merge` end to end on a tiny DistilBERT (tests/golden/distilbert_traj)
# and a slice of the IMDb data: outputs, HF-style printing, error exits, SIGINT checkpointing,
# and interop with the real peft / transformers (reference env): PEFT loads our adapter and
# transformers our merged model with the same eval loss as `lorabert eval`.
set -u
source "$(dirname "$0")/../support/cli_common.sh" train
head -n 41 "$SHARED/data/imdb/train.csv" >"$T/train.csv"
head -n 21 "$SHARED/data/imdb/validation.csv" >"$T/val.csv"
COMMON=(--model "$M" --train "$T/train.csv" --validation "$T/val.csv" --max-length 128 --threads 2)

$LB train --help | grep -q -- '--lora-alpha X' || fail "train --help lists options"
$LB train --help | grep -q 'default: 0.01' || fail "train --help shows defaults"
$LB train --epochs 0 >/dev/null 2>&1; [ $? -eq 2 ] || fail "--epochs 0 must be a usage error"
$LB train --bogus >/dev/null 2>&1; [ $? -eq 2 ] || fail "unknown option must be a usage error"

out=$($LB train "${COMMON[@]}" --epochs 2 --logging-steps 5 --output "$T/out" 2>"$T/err") || fail "train: $(cat "$T/err")"
echo "$out"
grep -q '^trainable params: [0-9,]* || all params: [0-9,]* || trainable%: [0-9.]*$' <<<"$out" || fail "PEFT params line"
grep -q '^Epoch  *Training Loss  *Validation Loss  *Accuracy  *Precision  *Recall  *F1' <<<"$out" || fail "epoch table"
grep -q '^best epoch: [12] ' <<<"$out" || fail "best epoch line"
for f in adapter_config.json adapter_model.safetensors trainer_state.json metrics.json training_curves.svg \
         labels.json vocab.txt checkpoint-10/adapter_model.safetensors checkpoint-20/trainer_state.json; do
  [ -f "$T/out/$f" ] || fail "missing $f"
done
grep -q '"best_model_checkpoint"' "$T/out/trainer_state.json" || fail "trainer_state.json"
# predict with the adapter names labels as trained (labels.json), not as the base config does
cp -r "$T/out" "$T/renamed"
printf '{"id2label": {"0": "Bad", "1": "Good"}, "label2id": {"Bad": 0, "Good": 1}, "num_labels": 2}\n' >"$T/renamed/labels.json"
pr=$($LB predict --model "$M" --adapter "$T/renamed" "It was good.") || fail "predict with adapter"
grep -Eq '"label":"(Bad|Good)"' <<<"$pr" || fail "predict must use the adapter's labels.json: $pr"

ev=$($LB eval --model "$M" --adapter "$T/out" --data "$T/val.csv" --max-length 128 --json) || fail "eval"
echo "$ev"
grep -q '"n_examples": 20' <<<"$ev" || fail "eval --json n_examples"
$LB eval --model "$M" --adapter "$T/out" --data "$T/val.csv" --max-length 128 | grep -q '^accuracy' || fail "eval table"
$LB merge --model "$M" --adapter "$T/out" --output "$T/merged" >/dev/null || fail "merge"
[ -f "$T/merged/config.json" ] && [ -f "$T/merged/model.safetensors" ] && [ -f "$T/merged/vocab.txt" ] || fail "merged files"
evm=$($LB eval --model "$T/merged" --data "$T/val.csv" --max-length 128 --json) || fail "eval merged"
python3 - "$ev" "$evm" <<'PY' || fail "merged model eval differs from adapter eval"
import json, sys
a, b = json.loads(sys.argv[1]), json.loads(sys.argv[2])
assert abs(a["loss"] - b["loss"]) <= 1e-5 * abs(a["loss"]), (a, b)
assert a["confusion_matrix"] == b["confusion_matrix"]
PY

# a PEFT-written adapter with a 3-label head: labels come from the head shape; macro + per-class
M3=$T/model3
mkdir -p "$M3"
cp tests/golden/distilbert_tiny_all/model/* "$M3/"
printf '[PAD]\n[UNK]\n[CLS]\n[SEP]\nhello\nworld\n' >"$M3/vocab.txt"
printf 'label,text\n0,hello\n1,world\n2,hello world\n' >"$T/three.csv"
ev3=$($LB eval --model "$M3" --adapter tests/golden/distilbert_tiny_all/lora --data "$T/three.csv" --json) || fail "eval 3 labels"
python3 - "$ev3" <<'PY' || fail "3-label eval JSON: $ev3"
import json, sys
r = json.loads(sys.argv[1])
assert r["n_examples"] == 3 and len(r["confusion_matrix"]) == 3 and len(r["per_class"]) == 3
assert abs(r["f1"] - sum(c["f1"] for c in r["per_class"]) / 3) < 1e-8
PY

# bad input: one clear line, documented exit code, the earlier output untouched (even with
# --overwrite-output-dir: a failed run never replaces it)
sum0=$(sha256sum "$T/out/adapter_model.safetensors")
printf 'label,text\n5,"great"\n' >"$T/bad_label.csv"
$LB train "${COMMON[@]}" --train "$T/bad_label.csv" --output "$T/out" --overwrite-output-dir >/dev/null 2>"$T/err"; rc=$?
[ $rc -eq 4 ] && [ "$(wc -l <"$T/err")" -eq 1 ] && grep -q 'label' "$T/err" || fail "label out of range: rc=$rc $(cat "$T/err")"
printf 'label,text\n' >"$T/empty.csv"
$LB train "${COMMON[@]}" --train "$T/empty.csv" --output "$T/out" --overwrite-output-dir >/dev/null 2>"$T/err"; rc=$?
[ $rc -eq 4 ] && grep -qi 'empty\|no rows\|no data' "$T/err" || fail "empty dataset: rc=$rc $(cat "$T/err")"
$LB train "${COMMON[@]}" --text-column body --output "$T/out" --overwrite-output-dir >/dev/null 2>"$T/err"; rc=$?
[ $rc -eq 4 ] && grep -q 'body' "$T/err" || fail "missing column: rc=$rc $(cat "$T/err")"
$LB train "${COMMON[@]}" --train "$T/nope.csv" --output "$T/out" --overwrite-output-dir >/dev/null 2>"$T/err"; rc=$?
[ $rc -eq 3 ] || fail "unreadable file: rc=$rc $(cat "$T/err")"
$LB eval --model "$M" --adapter "$T/nope" --data "$T/val.csv" >/dev/null 2>"$T/err"; rc=$?
[ $rc -eq 3 ] || fail "missing adapter: rc=$rc $(cat "$T/err")"
[ "$sum0" = "$(sha256sum "$T/out/adapter_model.safetensors")" ] || fail "a failed run changed the earlier output"
ls -A "$T" | grep -q '^\.out\.' && fail "a failed run left $(ls -A "$T" | grep '^\.out\.')"

# SIGINT: a resumable checkpoint and exit 9
head -n 401 "$SHARED/data/imdb/train.csv" >"$T/train400.csv"
$LB train "${COMMON[@]}" --train "$T/train400.csv" --epochs 50 --threads 1 --output "$T/sig" >"$T/sig.log" 2>&1 &
pid=$!
for _ in $(seq 100); do grep -q '^epoch 1/50 step' "$T/sig.log" && break; sleep 0.1; done
kill -INT $pid
wait $pid; rc=$?
[ $rc -eq 9 ] || fail "SIGINT: rc=$rc $(tail -3 "$T/sig.log")"
for f in resume.json optimizer.safetensors adapter_model.safetensors adapter_config.json; do
  [ -f "$T/sig/resume/$f" ] || fail "resume checkpoint lacks $f"
done
grep -q -- '--resume' "$T/sig.log" || fail "interrupted run must say how to resume"

# interop with the real packages
PY=$(bash tools/reference/setup_env.sh 2>/dev/null) || PY=
if [ -z "$PY" ]; then
  [ "${CI:-}" = true ] && fail "reference env required in CI"
  echo "reference python env absent: interop part skipped"; exit 0
fi
"$PY" - "$M" "$T/out" "$T/merged" "$T/val.csv" "$ev" <<'PY' 2>"$T/pyerr" || fail "peft/transformers interop: $(tail -5 "$T/pyerr")"
import csv, json, sys, warnings
warnings.filterwarnings("ignore")
import torch
from transformers import AutoModelForSequenceClassification, AutoTokenizer, logging
from peft import PeftModel
logging.set_verbosity_error()
model_dir, adapter, merged, data, ours = sys.argv[1:6]
ours = json.loads(ours)
rows = list(csv.DictReader(open(data, newline="", encoding="utf-8")))
tok = AutoTokenizer.from_pretrained(model_dir)
tok.truncation_side = "left"
def eval_loss(model):
    model.eval()
    total = 0.0
    with torch.no_grad():
        for r in rows:
            enc = tok(r["text"], truncation=True, max_length=128, return_tensors="pt")
            out = model(**enc, labels=torch.tensor([int(r["label"])]))
            total += float(out.loss)
    return total / len(rows)
base = AutoModelForSequenceClassification.from_pretrained(model_dir, num_labels=2)
peft_loss = eval_loss(PeftModel.from_pretrained(base, adapter))
merged_loss = eval_loss(AutoModelForSequenceClassification.from_pretrained(merged))
print("lorabert", ours["loss"], "peft", peft_loss, "merged", merged_loss)
assert abs(peft_loss - ours["loss"]) <= 1e-5 * abs(peft_loss), "PEFT loss differs"
assert abs(merged_loss - ours["loss"]) <= 1e-5 * abs(merged_loss), "merged loss differs"
PY
echo "interop ok"
