#!/usr/bin/env bash
# RoBERTa (byte-level BPE) and XLM-RoBERTa (Unigram) end to end on the small golden models
# (tests/golden/roberta_tiny, xlmr_tiny: model/ with its tokenizer.json): `lorabert info`, `train`
# (the adapter folder carries the tokenizer), `eval`, `predict` (single texts and --input pairs,
# <s> A </s></s> B </s>), `merge`, `serve` (raw scores == predict logits), and both directions of PEFT interop with the reference env:
# PEFT + transformers load lorabert's adapter and merged model (eval loss within 1e-5 relative,
# predict logits within 1e-4 of transformers'), and lorabert runs a PEFT-trained adapter (logits
# within 1e-5 of PEFT's). The HF side tokenizes with AutoTokenizer on the model folder (the class
# it builds may override tokenizer.json, as RobertaTokenizerFast's add_prefix_space). Without the reference env (and CI unset) the interop part is skipped.
set -u
source "$(dirname "$0")/../support/cli_common.sh" roberta
source "$(dirname "$0")/../support/arch_walk.sh"
arch_data
arch_ref_env setup_env.sh "reference env"

for case in roberta_tiny:RobertaForSequenceClassification:BPE: xlmr_tiny:XLMRobertaForSequenceClassification:Unigram:3; do
  IFS=: read -r name cls tokkind k <<<"$case"
  arch_case "$name" "$k"
  # info: the class, the tokenizer kind and the 64-token limit (66 positions - pad 1 - 1)
  info=$($LB info "$G" --json) || fail "$name: info"
  python3 - "$info" "$cls" "$tokkind" <<'PY' || fail "$name: info JSON: $info"
import json, sys
i, cls, kind = json.loads(sys.argv[1]), sys.argv[2], sys.argv[3]
assert i["architecture"] == cls and i["max_length"] == 64 and i["max_position_embeddings"] == 66, i
assert i["tokenizer"].startswith(kind + " from tokenizer.json"), i["tokenizer"]
PY
  # a --max-length past the positions is refused before anything runs
  $LB train --model "$G" --train "$TR" "${LABELS[@]}" --no-eval --max-length 65 --output "$W/never" >/dev/null 2>"$W/err"; rc=$?
  [ $rc -eq 2 ] && grep -q 'pad_token_id' "$W/err" || fail "$name: --max-length 65: rc=$rc $(cat "$W/err")"
  $LB train --model "$G" --train "$TR" "${LABELS[@]}" --no-eval --target-modules dense --output "$W/never" >/dev/null 2>"$W/err"; rc=$?
  [ $rc -ne 0 ] && grep -q 'classifier.dense' "$W/err" || fail "$name: target dense: rc=$rc $(cat "$W/err")"

  arch_train_walk query,value,intermediate.dense intermediate.dense
  arch_serve

  [ -n "$PY" ] || continue
  # PEFT trains an adapter; lorabert must give PEFT's logits with it
  arch_peft_interop query,key,value auto
done
[ -n "$PY" ] || { echo "reference python env absent: interop part skipped"; exit 0; }
echo "roberta: ok"
