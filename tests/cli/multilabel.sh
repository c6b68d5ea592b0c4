#!/usr/bin/env bash
# A multi-label model (config.json problem_type "multi_label_classification") in `lorabert
# predict`, `info` and `serve`: every label's sigmoid probability equals what transformers 4.32.1's
# text-classification pipeline gives (top_k=None; within 1e-4), predict lists the labels >=
# --threshold, info shows the problem type, serve's TEI answer has every label's sigmoid; eval
# reads its labels as 0/1 columns (loss = BCEWithLogitsLoss of predict's logits), train from a CSV
# without --label-columns is refused (lists of labels need JSONL or Parquet); the model relabelled "regression" predicts its raw outputs as
# "values" and eval reads a number label column (a name there is refused naming row and value). The model
# and the expected scores are made at test time by tools/reference/multilabel_golden.py. Skips
# when the reference env or ../shared is absent (runs when CI=true).
set -u
source "$(dirname "$0")/../support/cli_base.sh" multi
[ -f "$SHARED/data/tokenizer/vocab.txt" ] || { echo "shared data absent ($SHARED): set LORABERT_SHARED"; exit 77; }
need_ref_py transformers
SERVER_PID=
trap '[ -n "$SERVER_PID" ] && kill -9 $SERVER_PID 2>/dev/null; rm -rf "$T"' EXIT
"$PY" tools/reference/multilabel_golden.py "$T" "$SHARED/data/tokenizer/vocab.txt" 2>"$T/py.err" || { cat "$T/py.err"; fail "reference script"; }
M=$T/model

mapfile -t TEXTS < <(python3 -c 'import json,sys; [print(t) for t in json.load(open(sys.argv[1]))["texts"]]' "$T/expected.json")
$LB predict --json --model "$M" "${TEXTS[@]}" >"$T/p05" || fail "predict"
$LB predict --json --model "$M" --threshold 0.9 "${TEXTS[@]}" >"$T/p09" || fail "predict --threshold 0.9"
python3 - "$T/expected.json" "$T/p05" "$T/p09" <<'PY' || fail "predict differs from the transformers pipeline"
import json, sys
exp = json.load(open(sys.argv[1]))
names = exp["labels"]
worst = 0.0
for path, thr in ((sys.argv[2], 0.5), (sys.argv[3], 0.9)):
    got = [json.loads(l) for l in open(path)]
    assert len(got) == len(exp["scores"]), len(got)
    for g, want in zip(got, exp["scores"]):
        worst = max(worst, max(abs(a - b) for a, b in zip(g["probs"], want)))
        assert all(abs(s - thr) > 1e-3 for s in want), "a score too close to the threshold"
        assert g["labels"] == [n for n, s in zip(names, want) if s >= thr], (g, want)
        top = max(range(len(want)), key=lambda k: want[k])
        assert g["label"] == names[top] and abs(g["score"] - want[top]) < 1e-4, g
assert worst <= 1e-4, worst
print("predict: sigmoid probabilities max abs diff %.3g vs the transformers pipeline" % worst)
PY
$LB predict --help | grep -q -- '--threshold P' || fail "predict --help lists --threshold"
$LB predict --model "$M" --threshold 1.5 x >/dev/null 2>&1; [ $? -eq 2 ] || fail "--threshold 1.5 must be a usage error"

$LB info "$M" | grep -q '^problem type:  multi_label_classification$' || fail "info: $($LB info "$M")"
$LB info --json "$M" | grep -q '"problem_type":"multi_label_classification"' || fail "info --json"

