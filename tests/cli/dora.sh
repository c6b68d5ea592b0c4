#!/usr/bin/env bash
# DoRA (--use-dora, PEFT use_dora) end to end on the small RoBERTa golden model
# (tests/golden/roberta_tiny/model, with its tokenizer.json): `train --use-dora` writes a PEFT
# adapter with use_dora true and one lora_magnitude_vector per adapted linear; `eval` of the
# adapter and of its `merge` agree (loss within 1e-5 relative); `serve` refuses a DoRA adapter
# among many adapters by name; `--help` documents the flag. With the modern reference env
# (tools/reference/setup_env_modern.sh, PEFT 0.14.0): PEFT loads lorabert's adapter (predict
# logits within 1e-4 of PEFT's, eval loss within 1e-5), transformers loads the merged model, and
# lorabert runs a PEFT-trained DoRA adapter (logits within 1e-5 of PEFT's). Without that env (and
# CI unset) the interop part is skipped.
set -u
source "$(dirname "$0")/../support/cli_common.sh" dora
head -n 41 "$SHARED/data/imdb/train.csv" >"$T/train.csv"
head -n 21 "$SHARED/data/imdb/validation.csv" >"$T/val.csv"
G=tests/golden/roberta_tiny/model
W=$T/w
mkdir -p "$W"
LABELS=(--labels Negative,Positive)

$LB train --help 2>&1 | grep -q -- '--use-dora' || fail "train --help lacks --use-dora"

COMMON=(--model "$G" --train "$T/train.csv" --validation "$T/val.csv" "${LABELS[@]}" --max-length 64 --threads 2)
$LB train "${COMMON[@]}" --epochs 2 --lr 5e-3 --use-dora --target-modules query,value,intermediate.dense \
  --output "$W/out" >"$W/train.log" 2>&1 || fail "train --use-dora: $(tail -3 "$W/train.log")"
python3 - "$W/out" <<'PY' || fail "adapter folder"
import json, struct, sys
d = sys.argv[1]
c = json.load(open(d + "/adapter_config.json"))
assert c["use_dora"] is True and c["peft_type"] == "LORA", c
with open(d + "/adapter_model.safetensors", "rb") as f:
    n = struct.unpack("<Q", f.read(8))[0]
    keys = [k for k in json.loads(f.read(n)) if k != "__metadata__"]
mags = [k for k in keys if k.endswith(".lora_magnitude_vector")]
assert len(mags) == 2 * 3, mags  # 2 layers x (query, value, intermediate.dense)
print("adapter: use_dora true,", len(mags), "magnitudes")
PY

ev=$($LB eval --model "$G" --adapter "$W/out" --data "$T/val.csv" --max-length 64 --truncation left --json) \
  || fail "eval"
echo "$ev" >"$W/ev.json"
$LB merge --model "$G" --adapter "$W/out" --output "$W/merged" >/dev/null || fail "merge"
evm=$($LB eval --model "$W/merged" --data "$T/val.csv" --max-length 64 --truncation left --json) || fail "eval merged"
python3 - "$ev" "$evm" <<'PY' || fail "merged eval differs from adapter eval"
import json, sys
a, b = json.loads(sys.argv[1]), json.loads(sys.argv[2])
assert a["n_examples"] == 20 and abs(a["loss"] - b["loss"]) <= 1e-5 * abs(a["loss"]), (a, b)
PY
$LB predict --json --model "$G" --adapter "$W/out" --max-length 64 --truncation left \
  --input "$T/val.csv" --output "$W/pred.jsonl" || fail "predict"

# many adapters over one base: a DoRA adapter is refused by name
$LB serve --model "$G" --adapter a="$W/out" --port 0 --threads 2 >/dev/null 2>"$W/serve.err" &
spid=$!
for _ in $(seq 300); do kill -0 $spid 2>/dev/null || break; sleep 0.1; done
if kill -0 $spid 2>/dev/null; then
  kill $spid
  fail "serve started with a DoRA adapter among its adapters"
fi
wait $spid
rc=$?
[ $rc -eq 5 ] && grep -q 'DoRA' "$W/serve.err" || fail "serve with a DoRA adapter: rc=$rc $(cat "$W/serve.err")"

PY=$(bash tools/reference/setup_env_modern.sh 2>/dev/null) || PY=
if [ -z "$PY" ] && [ "${CI:-}" = true ]; then fail "modern reference env required in CI"; fi
[ -n "$PY" ] || { echo "modern reference python env absent: interop part skipped"; exit 0; }
"$PY" tools/reference/peft_interop.py train-adapter --model "$G" --out "$W/peft" --targets query,value,output.dense \
  --steps 5 --seed 3 --use-dora 2>"$W/pyerr" >/dev/null || fail "PEFT train-adapter --use-dora: $(tail -3 "$W/pyerr")"
$LB predict --json --model "$G" --adapter "$W/peft" --max-length 64 --truncation left \
  --input "$T/val.csv" --output "$W/peft_pred.jsonl" || fail "predict with PEFT's DoRA adapter"
"$PY" - "$G" "$W" "$T/val.csv" <<'PY' 2>"$W/pyerr" || fail "interop: $(tail -5 "$W/pyerr")"
import csv, json, os, sys, warnings
warnings.filterwarnings("ignore")
import torch
torch.set_num_threads(1)
import peft
from transformers import AutoModelForSequenceClassification, PreTrainedTokenizerFast, logging
from peft import PeftModel
logging.set_verbosity_error()
model_dir, w, data = sys.argv[1:4]
rows = list(csv.DictReader(open(data, newline="", encoding="utf-8")))
tok = PreTrainedTokenizerFast(tokenizer_file=os.path.join(model_dir, "tokenizer.json"), bos_token="<s>",
                              eos_token="</s>", unk_token="<unk>", sep_token="</s>", cls_token="<s>",
                              pad_token="<pad>", mask_token="<mask>")
tok.truncation_side = "left"
def logits(model, texts):
    model.eval()
    with torch.no_grad():
        return [model(**tok(t, truncation=True, max_length=64, return_tensors="pt")).logits[0].tolist() for t in texts]
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
m = PeftModel.from_pretrained(AutoModelForSequenceClassification.from_pretrained(model_dir), os.path.join(w, "out"))
assert m.peft_config["default"].use_dora
lp = logits(m, texts)
assert abs(mean_loss(lp) - ev["loss"]) <= 1e-5 * abs(ev["loss"]), ("PEFT eval loss", mean_loss(lp), ev["loss"])
d = worst(lp, ours(os.path.join(w, "pred.jsonl")))
assert d <= 1e-4, ("predict logits vs PEFT", d)
mm = AutoModelForSequenceClassification.from_pretrained(os.path.join(w, "merged"))
lm = logits(mm, texts)
assert abs(mean_loss(lm) - ev["loss"]) <= 1e-5 * abs(ev["loss"]), ("merged eval loss", mean_loss(lm), ev["loss"])
pm = PeftModel.from_pretrained(AutoModelForSequenceClassification.from_pretrained(model_dir), os.path.join(w, "peft"))
dq = worst(logits(pm, texts), ours(os.path.join(w, "peft_pred.jsonl")))
assert dq <= 1e-5, ("PEFT-trained DoRA adapter logits in lorabert", dq)
print(f"PEFT {peft.__version__}: lorabert's DoRA adapter {d:.3g}, PEFT's DoRA adapter in lorabert {dq:.3g}")
PY
tail -1 "$W/pyerr"
echo "dora: ok"
