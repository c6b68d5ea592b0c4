# Sourced by the per-architecture CLI walks (tests/cli/roberta.sh, tests/cli/modernbert.sh) after
# cli_common.sh: the steps every architecture goes through, as functions over one table row.
# Each script keeps what is its architecture's own (the info JSON, the refusals, the targets, the
# tokenizer the HF side builds) and calls these in order:
#   arch_data                  T/train.csv (40 imdb rows), val.csv (20), pairs.csv (8 text/pair rows),
#                              train3.csv, val3.csv (the same texts with labels i % 3)
#   arch_ref_env SCRIPT WHAT   PY = the python of tools/reference/SCRIPT, empty without it (fails
#                              in CI with "WHAT required in CI")
#   arch_case NAME K           TR, VA, LABELS (2 classes, or 3 when K is 3), G (the golden model), W
#   arch_train_walk TARGETS NEEDLE   train 2 epochs on TARGETS (adapter folder complete, NEEDLE in
#                              adapter_config.json), eval, merge (eval loss equal), predict (texts and
#                              --input pairs): W/ev.json, pred.jsonl, pairs.jsonl
#   arch_serve                 serve the base and the adapter: raw scores == predict logits
#   arch_peft_interop TARGETS TOKENIZER   PEFT trains an adapter on TARGETS that lorabert runs, then
#                              tests/support/arch_interop.py TOKENIZER checks both directions
# Usage: source "$(dirname "$0")/../support/arch_walk.sh"

arch_data() {
  head -n 41 "$SHARED/data/imdb/train.csv" >"$T/train.csv"
  head -n 21 "$SHARED/data/imdb/validation.csv" >"$T/val.csv"
  python3 - "$T/val.csv" "$T/pairs.csv" <<'PY'
import csv, sys
rows = list(csv.DictReader(open(sys.argv[1], newline="", encoding="utf-8")))
with open(sys.argv[2], "w", newline="", encoding="utf-8") as f:
    w = csv.writer(f)
    w.writerow(["label", "text", "pair"])
    for i, r in enumerate(rows[:8]):
        w.writerow([r["label"], r["text"][:200], rows[(i + 3) % len(rows)]["text"][-150:]])
PY
  # the 3-class heads: the same texts with labels i % 3
  local f
  for f in train val; do
    python3 -c 'import csv,sys
r = list(csv.DictReader(open(sys.argv[1], newline="", encoding="utf-8")))
w = csv.writer(open(sys.argv[2], "w", newline="", encoding="utf-8")); w.writerow(["label", "text"])
for i, x in enumerate(r): w.writerow([i % 3, x["text"]])' "$T/$f.csv" "$T/${f}3.csv"
  done
}

arch_ref_env() {
  PY=$(bash "tools/reference/$1" 2>/dev/null) || PY=
  if [ -z "$PY" ] && [ "${CI:-}" = true ]; then fail "$2 required in CI"; fi
}

arch_case() {
  name=$1
  TR=$T/train$2.csv VA=$T/val$2.csv LABELS=(--labels Negative,Positive)
  [ "$2" = 3 ] && LABELS=(--labels LABEL_0,LABEL_1,LABEL_2)
  G=tests/golden/$name/model
  W=$T/$name
  mkdir -p "$W"
}

arch_train_walk() {
  COMMON=(--model "$G" --train "$TR" --validation "$VA" "${LABELS[@]}" --max-length 64 --threads 2)
  $LB train "${COMMON[@]}" --epochs 2 --target-modules "$1" --output "$W/out" \
    >"$W/train.log" 2>&1 || fail "$name: train: $(tail -3 "$W/train.log")"
  local f
  for f in adapter_config.json adapter_model.safetensors tokenizer.json labels.json trainer_state.json; do
    [ -f "$W/out/$f" ] || fail "$name: adapter folder lacks $f"
  done
  grep -q "\"$2\"" "$W/out/adapter_config.json" || fail "$name: target names in adapter_config.json"
  ev=$($LB eval --model "$G" --adapter "$W/out" --data "$VA" --max-length 64 --truncation left --json) \
    || fail "$name: eval"
  echo "$ev" >"$W/ev.json"
  $LB merge --model "$G" --adapter "$W/out" --output "$W/merged" >/dev/null || fail "$name: merge"
  [ -f "$W/merged/tokenizer.json" ] || fail "$name: merged folder lacks tokenizer.json"
  evm=$($LB eval --model "$W/merged" --data "$VA" --max-length 64 --truncation left --json) \
    || fail "$name: eval merged"
  python3 - "$ev" "$evm" <<'PY' || fail "$name: merged eval differs from adapter eval"
import json, sys
a, b = json.loads(sys.argv[1]), json.loads(sys.argv[2])
assert a["n_examples"] == 20 and abs(a["loss"] - b["loss"]) <= 1e-5 * abs(a["loss"]), (a, b)
PY
  $LB predict --json --model "$G" --adapter "$W/out" --max-length 64 --truncation left \
    --input "$VA" --output "$W/pred.jsonl" || fail "$name: predict"
  $LB predict --json --model "$G" --adapter "$W/out" --max-length 64 --input "$T/pairs.csv" \
    --text-pair-column pair --output "$W/pairs.jsonl" || fail "$name: predict pairs"
  [ "$(wc -l <"$W/pairs.jsonl")" -eq 8 ] || fail "$name: 8 pair predictions"
}