# eval reads the model's labels as 0/1 columns (BCEWithLogitsLoss: the mean over the labels of
# softplus(z) - z t, from predict's logits)
printf 'text,label\nhi,toxic\n' >"$T/d.csv"
printf 'text,toxic,funny,long\nhi,1,0,1\n' >"$T/ml.csv"
$LB eval --model "$M" --data "$T/ml.csv" --json >"$T/ml.json" 2>"$T/err" || fail "eval: $(cat "$T/err")"
$LB predict --model "$M" hi >"$T/ml_pred.json" || fail "predict hi"
python3 - "$T/ml.json" "$T/ml_pred.json" <<'PY' || fail "eval: $(cat "$T/ml.json")"
import json, math, sys
r, z = json.load(open(sys.argv[1])), json.loads(open(sys.argv[2]).read())["logits"]
t = [1, 0, 1]
want = sum(max(x, 0) - x * y + math.log1p(math.exp(-abs(x))) for x, y in zip(z, t)) / 3
assert r["problem_type"] == "multi_label_classification" and r["n_examples"] == 1, r
assert abs(r["loss"] - want) <= 1e-6 * want, (r["loss"], want)
PY
$LB eval --model "$M" --data "$T/d.csv" >/dev/null 2>"$T/err"; rc=$?
[ $rc -eq 4 ] && grep -q 'no label column "toxic"' "$T/err" || fail "eval without label columns: rc=$rc $(cat "$T/err")"
$LB train --model "$M" --train "$T/d.csv" --no-eval --epochs 1 --output "$T/o" >/dev/null 2>"$T/err"; rc=$?
[ $rc -eq 5 ] && grep -q 'a CSV/TSV cell cannot hold a list of labels' "$T/err" || fail "train: rc=$rc $(cat "$T/err")"
[ ! -e "$T/o" ] || fail "a refused run left its output folder"
mkdir -p "$T/reg" && cp "$M"/* "$T/reg/" && sed -i 's/"multi_label_classification"/"regression"/' "$T/reg/config.json"
# a regression model prints its outputs themselves ("values" = logits), not probabilities
$LB predict --model "$T/reg" x >"$T/reg.out" 2>"$T/err" || fail "regression model: $(cat "$T/err")"
python3 - "$T/reg.out" <<'PY' || fail "regression values: $(cat "$T/reg.out")"
import json, sys
d = json.loads(open(sys.argv[1]).read())
assert "probs" not in d and d["values"] == d["logits"] and d["score"] == max(d["values"]), d
PY
$LB eval --model "$T/reg" --data "$T/d.csv" >/dev/null 2>"$T/err"; rc=$?
[ $rc -eq 4 ] && grep -q "row 0: label column \"label\" holds 'toxic': expected a finite number" "$T/err" ||
  fail "eval regression: rc=$rc $(cat "$T/err")"

# serve: TEI's /predict answer holds every label's sigmoid
$LB serve --model "$M" --port 0 2>"$T/serve.log" &
SERVER_PID=$!
PORT=
for _ in $(seq 600); do
  PORT=$(sed -n 's|.*listening on http://127\.0\.0\.1:\([0-9]*\)$|\1|p' "$T/serve.log")
  [ -n "$PORT" ] && curl -sf -o /dev/null "http://127.0.0.1:$PORT/health" && break
  kill -0 $SERVER_PID 2>/dev/null || { cat "$T/serve.log"; fail "server exited at start"; }
  sleep 0.1
done
[ -n "$PORT" ] || { cat "$T/serve.log"; fail "server never listened"; }
python3 - "$T/expected.json" "http://127.0.0.1:$PORT" <<'PY' || fail "serve differs from the transformers pipeline"
import json, sys, urllib.request
exp = json.load(open(sys.argv[1]))
info = json.load(urllib.request.urlopen(sys.argv[2] + "/info"))
assert info["problem_type"] == "multi_label_classification", info
worst = 0.0
for text, want in zip(exp["texts"], exp["scores"]):
    req = urllib.request.Request(sys.argv[2] + "/predict", data=json.dumps({"inputs": text}).encode(),
                                 headers={"Content-Type": "application/json"})
    got = {r["label"]: r["score"] for r in json.load(urllib.request.urlopen(req))}
    assert sorted(got) == sorted(exp["labels"]), got
    worst = max(worst, max(abs(got[n] - s) for n, s in zip(exp["labels"], want)))
assert worst <= 1e-4, worst
print("serve: sigmoid scores max abs diff %.3g vs the transformers pipeline" % worst)
PY
kill -TERM $SERVER_PID; wait $SERVER_PID; rc=$?; SERVER_PID=
[ $rc -eq 0 ] || { cat "$T/serve.log"; fail "server exit status $rc after SIGTERM"; }
echo "multilabel: ok"
