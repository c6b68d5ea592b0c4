#!/usr/bin/env bash
# `lorabert train --lora-init pissa|olora` (PEFT's inits that rewrite the base weights, issue 16) on
# the tiny DistilBERT: the names in --help; pissa_niter_K and loftq refused as usage errors (exit
# 2), pissa with DoRA refused by name (exit 5) before anything is written; a pissa run's adapter is
# SAVED converted (rank 2r = 8, lora_alpha 64, init_lora_weights true, lora_A [8, in] / lora_B
# [out, 8], the head with them) and fits the ORIGINAL base: `eval` of it and of its `merge` agree
# (loss within 1e-5 relative); olora (with modules_to_save: eval = merge eval too) and bf16 runs
# train; a pissa run stopped by SIGTERM and resumed writes the uninterrupted
# run's adapter bytes (the resume copy restores the rank-r adapter over the same residual, bit for
# bit); a PEFT adapter saved unconverted (init_lora_weights "pissa") is still refused by name.
# With the modern reference env (PEFT 0.14.0): PEFT loads the converted adapter over the original
# base and gives lorabert's `predict` logits within 1e-5. Without that env (and CI unset) that part
# skips.
set -u
source "$(dirname "$0")/../support/cli_common.sh" pissa
head -n 21 "$SHARED/data/imdb/train.csv" >"$T/train.csv"
head -n 11 "$SHARED/data/imdb/validation.csv" >"$T/val.csv"
COMMON=(--model "$M" --train "$T/train.csv" --validation "$T/val.csv" --max-length 64 --threads 2 --epochs 1
  --lr 5e-3 --target-modules q_lin,v_lin,lin1)

$LB train --help 2>&1 | grep -q -- '--lora-init default|gaussian|false|pissa|olora' || fail "train --help lacks pissa|olora"

msg=$($LB train "${COMMON[@]}" --lora-init pissa_niter_4 --output "$T/x" 2>&1); rc=$?
[ $rc -eq 2 ] || fail "--lora-init pissa_niter_4: exit $rc, expected 2"
grep -q "randomized SVD" <<<"$msg" || fail "pissa_niter_4 message: $msg"
msg=$($LB train "${COMMON[@]}" --lora-init loftq --output "$T/x" 2>&1); rc=$?
[ $rc -eq 2 ] || fail "--lora-init loftq: exit $rc, expected 2"
msg=$($LB train "${COMMON[@]}" --lora-init pissa --use-dora --output "$T/x" 2>&1); rc=$?
[ $rc -eq 5 ] || fail "--lora-init pissa --use-dora: exit $rc, expected 5"
grep -q "LoRA init pissa with DoRA (use_dora) is not supported" <<<"$msg" || fail "pissa + DoRA message: $msg"
[ ! -e "$T/x/adapter_model.safetensors" ] || fail "a refused run must not write an adapter"

$LB train "${COMMON[@]}" --lora-init pissa --output "$T/out" >"$T/log" 2>&1 ||
  fail "train --lora-init pissa: $(tail -3 "$T/log")"
python3 - "$T/out" <<'PY' || fail "converted adapter folder"
import json, struct, sys
d = sys.argv[1]
cfg = json.load(open(d + "/adapter_config.json"))
assert cfg["r"] == 8 and cfg["lora_alpha"] == 64 and cfg["init_lora_weights"] is True, cfg
raw = open(d + "/adapter_model.safetensors", "rb").read()
n = struct.unpack("<Q", raw[:8])[0]
h = json.loads(raw[8:8 + n])
meta = h.pop("__metadata__", {})
assert not any(k.startswith("lorabert_") for k in meta), meta  # only the resume copy carries them
a = [k for k in h if ".lora_A." in k]
b = [k for k in h if ".lora_B." in k]
assert len(a) == 6 and len(b) == 6, (a, b)  # 2 layers x q_lin, v_lin, lin1
assert all(h[k]["shape"][0] == 8 for k in a) and all(h[k]["shape"][1] == 8 for k in b), h
assert any("classifier" in k for k in h), "the head travels with the adapter"
print("converted adapter: r 8, alpha 64,", len(a), "modules")
PY

ev=$($LB eval --model "$M" --adapter "$T/out" --data "$T/val.csv" --max-length 64 --json) || fail "eval"
echo "$ev" >"$T/ev.json"
$LB merge --model "$M" --adapter "$T/out" --output "$T/merged" >/dev/null || fail "merge"
evm=$($LB eval --model "$T/merged" --data "$T/val.csv" --max-length 64 --json) || fail "eval merged"
python3 - "$ev" "$evm" <<'PY' || fail "merged eval differs from adapter eval"
import json, sys
a, b = json.loads(sys.argv[1]), json.loads(sys.argv[2])
assert a["n_examples"] == 10 and abs(a["loss"] - b["loss"]) <= 1e-5 * abs(a["loss"]), (a, b)
print("eval loss", a["loss"], "merged", b["loss"])
PY
$LB predict --json --model "$M" --adapter "$T/out" --max-length 64 --truncation left --input "$T/val.csv" \
  --output "$T/pred.jsonl" || fail "predict"

# olora with a LayerNorm trained in full beside it (modules_to_save): its copies travel as trained
$LB train "${COMMON[@]}" --lora-init olora --modules-to-save output_layer_norm --output "$T/olora" >"$T/log" 2>&1 ||
  fail "train --lora-init olora: $(tail -3 "$T/log")"
