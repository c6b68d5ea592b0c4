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
source "$(dirname "$0")/../support/arch_walk.sh"
arch_data
arch_ref_env setup_env_modern.sh "modern reference env"

for case in modernbert_tiny:Wqkv,Wo,Wi:Wqkv,Wi: modernbert_mean:Wqkv,mlp.Wo:attn.Wo:3; do
  IFS=: read -r name targets peft_targets k <<<"$case"
  arch_case "$name" "$k"
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

  arch_train_walk "$targets" Wqkv
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
  arch_serve

  [ -n "$PY" ] || continue
  # PEFT 0.14 trains an adapter; lorabert must give PEFT's logits with it
  arch_peft_interop "${peft_targets%,}" modernbert
done
[ -n "$PY" ] || { echo "modern reference python env absent: interop part skipped"; exit 0; }
echo "modernbert: ok"
