#!/usr/bin/env bash
# ModernBERT end to end on the small golden models (tests/golden/modernbert_tiny: cls pooling;
# modernbert_mean: mean pooling, 3 classes; both with the ModernBERT-style byte-level BPE
# tokenizer.json, [CLS] $A [SEP]): `lorabert info`, `train` (LoRA on Wqkv, attn.Wo / mlp.Wo, Wi;
# the adapter folder carries the tokenizer), `eval`, `predict` (texts and --input pairs), `merge`
# (eval loss equal), `serve` (raw scores == predict logits), and both directions of PEFT interop
# with the second reference env (transformers 4.48.3 + PEFT 0.14.0, setup_env_modern.sh): PEFT +
# transformers load lorabert's adapter and merged model (eval loss within 1e-5 relative, predict
# logits within 1e-4), and lorabert runs a PEFT-trained adapter (logits within 1e-5 of PEFT's).
# The HF side tokenizes with PreTrainedTokenizerFast on the same tokenizer.json. Without that env
# (and CI unset) the interop part is skipped.
set -u
source "$(dirname "$0")/../support/cli_common.sh" modernbert
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
for f in train val; do
  python3 -c 'import csv,sys
r = list(csv.DictReader(open(sys.argv[1], newline="", encoding="utf-8")))
w = csv.writer(open(sys.argv[2], "w", newline="", encoding="utf-8")); w.writerow(["label", "text"])
for i, x in enumerate(r): w.writerow([i % 3, x["text"]])' "$T/$f.csv" "$T/${f}3.csv"
done
PY=$(bash tools/reference/setup_env_modern.sh 2>/dev/null) || PY=
if [ -z "$PY" ] && [ "${CI:-}" = true ]; then fail "modern reference env required in CI"; fi

for case in modernbert_tiny:Wqkv,Wo,Wi:Wqkv,Wi: modernbert_mean:Wqkv,mlp.Wo:attn.Wo:3; do
  IFS=: read -r name targets peft_targets k <<<"$case"
  TR=$T/train$k.csv VA=$T/val$k.csv LABELS=(--labels Negative,Positive)
  [ "$k" = 3 ] && LABELS=(--labels LABEL_0,LABEL_1,LABEL_2)
  G=tests/golden/$name/model
  W=$T/$name
  mkdir -p "$W"
  info=$($LB info "$G" --json) || fail "$name: info"
  python3 - "$info" <<'PY' || fail "$name: info JSON: $info"
import json, sys
i = json.loads(sys.argv[1])
assert i["architecture"] == "ModernBertForSequenceClassification" and i["model_type"] == "modernbert", i
assert i["max_length"] == 64 and i["layers"] == 3 and i["tokenizer"].startswith("BPE from tokenizer.json"), i
PY
  # ModernBERT has no separate query/key/value projections, and PEFT's all-linear would take head.dense
  $LB train --model "$G" --train "$TR" "${LABELS[@]}" --no-eval --target-modules query --output "$W/never" \
    >/dev/null 2>"$W/err"; rc=$?
  [ $rc -eq 2 ] && grep -q 'Wqkv' "$W/err" || fail "$name: target query: rc=$rc $(cat "$W/err")"
  $LB train --model "$G" --train "$TR" "${LABELS[@]}" --no-eval --target-modules all-linear --output "$W/never" \
    >/dev/null 2>"$W/err"; rc=$?
  [ $rc -ne 0 ] && grep -q 'head.dense' "$W/err" || fail "$name: all-linear: rc=$rc $(cat "$W/err")"
  $LB train --model "$G" --train "$TR" "${LABELS[@]}" --no-eval --max-length 65 --output "$W/never" \
    --target-modules Wqkv >/dev/null 2>"$W/err"; rc=$?
  [ $rc -eq 2 ] || fail "$name: --max-length 65: rc=$rc $(cat "$W/err")"

  COMMON=(--model "$G" --train "$TR" --validation "$VA" "${LABELS[@]}" --max-length 64 --threads 2)
  $LB train "${COMMON[@]}" --epochs 2 --target-modules "$targets" --output "$W/out" \
    >"$W/train.log" 2>&1 || fail "$name: train: $(tail -3 "$W/train.log")"
  for f in adapter_config.json adapter_model.safetensors tokenizer.json labels.json trainer_state.json; do
    [ -f "$W/out/$f" ] || fail "$name: adapter folder lacks $f"
  done
  grep -q '"Wqkv"' "$W/out/adapter_config.json" || fail "$name: target names in adapter_config.json"
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
  # bf16 mode runs and stays near fp32 (the frozen GEMMs' operands rounded to bf16)
  $LB predict --json --model "$G" --adapter "$W/out" --max-length 64 --truncation left --precision bf16 \
    --input "$VA" --output "$W/pred_bf16.jsonl" || fail "$name: predict bf16"
  python3 - "$W/pred.jsonl" "$W/pred_bf16.jsonl" <<'PY' || fail "$name: bf16 predictions far from fp32"