grep -q '"r": 8' "$T/olora/adapter_config.json" || fail "olora adapter not converted"
ev=$($LB eval --model "$M" --adapter "$T/olora" --data "$T/val.csv" --max-length 64 --json) || fail "eval olora"
$LB merge --model "$M" --adapter "$T/olora" --output "$T/omerged" >/dev/null || fail "merge olora"
evm=$($LB eval --model "$T/omerged" --data "$T/val.csv" --max-length 64 --json) || fail "eval olora merged"
python3 - "$ev" "$evm" <<'PY' || fail "olora: merged eval differs from adapter eval"
import json, sys
a, b = json.loads(sys.argv[1]), json.loads(sys.argv[2])
assert abs(a["loss"] - b["loss"]) <= 1e-5 * abs(a["loss"]), (a, b)
PY
$LB train "${COMMON[@]}" --lora-init pissa --precision bf16 --output "$T/bf16" >"$T/log" 2>&1 ||
  fail "train --lora-init pissa --precision bf16: $(tail -3 "$T/log")"

# a PEFT adapter saved unconverted (fits only PEFT's rewritten base): refused by name
cp -r "$T/out" "$T/unconv"
sed -i 's/"init_lora_weights": true/"init_lora_weights": "pissa"/' "$T/unconv/adapter_config.json"
msg=$($LB eval --model "$M" --adapter "$T/unconv" --data "$T/val.csv" --max-length 64 2>&1); rc=$?
[ $rc -eq 5 ] || fail "unconverted pissa adapter: exit $rc, expected 5"
grep -q 'init_lora_weights "pissa" is not supported: PEFT rewrote the base weights' <<<"$msg" ||
  fail "unconverted pissa message: $msg"

# stopped by a signal after a checkpoint and resumed: the uninterrupted run's adapter, byte for byte
head -n 121 "$SHARED/data/imdb/train.csv" >"$T/train120.csv"
R=(train --model "$M" --train "$T/train120.csv" --validation "$T/val.csv" --max-length 64 --threads 1 --epochs 3
   --batch-size 1 --save-strategy steps --save-steps 10 --eval-strategy steps --eval-steps 10 --target-modules q_lin,lin2
   --lora-init pissa)
$LB "${R[@]}" --output "$T/ra" >"$T/ra.log" 2>&1 || fail "uninterrupted run: $(tail -3 "$T/ra.log")"
$LB "${R[@]}" --output "$T/rb" >"$T/rb.log" 2>&1 &
rpid=$!
for _ in $(seq 600); do grep -q 'saved .*checkpoint-20' "$T/rb.log" 2>/dev/null && break; sleep 0.05; done
kill -TERM $rpid; wait $rpid; rc=$?
[ $rc -eq 9 ] || fail "SIGTERM: rc=$rc (the run ended before the signal?)"
python3 - "$T/rb/resume/adapter_model.safetensors" <<'PY' || fail "resume copy metadata"
import json, struct, sys
raw = open(sys.argv[1], "rb").read()
meta = json.loads(raw[8:8 + struct.unpack("<Q", raw[:8])[0]])["__metadata__"]
assert meta["lorabert_lora_init"] == "pissa" and float(meta["lorabert_lora_alpha"]) == 32, meta
PY
$LB "${R[@]}" --output "$T/rb" --resume "$T/rb/resume" >"$T/rr.log" 2>&1 || fail "resume: $(tail -3 "$T/rr.log")"
cmp -s "$T/ra/adapter_model.safetensors" "$T/rb/adapter_model.safetensors" ||
  fail "the resumed run's adapter differs from the uninterrupted one"

PY=$(bash tools/reference/setup_env_modern.sh 2>/dev/null) || PY=
if [ -z "$PY" ] && [ "${CI:-}" = true ]; then fail "modern reference env required in CI"; fi
[ -n "$PY" ] || { echo "modern reference python env absent: PEFT interop part skipped"; exit 0; }
"$PY" - "$M" "$T/out" "$T/val.csv" "$T/pred.jsonl" <<'PY' 2>"$T/pyerr" || fail "PEFT 0.14 loads the adapter: $(tail -5 "$T/pyerr")"
import csv, json, sys, warnings
warnings.filterwarnings("ignore")
import torch
torch.set_num_threads(1)
from transformers import AutoModelForSequenceClassification, AutoTokenizer, logging
from peft import PeftModel
logging.set_verbosity_error()
model_dir, adapter, data, pred = sys.argv[1:5]
rows = list(csv.DictReader(open(data, newline="", encoding="utf-8")))
tok = AutoTokenizer.from_pretrained(model_dir)
tok.truncation_side = "left"
model = PeftModel.from_pretrained(AutoModelForSequenceClassification.from_pretrained(model_dir, num_labels=2), adapter)
assert model.peft_config["default"].r == 8
model.eval()
ours = [json.loads(l)["logits"] for l in open(pred)]
worst = 0.0
with torch.no_grad():
    for r, o in zip(rows, ours):
        lg = model(**tok(r["text"], truncation=True, max_length=64, return_tensors="pt")).logits[0].tolist()
        worst = max(worst, max(abs(x - y) for x, y in zip(lg, o)))
print("PEFT 0.14 vs lorabert predict logits:", worst)
assert len(ours) == len(rows) == 10 and worst <= 1e-5, worst
PY
echo "pissa ok"
