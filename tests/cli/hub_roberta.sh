#!/usr/bin/env bash
# RoBERTa through the look-alike hub (tests/support/hubserver.py): `info`, `train`, `predict`,
# `eval` and `serve` take a RoBERTa model and a PEFT adapter by repo id, and give what the same
# folders give locally, bit for bit (the tokenizer class comes from the snapshot's config.json, so
# RobertaTokenizerFast's add_prefix_space rule holds for a hub model as for a folder); offline
# (HF_HUB_OFFLINE=1) the cached snapshots are used without a request.
set -u
cd "$(dirname "$0")/../.."
LB=${LORABERT_BIN:-build/release/lorabert}
SHARED=${LORABERT_SHARED:-../shared}
[ -f "$SHARED/data/imdb/train.csv" ] || { echo "shared data absent ($SHARED); set LORABERT_SHARED"; exit 77; }
source tests/support/hubserver.sh
T=$HUB_ROOT/work
mkdir -p "$T"
head -n 25 "$SHARED/data/imdb/train.csv" >"$T/train.csv"
head -n 13 "$SHARED/data/imdb/validation.csv" >"$T/val.csv"
G=tests/golden/roberta_tiny/model
R=$HUB_ROOT/repos/models/org--roberta-tiny
mkdir -p "$R"
cp "$G"/* "$R/"

info=$($LB info org/roberta-tiny --json) || fail "info by repo id"
python3 -c 'import json,sys; i=json.loads(sys.argv[1]); assert i["architecture"]=="RobertaForSequenceClassification" and i["max_length"]==64, i' \
  "$info" || fail "info: $info"
COMMON=(--train "$T/train.csv" --validation "$T/val.csv" --labels Negative,Positive --max-length 64 --threads 2
        --epochs 1 --seed 7 --target-modules query,value)
$LB train --model org/roberta-tiny "${COMMON[@]}" --output "$T/hub_out" >"$T/log" 2>&1 || fail "train from the hub: $(tail -3 "$T/log")"
$LB train --model "$G" "${COMMON[@]}" --output "$T/local_out" >"$T/log" 2>&1 || fail "train from the folder: $(tail -3 "$T/log")"
cmp -s "$T/hub_out/adapter_model.safetensors" "$T/local_out/adapter_model.safetensors" ||
  fail "the adapter trained from the hub differs from the one trained from the folder"

# the adapter as a hub repo of its own
A=$HUB_ROOT/repos/models/org--roberta-adapter
mkdir -p "$A"
cp "$T/hub_out"/adapter_config.json "$T/hub_out"/adapter_model.safetensors "$T/hub_out"/labels.json "$A/"
PRED=(--json --max-length 64 --truncation left --input "$T/val.csv")
$LB predict --model org/roberta-tiny --adapter org/roberta-adapter "${PRED[@]}" --output "$T/hub.jsonl" ||
  fail "predict by repo ids"
$LB predict --model "$G" --adapter "$T/local_out" "${PRED[@]}" --output "$T/local.jsonl" || fail "predict from folders"
cmp -s "$T/hub.jsonl" "$T/local.jsonl" || fail "predictions by repo ids differ from the folders'"
ev_hub=$($LB eval --model org/roberta-tiny --adapter org/roberta-adapter --data "$T/val.csv" --max-length 64 --json) ||
  fail "eval by repo ids"
ev_loc=$($LB eval --model "$G" --adapter "$T/local_out" --data "$T/val.csv" --max-length 64 --json) || fail "eval local"
python3 -c 'import json,sys; a,b=(json.loads(x) for x in sys.argv[1:]); assert a["loss"]==b["loss"] and a["accuracy"]==b["accuracy"], (a,b)' \
  "$ev_hub" "$ev_loc" || fail "eval by repo ids differs: $ev_hub vs $ev_loc"

# offline: the cache alone, no request
before=$(wc -l <"$HUB_ROOT/requests.log")
HF_HUB_OFFLINE=1 $LB predict --model org/roberta-tiny --adapter org/roberta-adapter "${PRED[@]}" --output "$T/off.jsonl" ||
  fail "offline predict from the cache"
cmp -s "$T/off.jsonl" "$T/local.jsonl" || fail "offline predictions differ"
[ "$(wc -l <"$HUB_ROOT/requests.log")" -eq "$before" ] || fail "HF_HUB_OFFLINE=1 still sent requests"

# serve: the base and the adapter by repo id, raw scores == predict's logits
: >"$T/serve.log"
$LB serve --model org/roberta-tiny --adapter a=org/roberta-adapter --port 0 --threads 2 2>"$T/serve.log" &
spid=$!
PORT=
for _ in $(seq 300); do
  PORT=$(sed -n 's|.*listening on http://127\.0\.0\.1:\([0-9]*\)$|\1|p' "$T/serve.log")
  [ -n "$PORT" ] && break
  kill -0 $spid 2>/dev/null || fail "server exited: $(cat "$T/serve.log")"
  sleep 0.1
done
[ -n "$PORT" ] || { kill $spid; fail "server did not start: $(cat "$T/serve.log")"; }
python3 - "http://127.0.0.1:$PORT" "$T/val.csv" "$T/local.jsonl" <<'PY' || { kill $spid; fail "serve differs from predict"; }
import csv, json, sys, urllib.request
url, data, pred = sys.argv[1:]
rows = list(csv.DictReader(open(data, newline="", encoding="utf-8")))
want = [json.loads(l)["logits"] for l in open(pred)]
for r, w in list(zip(rows, want))[:4]:
    body = json.dumps({"inputs": r["text"], "raw_scores": True, "truncate": True, "truncation_direction": "Left",
                       "adapter": "a"}).encode()
    req = urllib.request.Request(url + "/predict", body, {"Content-Type": "application/json"})
    got = json.load(urllib.request.urlopen(req))
    scores = {g["label"]: g["score"] for g in got}
    d = max(abs(scores[l] - x) for l, x in zip(["Negative", "Positive"], w))
    assert d <= 1e-6, (got, w)
print("serve by repo ids == predict")
PY
kill -TERM $spid; wait $spid || fail "serve exit status $? after SIGTERM"
echo "hub_roberta: ok"