import json, sys
a = [json.loads(l)["logits"] for l in open(sys.argv[1])]
b = [json.loads(l)["logits"] for l in open(sys.argv[2])]
d = max(abs(x - y) for r, s in zip(a, b) for x, y in zip(r, s))
assert len(a) == len(b) == 20 and 0 < d < 0.05, d
PY

  # serve: the base and the adapter over HTTP give predict's logits
  : >"$W/serve.log"
  $LB serve --model "$G" --adapter a="$W/out" --port 0 --threads 2 2>"$W/serve.log" &
  spid=$!
  PORT=
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
labels = json.loads(info)["labels"]
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
PY
  kill -TERM $spid; wait $spid || fail "$name: serve exit status $? after SIGTERM"

  [ -n "$PY" ] || continue
  # PEFT 0.14 trains an adapter; lorabert must give PEFT's logits with it
  "$PY" tools/reference/peft_interop.py train-adapter --model "$G" --out "$W/peft" --targets "${peft_targets%,}" \
    --steps 5 --seed 3 2>"$W/pyerr" >/dev/null || fail "$name: PEFT train-adapter: $(tail -3 "$W/pyerr")"
  $LB predict --json --model "$G" --adapter "$W/peft" --max-length 64 --truncation left \
    --input "$VA" --output "$W/peft_pred.jsonl" || fail "$name: predict with PEFT's adapter"
  "$PY" - "$G" "$W" "$VA" "$T/pairs.csv" <<'PY' 2>"$W/pyerr" || fail "$name: interop: $(tail -5 "$W/pyerr")"
import csv, json, os, sys, warnings
warnings.filterwarnings("ignore")
import torch
from transformers import AutoModelForSequenceClassification, PreTrainedTokenizerFast, logging
from peft import PeftModel
logging.set_verbosity_error()
torch.set_num_threads(1)
model_dir, w, data, pairs = sys.argv[1:5]
rows = list(csv.DictReader(open(data, newline="", encoding="utf-8")))
prow = list(csv.DictReader(open(pairs, newline="", encoding="utf-8")))
tok = PreTrainedTokenizerFast(tokenizer_file=os.path.join(model_dir, "tokenizer.json"), unk_token="[UNK]",
                              cls_token="[CLS]", sep_token="[SEP]", pad_token="[PAD]", mask_token="[MASK]")
def load(path):
    return AutoModelForSequenceClassification.from_pretrained(path, attn_implementation="eager")
def logits(model, texts, pair=None, side="left"):
    tok.truncation_side = side
    model.eval()
    out = []
    with torch.no_grad():
        for i, t in enumerate(texts):
            enc = tok(t, pair[i] if pair else None, truncation=True, max_length=64, return_tensors="pt")
            enc.pop("token_type_ids", None)
            out.append(model(**enc).logits[0].tolist())
    return out
def ours(path):
    return [json.loads(l)["logits"] for l in open(path)]
def worst(a, b):
    return max(abs(x - y) for r, s in zip(a, b) for x, y in zip(r, s))
texts = [r["text"] for r in rows]
labels = [int(r["label"]) for r in rows]
def mean_loss(lg):
    return sum(float(torch.nn.functional.cross_entropy(torch.tensor([l]), torch.tensor([y])))
               for l, y in zip(lg, labels)) / len(labels)
ev = json.load(open(os.path.join(w, "ev.json")))
# lorabert's adapter in PEFT, lorabert's merged model in transformers
m = PeftModel.from_pretrained(load(model_dir), os.path.join(w, "out"))
lp = logits(m, texts)
assert abs(mean_loss(lp) - ev["loss"]) <= 1e-5 * abs(ev["loss"]), ("PEFT eval loss", mean_loss(lp), ev["loss"])
d = worst(lp, ours(os.path.join(w, "pred.jsonl")))
assert d <= 1e-4, ("predict logits vs PEFT", d)
pl = logits(m, [r["text"] for r in prow], [r["pair"] for r in prow], side="right")
dp = worst(pl, ours(os.path.join(w, "pairs.jsonl")))
assert dp <= 1e-4, ("pair logits vs PEFT", dp)
mm = load(os.path.join(w, "merged"))
lm = logits(mm, texts)
assert abs(mean_loss(lm) - ev["loss"]) <= 1e-5 * abs(ev["loss"]), ("merged eval loss", mean_loss(lm), ev["loss"])
# PEFT's adapter in lorabert
pm = PeftModel.from_pretrained(load(model_dir), os.path.join(w, "peft"))
dq = worst(logits(pm, texts), ours(os.path.join(w, "peft_pred.jsonl")))
assert dq <= 1e-5, ("PEFT-trained adapter logits in lorabert", dq)
print(f"{os.path.basename(w)}: predict {d:.3g}, pairs {dp:.3g}, PEFT adapter {dq:.3g}")
PY
  tail -1 "$W/pyerr"
done
[ -n "$PY" ] || { echo "modern reference python env absent: interop part skipped"; exit 0; }
echo "modernbert: ok"