# the base and the adapter over HTTP give predict's logits (texts cut at the 64-token limit)
arch_serve() {
  : >"$W/serve.log"
  $LB serve --model "$G" --adapter a="$W/out" --port 0 --threads 2 2>"$W/serve.log" &
  local spid=$! PORT= _
  for _ in $(seq 600); do
    PORT=$(sed -n 's|.*listening on http://127\.0\.0\.1:\([0-9]*\)$|\1|p' "$W/serve.log")
    [ -n "$PORT" ] && curl -sf -o /dev/null "http://127.0.0.1:$PORT/health" && break
    kill -0 $spid 2>/dev/null || fail "$name: server exited: $(cat "$W/serve.log")"
    sleep 0.1
  done
  head -n 6 "$VA" | tail -n 5 | python3 -c 'import csv,sys; [print(r[1]) for r in csv.reader(sys.stdin)]' >"$W/texts"
  $LB predict --json --model "$G" <"$W/texts" >"$W/sbase.jsonl" || fail "$name: predict base"
  $LB predict --json --model "$G" --adapter "$W/out" <"$W/texts" >"$W/sad.jsonl" || fail "$name: predict adapter"
  python3 - "http://127.0.0.1:$PORT" "$W" "$info" <<'PY' || { kill $spid; fail "$name: serve differs from predict"; }
import json, sys, urllib.request
url, w, info = sys.argv[1:4]
labels = json.loads(info)["labels"]  # by class id: the base's, and the adapter's (trained with the same names)
texts = open(w + "/texts", encoding="utf-8").read().splitlines()
def post(body):
    req = urllib.request.Request(url + "/predict", json.dumps(body).encode(), {"Content-Type": "application/json"})
    return json.load(urllib.request.urlopen(req, timeout=60))
for adapter, ref in ((None, "sbase"), ("a", "sad")):
    refs = [json.loads(l) for l in open(f"{w}/{ref}.jsonl")]
    body = {"inputs": [[t] for t in texts], "truncate": True, "raw_scores": True}
    if adapter:
        body["adapter"] = adapter
    got = post(body)
    assert len(got) == len(refs) == 5, got
    for g, r in zip(got, refs):
        by = {p["label"]: p["score"] for p in g}
        assert sorted(by) == sorted(labels), (g, labels)
        d = max(abs(by[l] - r["logits"][k]) for k, l in enumerate(labels))
        assert d <= 1e-6, ("serve raw scores vs predict logits", g, r)
print("serve == predict")
PY
  kill -TERM $spid
  wait $spid || fail "$name: serve exit status $? after SIGTERM"
}

arch_peft_interop() {
  "$PY" tools/reference/peft_interop.py train-adapter --model "$G" --out "$W/peft" --targets "$1" \
    --steps 5 --seed 3 2>"$W/pyerr" >/dev/null || fail "$name: PEFT train-adapter: $(tail -3 "$W/pyerr")"
  $LB predict --json --model "$G" --adapter "$W/peft" --max-length 64 --truncation left \
    --input "$VA" --output "$W/peft_pred.jsonl" || fail "$name: predict with PEFT's adapter"
  "$PY" tests/support/arch_interop.py "$2" "$G" "$W" "$VA" "$T/pairs.csv" 2>"$W/pyerr" \
    || fail "$name: interop: $(tail -5 "$W/pyerr")"
  tail -1 "$W/pyerr"
}
