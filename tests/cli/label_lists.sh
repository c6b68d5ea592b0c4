#!/usr/bin/env bash
# Multi-label targets from a column of lists (issue 16): `lorabert train` / `eval` with
# --label-column LABELS holding JSON arrays of label names, of class ids, or multi-hot vectors
# (floats; integers with --label-format multi-hot) give exactly the adapter bytes, labels.json and
# eval metrics of the equivalent --label-columns CSV run (same rows, same label order): with a
# model whose config.json is multi-label (its id2label names the labels) and with one that is not
# (--problem-type multi_label_classification: the sorted names of --train are the labels). Bad
# lists are refused with file and row (exit 4), a CSV list column with exit 5. Then Parquet LIST
# columns written by pyarrow (list<string>, list<int64>, list<int32> on v2 pages in several row
# groups, list<float>) give the same bytes again (that part needs the reference env's pyarrow:
# exit 77 after the JSONL parts without it; CI=true sets it up). Tiny DistilBERT of
# tests/golden/distilbert_traj_multilabel. predict --input reads no labels (a list column or none).
set -u
source "$(dirname "$0")/../support/cli_common.sh" labellists
MC=$T/mc # config.json multi-label, id2label LABEL_0..2, a 3-label head
MD=$T/md # the same without problem_type: HF's rule makes it single-label
mkdir -p "$MC" "$MD"
cp tests/golden/distilbert_traj_multilabel/model/* "$M/vocab.txt" "$M/tokenizer_config.json" "$MC/"
cp "$MC"/* "$MD/"
python3 - "$MD/config.json" <<'PY' || fail "config"
import json, sys
c = json.load(open(sys.argv[1]))
assert c.pop("problem_type") == "multi_label_classification"
json.dump(c, open(sys.argv[1], "w"))
PY
python3 - "$SHARED/data/imdb/train.csv" "$T" <<'PY' || fail "data"
import csv, json, sys
rows = list(csv.DictReader(open(sys.argv[1], newline="", encoding="utf-8")))[:40]
out = sys.argv[2]
def tg(i, r):
    return [int(r["label"]), int(i % 3 == 0), len(r["text"]) % 2]
for names, tag in ((["LABEL_0", "LABEL_1", "LABEL_2"], "c"), (["comedy", "drama", "horror"], "d")):
    for part, idx in (("train", range(0, 28)), ("val", range(28, 40))):
        def jl(kind, value):
            with open("%s/%s_%s_%s.jsonl" % (out, part, tag, kind), "w", encoding="utf-8") as f:
                for i in idx:
                    f.write(json.dumps({"text": rows[i]["text"], "labels": value(i, tg(i, rows[i]))}) + "\n")
        with open("%s/%s_%s.csv" % (out, part, tag), "w", newline="", encoding="utf-8") as f:
            w = csv.writer(f)
            w.writerow(["text"] + names)
            for i in idx:
                w.writerow([rows[i]["text"]] + tg(i, rows[i]))
        # names in varying order within a list (a set of labels)
        jl("names", lambda i, t: [n for n, v in zip(names, t) if v][:: (-1 if i % 2 else 1)])
        jl("ids", lambda i, t: [k for k, v in enumerate(t) if v][:: (-1 if i % 2 else 1)])
        jl("hot", lambda i, t: [float(v) for v in t])
        jl("hotint", lambda i, t: t)
PY
C=(--epochs 1 --batch-size 4 --max-length 64 --threads 2 --seed 3)
run() { # name model train val options...
  local name=$1 model=$2 tr=$3 va=$4; shift 4
  $LB train --model "$model" --train "$T/$tr" --validation "$T/$va" "${C[@]}" "$@" --output "$T/o_$name" \
    >"$T/$name.log" 2>&1 || { cat "$T/$name.log"; fail "train $name"; }
}
same() { # reference other
  cmp -s "$T/o_$1/adapter_model.safetensors" "$T/o_$2/adapter_model.safetensors" || fail "$2: adapter differs from $1's"
  cmp -s "$T/o_$1/labels.json" "$T/o_$2/labels.json" || fail "$2: labels.json differs from $1's"
  python3 - "$T/o_$1/metrics.json" "$T/o_$2/metrics.json" <<'PY' || fail "$2: metrics.json differs from $1's"
import json, sys
a, b = (json.load(open(p)) for p in sys.argv[1:3])
for d in (a, b):  # timings
    for k in [k for k in d if "runtime" in k or "per_second" in k]: del d[k]
assert a == b, (a, b)
PY
}
# a multi-label model: its labels (config.json id2label)
run c_csv "$MC" train_c.csv val_c.csv --label-columns LABEL_0,LABEL_1,LABEL_2
run c_names "$MC" train_c_names.jsonl val_c_names.jsonl --label-column labels
run c_ids "$MC" train_c_ids.jsonl val_c_ids.jsonl --label-column labels --problem-type multi_label_classification
run c_hot "$MC" train_c_hot.jsonl val_c_hot.jsonl --label-column labels
run c_hotint "$MC" train_c_hotint.jsonl val_c_hotint.jsonl --label-column labels --label-format multi-hot
for r in c_names c_ids c_hot c_hotint; do same c_csv $r; done
grep -q '"problem_type": "multi_label_classification"' "$T/o_c_names/labels.json" || fail "labels.json: $(cat "$T/o_c_names/labels.json")"
# a model that is not multi-label: the sorted names of --train are the labels, as the columns
run d_csv "$MD" train_d.csv val_d.csv --label-columns comedy,drama,horror
run d_names "$MD" train_d_names.jsonl val_d_names.jsonl --label-column labels --problem-type multi_label_classification
same d_csv d_names
grep -q '"0": "comedy"' "$T/o_d_names/labels.json" || fail "labels.json: $(cat "$T/o_d_names/labels.json")"
# class ids without a multi-label model: the largest id + 1 labels, said in a notice
run d_ids "$MD" train_d_ids.jsonl val_d_ids.jsonl --label-column labels --problem-type multi_label_classification
grep -q 'notice: the label lists of .* are class ids: 3 labels' "$T/d_ids.log" || fail "no notice: $(cat "$T/d_ids.log")"
cmp -s "$T/o_d_csv/adapter_model.safetensors" "$T/o_d_ids/adapter_model.safetensors" || fail "d_ids: adapter differs"

# eval: lists from --label-column give the label columns' metrics, byte for byte
$LB eval --model "$MC" --adapter "$T/o_c_csv" --data "$T/val_c.csv" --json >"$T/e_csv" 2>"$T/err" || fail "eval csv: $(cat "$T/err")"
grep -q '"problem_type": "multi_label_classification"' "$T/e_csv" || fail "eval: $(cat "$T/e_csv")"
for k in names ids hot; do
  $LB eval --model "$MC" --adapter "$T/o_c_csv" --data "$T/val_c_$k.jsonl" --label-column labels --json >"$T/e_$k" \
    2>"$T/err" || fail "eval $k: $(cat "$T/err")"
  cmp -s "$T/e_csv" "$T/e_$k" || fail "eval $k: $(diff "$T/e_csv" "$T/e_$k")"
done
$LB eval --model "$MC" --adapter "$T/o_c_csv" --data "$T/val_c_hotint.jsonl" --label-column labels \
  --label-format multi-hot --json >"$T/e_hotint" 2>"$T/err" || fail "eval hotint: $(cat "$T/err")"
cmp -s "$T/e_csv" "$T/e_hotint" || fail "eval multi-hot integers differ"
$LB eval --model "$MD" --adapter "$T/o_d_names" --data "$T/val_d_names.jsonl" --label-column labels --json >"$T/e_d" \
  2>"$T/err" || fail "eval d: $(cat "$T/err")"
$LB eval --model "$MD" --adapter "$T/o_d_csv" --data "$T/val_d.csv" --json >"$T/e_dcsv" 2>"$T/err" || fail "eval d csv"
cmp -s "$T/e_d" "$T/e_dcsv" || fail "eval d: $(diff "$T/e_d" "$T/e_dcsv")"

# refusals: one line, the exit code, file and row; no output folder left
refused() { # rc expected-text train-file options...
  local want_rc=$1 want=$2 tr=$3; shift 3
  $LB train --model "$MD" --train "$tr" --no-eval "${C[@]}" "$@" --output "$T/bad" >/dev/null 2>"$T/err"; local rc=$?
  [ $rc -eq "$want_rc" ] && [ "$(wc -l <"$T/err")" -eq 1 ] && grep -q -- "$want" "$T/err" || fail "$want: rc=$rc $(cat "$T/err")"
  [ ! -e "$T/bad" ] || fail "$want: a refused run left its output folder"
}
ML=(--problem-type multi_label_classification --label-column labels)
bad() { printf '%s\n' "$@" >"$T/bad.jsonl"; }
bad '{"text":"a","labels":["x"]}' '{"text":"b","labels":["x",1]}'
refused 4 'bad.jsonl: row 1: label column "labels" mixes kinds in one list: element 0 is "x" (label names (strings)), element 1 is 1 (class ids' "$T/bad.jsonl" "${ML[@]}"
bad '{"text":"a","labels":["x"]}' '{"text":"b","labels":[1]}'
refused 4 'bad.jsonl: label column "labels" mixes kinds: row 0 holds label names (strings), row 1 holds class ids' "$T/bad.jsonl" "${ML[@]}"
bad '{"text":"a","labels":["x","y","x"]}'
refused 4 'row 0: label column "labels": label "x" is in the list twice (element 2)' "$T/bad.jsonl" "${ML[@]}"
bad '{"text":"a","labels":[1]}' '{"text":"b","labels":[64]}'
refused 4 'row 1: label column "labels": class id 64 (element 0): expected 0 to 63' "$T/bad.jsonl" "${ML[@]}"
bad '{"text":"a","labels":[-1]}'
refused 4 'row 0: label column "labels": class id -1 (element 0)' "$T/bad.jsonl" "${ML[@]}"
bad '{"text":"a","labels":[0.0,1.0]}' '{"text":"b","labels":[1.0,0.0,1.0]}'
refused 4 'row 1: label column "labels" holds a multi-hot list of 3 values: expected 2 values, as row 0' "$T/bad.jsonl" "${ML[@]}"
bad '{"text":"a","labels":[0.0,0.5]}'
refused 4 'row 0: label column "labels": element 1 is 0.5: expected 0 or 1 in a multi-hot vector' "$T/bad.jsonl" "${ML[@]}"
bad '{"text":"a","labels":[0,2]}'
refused 4 'element 1 is 2: expected 0 or 1 in a multi-hot vector' "$T/bad.jsonl" "${ML[@]}" --label-format multi-hot
bad '{"text":"a","labels":["x",null]}'
refused 4 'row 0: label column "labels": element 1 is null' "$T/bad.jsonl" "${ML[@]}"
bad '{"text":"a","labels":["x"]}' '{"text":"b","labels":"x"}'
refused 4 'row 1: label column "labels" holds "x" (a string): expected a list of labels' "$T/bad.jsonl" "${ML[@]}"
bad '{"text":"a","labels":["x"]}' '{"text":"b","labels":[""]}'
refused 4 'row 1: label column "labels": element 0 is an empty string: expected a label name' "$T/bad.jsonl" "${ML[@]}"
bad '{"text":"a","labels":[]}' '{"text":"b","labels":[]}'
refused 4 'every label list is empty' "$T/bad.jsonl" "${ML[@]}"
bad '{"text":"a","labels":["comedy"]}' '{"text":"b","labels":["western"]}'
refused 4 'bad.jsonl: row 1: unknown label "western" in the list (the known labels, from the model.s labels, are "comedy", "drama", "horror")' "$T/bad.jsonl" "${ML[@]}" --labels comedy,drama,horror
bad '{"text":"a","labels":[0.0,1.0]}'
refused 4 'bad.jsonl: row 0: a multi-hot list of 2 values: expected 3, one per label' "$T/bad.jsonl" "${ML[@]}" --labels a,b,c
bad '{"text":"a","labels":[0,3]}'
refused 4 'bad.jsonl: row 0: class id 3 in the list: expected a class id below 3' "$T/bad.jsonl" "${ML[@]}" --labels a,b,c
refused 5 'a CSV/TSV cell cannot hold a list of labels; use JSONL' "$T/train_d.csv" "${ML[@]}"
refused 2 '--label-format is for multi-label lists' "$T/train_d.csv" --label-columns comedy,drama --label-format multi-hot
refused 2 '--label-format x: expected auto or multi-hot' "$T/bad.jsonl" "${ML[@]}" --label-format x
# a single-label run meets a list: it says what a list is for
bad '{"text":"a","label":["x"]}'
refused 4 'row 0: label column "label" holds a list (1 values): expected one class id or label name' "$T/bad.jsonl"
# validation names outside --train's: named with file and row
bad '{"text":"a","labels":["comedy","western"]}'
$LB train --model "$MD" --train "$T/train_d_names.jsonl" --validation "$T/bad.jsonl" "${C[@]}" "${ML[@]}" --output "$T/bad" \
  >/dev/null 2>"$T/err"; rc=$?
[ $rc -eq 4 ] && grep -q 'bad.jsonl: row 0: unknown label "western" in the list (the known labels, from the model.s labels, are "comedy", "drama", "horror")' "$T/err" ||
  fail "validation name: rc=$rc $(cat "$T/err")"
# train and validation of different kinds
$LB train --model "$MD" --train "$T/train_d_names.jsonl" --validation "$T/val_d_ids.jsonl" "${C[@]}" "${ML[@]}" --output "$T/bad" \
  >/dev/null 2>"$T/err"; rc=$?
[ $rc -eq 4 ] && grep -q 'holds lists of label names, the validation set .* lists of class ids' "$T/err" || fail "kinds: rc=$rc $(cat "$T/err")"
# eval: a name the model does not have; --label-format where no list is read
$LB eval --model "$MD" --adapter "$T/o_d_names" --data "$T/bad.jsonl" --label-column labels >/dev/null 2>"$T/err"; rc=$?
[ $rc -eq 4 ] && grep -q 'row 0: unknown label "western"' "$T/err" || fail "eval unknown: rc=$rc $(cat "$T/err")"
$LB eval --model "$MD" --adapter "$T/o_d_names" --data "$T/val_d.csv" --label-columns comedy,drama,horror --label-format multi-hot \
  >/dev/null 2>"$T/err"; rc=$?
[ $rc -eq 2 ] || fail "eval --label-format with --label-columns: rc=$rc $(cat "$T/err")"

# Parquet list columns (written by pyarrow from the JSONL files): list<string>, list<int64>,
# list<int32> (v2 pages, several row groups), list<float> (multi-hot): the same bytes again
PY=${LORABERT_REF_PY:-${XDG_CACHE_HOME:-$HOME/.cache}/lorabert/refenv/bin/python}
if [ "${CI:-}" = true ]; then PY=$(bash tools/reference/setup_env.sh) || exit 1; fi
if ! [ -x "$PY" ] || ! "$PY" -c 'import pyarrow' 2>/dev/null; then
  echo "label_lists: JSONL parts ok; the Parquet part needs pyarrow (tools/reference/setup_env.sh): skipped"; exit 77
fi
"$PY" - "$T" <<'PY' || fail "parquet files"
import json, sys
import pyarrow as pa, pyarrow.parquet as pq
out = sys.argv[1]
for part in ("train", "val"):
    for kind, typ, kw in (("names", pa.string(), {}), ("ids", pa.int64(), {}),
                          ("ids32", pa.int32(), dict(data_page_version="2.0", row_group_size=5, use_dictionary=False)),
                          ("hot", pa.float32(), dict(compression="zstd"))):
        src = "ids" if kind == "ids32" else kind
        rows = [json.loads(l) for l in open("%s/%s_c_%s.jsonl" % (out, part, src), encoding="utf-8")]
        tbl = pa.table({"text": pa.array([r["text"] for r in rows], pa.string()),
                        "labels": pa.array([r["labels"] for r in rows], pa.list_(typ))})
        pq.write_table(tbl, "%s/%s_c_%s.parquet" % (out, part, kind), **kw)
PY
run p_names "$MC" train_c_names.parquet val_c_names.parquet --label-column labels
run p_ids "$MC" train_c_ids.parquet val_c_ids.parquet --label-column labels
run p_ids32 "$MC" train_c_ids32.parquet val_c_ids32.parquet --label-column labels
run p_hot "$MC" train_c_hot.parquet val_c_hot.parquet --label-column labels
for r in p_names p_ids p_ids32 p_hot; do same c_csv $r; done
for k in names ids32 hot; do
  $LB eval --model "$MC" --adapter "$T/o_c_csv" --data "$T/val_c_$k.parquet" --label-column labels --json >"$T/e_p$k" \
    2>"$T/err" || fail "eval parquet $k: $(cat "$T/err")"
  cmp -s "$T/e_csv" "$T/e_p$k" || fail "eval parquet $k: $(diff "$T/e_csv" "$T/e_p$k")"
done
# predict --input needs no labels: a "label" column of lists, or none at all, is not read
printf '{"text":"good","label":["a","b"]}\n{"text":"bad","label":[]}\n' >"$T/in_lists.jsonl"
printf '{"text":"good"}\n{"text":"bad"}\n' >"$T/in_nolabel.jsonl"
for f in in_lists in_nolabel; do
  $LB predict --model "$MC" --adapter "$T/o_c_csv" --input "$T/$f.jsonl" --output "$T/$f.out" 2>"$T/err" ||
    fail "predict --input $f: $(cat "$T/err")"
  [ "$(wc -l <"$T/$f.out")" -eq 2 ] || fail "predict --input $f: $(cat "$T/$f.out")"
done
cmp -s "$T/in_lists.out" "$T/in_nolabel.out" || fail "predict --input: a label column changed the predictions"
$LB train --help | grep -q -- '--label-format auto|multi-hot' || fail "train --help lists --label-format"
$LB eval --help | grep -q -- '--label-format auto|multi-hot' || fail "eval --help lists --label-format"
echo "label_lists: ok"
