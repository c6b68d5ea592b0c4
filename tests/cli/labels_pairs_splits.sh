#!/usr/bin/env bash
# Column and label handling of `lorabert train / eval / predict` on a tiny DistilBERT
# (tests/golden/distilbert_traj) and IMDb slices: string labels (the label rule of
# src/data/labels.h: train's default --labels give way to sorted values with a notice, printed,
# saved in labels.json and used by eval/predict; explicit --labels and eval map exactly by name,
# unknown names, mixed ids and names, ids out of range are exit 4), --text-pair-column, and split selection in
# local HF dataset folders (top-level split files, data/<split>-* shards concatenated,
# refs/convert/parquet <config>/<split>/NNNN.parquet).
set -u
source "$(dirname "$0")/../support/cli_base.sh" labels
[ -f "$SHARED/data/imdb/train.csv" ] || { echo "shared data absent ($SHARED); set LORABERT_SHARED"; exit 77; }
command -v python3 >/dev/null || { echo "python3 absent (makes the test files)"; exit 77; }
M=$T/model
mkdir -p "$M"
cp tests/golden/distilbert_traj/model/* "$SHARED/data/tokenizer/vocab.txt" "$M/"
head -n 25 "$SHARED/data/imdb/train.csv" >"$T/train.csv"
head -n 13 "$SHARED/data/imdb/validation.csv" >"$T/val.csv"
# string labels and a sentence-pair column (the review cut in two halves)
python3 - "$T" <<'PY'
import csv, sys
t = sys.argv[1]
for name in ("train", "val"):
    rows = list(csv.DictReader(open(f"{t}/{name}.csv", newline="")))
    with open(f"{t}/{name}_str.csv", "w", newline="") as f:
        w = csv.writer(f); w.writerow(["sentiment", "text"])
        for r in rows: w.writerow(["pos" if r["label"] == "1" else "neg", r["text"]])
    with open(f"{t}/{name}_pair.csv", "w", newline="") as f:
        w = csv.writer(f); w.writerow(["label", "premise", "hypothesis"])
        for r in rows:
            words = r["text"].split(); h = len(words) // 2
            w.writerow([r["label"], " ".join(words[:h]), " ".join(words[h:])])
PY
COMMON=(--model "$M" --max-length 32 --threads 2 --epochs 1 --logging-steps 100)
evjson() { $LB eval --model "$M" --max-length 32 --threads 2 --json "$@"; }
field() { python3 -c "import json,sys; print(json.load(sys.stdin)['$1'])"; }

# ---- string labels: sorted unique values when the default --labels does not cover them, said ----
out=$($LB train "${COMMON[@]}" --train "$T/train_str.csv" --validation "$T/val_str.csv" --label-column sentiment \
      --output "$T/str" 2>"$T/err") || fail "train with string labels: $(cat "$T/err")"
[ "$(grep -c '^labels: 0=neg 1=pos$' <<<"$out")" = 1 ] || fail "mapping printed once: $out"
grep -q "notice: the label names of .*train_str.csv are not all among the default --labels (Negative,Positive); the classes are their sorted values instead: 0=neg 1=pos" "$T/err" ||
  fail "the fallback to sorted values is announced: $(cat "$T/err")"
# an explicit --labels that does not name them is an error (exit 4) naming the value, file and row
$LB train "${COMMON[@]}" --train "$T/train_str.csv" --validation "$T/val_str.csv" --label-column sentiment \
    --labels Negative,Positive --output "$T/strx" >"$T/out" 2>"$T/err"; rc=$?
[ $rc -eq 4 ] && grep -q 'train_str.csv: row 0: unknown label "[a-z]*" (the known labels, from --labels, are "Negative", "Positive")' "$T/err" ||
  fail "explicit --labels not covering the labels: rc=$rc $(cat "$T/err")"
[ ! -e "$T/strx/adapter_model.safetensors" ] || fail "nothing trained"
# eval never sorts label names onto the model's classes: without the adapter, neg/pos are unknown
# to the model's id2label (Negative, Positive); --json prints nothing but the error
evjson --data "$T/val_str.csv" --label-column sentiment >"$T/out" 2>"$T/err"; rc=$?
[ $rc -eq 4 ] && grep -q 'val_str.csv: row 0: unknown label "[a-z]*" (the known labels, from the model.s config.json id2label, are "Negative", "Positive")' "$T/err" ||
  fail "eval label names unknown to the model: rc=$rc $(cat "$T/err")"
[ ! -s "$T/out" ] || fail "eval --json printed results: $(cat "$T/out")"
# class ids and names in one column; "+1" is a label name, not class 1
printf 'label,text\n1,good\nx,bad\n' >"$T/mix.csv"
evjson --data "$T/mix.csv" >"$T/out" 2>"$T/err"; rc=$?
[ $rc -eq 4 ] && grep -q 'mixes class ids and label names: row 0 is "1" (a class id), row 1 is "x" (a label name)' "$T/err" ||
  fail "1 and x: rc=$rc $(cat "$T/err")"
printf 'label,text\n+1,good\n0,bad\n' >"$T/plus.csv"
evjson --data "$T/plus.csv" >"$T/out" 2>"$T/err"; rc=$?
[ $rc -eq 4 ] && grep -q 'row 1 is "0" (a class id), row 0 is "+1" (a label name)' "$T/err" || fail "+1: rc=$rc $(cat "$T/err")"
printf 'label,text\n1,good\n2,bad\n' >"$T/range.csv"
evjson --data "$T/range.csv" >"$T/out" 2>"$T/err"; rc=$?
[ $rc -eq 4 ] && grep -q 'range.csv: row 1: label 2 is not a class id below 2' "$T/err" || fail "range: rc=$rc $(cat "$T/err")"
# the model's own names map exactly, in its order
python3 - "$T" <<'PY'
import csv, sys
t = sys.argv[1]
rows = list(csv.DictReader(open(f"{t}/val.csv", newline="")))
with open(f"{t}/val_names.csv", "w", newline="") as f:
    w = csv.writer(f); w.writerow(["label", "text"])
    for r in rows: w.writerow(["Positive" if r["label"] == "1" else "Negative", r["text"]])
PY
a=$(evjson --data "$T/val_names.csv") || fail "eval with the model's label names"
b=$(evjson --data "$T/val.csv") || fail "eval class ids"
[ "$a" = "$b" ] || fail "names vs ids: $a vs $b"
python3 -c "import json,sys; d=json.load(open(sys.argv[1])); assert d['id2label']=={'0':'neg','1':'pos'}, d; assert d['label2id']=={'neg':0,'pos':1}, d" \
  "$T/str/labels.json" || fail "labels.json holds the mapping"
# eval with the adapter: string labels through labels.json, integer labels as class indices: same numbers
a=$(evjson --adapter "$T/str" --data "$T/val_str.csv" --label-column sentiment) || fail "eval string labels"
b=$(evjson --adapter "$T/str" --data "$T/val.csv") || fail "eval int labels"
[ "$(field loss <<<"$a")" = "$(field loss <<<"$b")" ] || fail "string vs int labels: $a vs $b"
# covered by --labels: their order wins (pos=0, neg=1 flips the confusion matrix)
out=$($LB train "${COMMON[@]}" --no-eval --train "$T/train_str.csv" --label-column sentiment --labels pos,neg \
      --output "$T/str2" 2>"$T/err") || fail "train --labels pos,neg: $(cat "$T/err")"
grep -q '^labels: 0=pos 1=neg$' <<<"$out" || fail "--labels order: $out"
grep -q '"0": *"pos"' "$T/str2/labels.json" || fail "labels.json with --labels order: $(cat "$T/str2/labels.json")"
p=$(echo "a fine film" | $LB predict --model "$M" --adapter "$T/str2" --max-length 32 2>&1) || fail "predict: $p"
grep -Eq 'pos|neg' <<<"$p" || fail "predict names labels as trained: $p"

# ---- sentence pairs ----
$LB train --help | grep -q -- '--text-pair-column NAME' || fail "train --help lists --text-pair-column"
$LB eval --help | grep -q -- '--split NAME' || fail "eval --help lists --split"
$LB train "${COMMON[@]}" --train "$T/train_pair.csv" --validation "$T/val_pair.csv" --text-column premise \
    --text-pair-column hypothesis --output "$T/pair" >"$T/out" 2>"$T/err" || fail "train pairs: $(cat "$T/err")"
a=$(evjson --adapter "$T/pair" --data "$T/val_pair.csv" --text-column premise --text-pair-column hypothesis) ||
  fail "eval pairs"
b=$(evjson --adapter "$T/pair" --data "$T/val_pair.csv" --text-column premise) || fail "eval premise only"
[ "$(field n_examples <<<"$a")" = 12 ] || fail "pair eval rows: $a"
[ "$(field loss <<<"$a")" != "$(field loss <<<"$b")" ] || fail "the pair column must reach the model: $a"
evjson --data "$T/val_pair.csv" --text-column premise --text-pair-column nope >/dev/null 2>"$T/err"; rc=$?
[ $rc -eq 4 ] && grep -q 'text-pair column "nope"' "$T/err" || fail "missing pair column: rc=$rc $(cat "$T/err")"

# ---- split selection in dataset folders ----
D=$T/hfdata; mkdir -p "$D/data"
head -n 13 "$T/train.csv" >"$D/data/train-00000-of-00002.csv"
{ head -n 1 "$T/train.csv"; tail -n +14 "$T/train.csv"; } >"$D/data/train-00001-of-00002.csv"
cp "$T/val.csv" "$D/data/validation-00000-of-00001.csv"
cp "$T/val.csv" "$D/data/test-00000-of-00001.csv"
a=$(evjson --dataset "$D" --split train) || fail "eval --dataset DIR --split train"
b=$(evjson --data "$T/train.csv") || fail "eval train.csv"
[ "$a" = "$b" ] || fail "two shards = the whole file: $a vs $b"
a=$(evjson --dataset "$D") || fail "eval --dataset default split"
b=$(evjson --data "$T/val.csv")
[ "$a" = "$b" ] || fail "default split is validation: $a vs $b"
$LB train "${COMMON[@]}" --dataset "$D" --validation-split test --output "$T/split" >"$T/out" 2>"$T/err" ||
  fail "train --dataset DIR --validation-split test: $(cat "$T/err")"
grep -q 'Epoch' "$T/out" || fail "epoch table"
evjson --dataset "$D" --split nope >/dev/null 2>"$T/err"; rc=$?
[ $rc -eq 3 ] && grep -q "no 'nope' split" "$T/err" || fail "missing split: rc=$rc $(cat "$T/err")"
# refs/convert/parquet layout
C=$T/converted; mkdir -p "$C/plain_text/test" "$C/default/test"
cp "$SHARED/data/imdb/validation.snappy.parquet" "$C/default/test/0000.parquet"
cp "$SHARED/data/imdb/train.snappy.parquet" "$C/plain_text/test/0000.parquet"
a=$(evjson --dataset "$C" --split test) || fail "eval converted layout"
b=$(evjson --data "$SHARED/data/imdb/validation.snappy.parquet")
[ "$a" = "$b" ] || fail "default/<split>/ is preferred: $a vs $b"
# a top-level <split>.<ext>
E=$T/flat; mkdir -p "$E"; cp "$SHARED/data/imdb/validation.jsonl" "$E/test.jsonl"
a=$(evjson --dataset "$E" --split test) || fail "eval top-level test.jsonl"
[ "$a" = "$b" ] || fail "test.jsonl = validation parquet: $a vs $b"
$LB eval --model "$M" --data "$T/val.csv" --dataset "$D" >/dev/null 2>&1; [ $? -eq 2 ] || fail "--data with --dataset"
echo ok
