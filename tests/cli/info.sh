#!/usr/bin/env bash
# `lorabert info` on the tiny golden models (tests/golden) and their adapters: sizes, parameter
# counts, labels, tokenizer; bad folders give one line and a non-zero exit.
set -u
source "$(dirname "$0")/../support/cli_base.sh" info
G=tests/golden

$LB info --help | grep -q '^usage: lorabert info' || fail "--help"
$LB info >/dev/null 2>&1; [ $? -eq 2 ] || fail "missing DIR must be a usage error"

out=$($LB info $G/distilbert_tiny/model) || fail "info distilbert_tiny"
echo "$out" | grep -q '^architecture:  DistilBertForSequenceClassification (model_type distilbert)$' || fail "arch: $out"
echo "$out" | grep -q '^layers:        2 x (dim 32, 4 heads, ffn 64)$' || fail "layers: $out"
# 24,162 = transformers' num_parameters() for this config (120*32 + 64*32 + 2 layers + head)
echo "$out" | grep -q '^parameters:    24,162 in 40 tensors$' || fail "params: $out"
echo "$out" | grep -q '^dtypes:        F32 (40 tensors)$' || fail "dtypes: $out"
echo "$out" | grep -q '^labels:        2: 0=Negative, 1=Positive$' || fail "labels: $out"
echo "$out" | grep -q '^tokenizer:     none in this folder$' || fail "tokenizer: $out"
echo "$out" | grep -q '^max length:    64 tokens$' || fail "max length: $out"

out=$($LB info --json $G/bert_tiny/model) || fail "info bert_tiny"
echo "$out" | python3 -c '
import json, sys
o = json.load(sys.stdin)
assert o["model_type"] == "bert" and o["kind"] == "model", o
assert o["layers"] > 0 and o["dim"] > 0 and o["parameters"] > 0 and o["num_labels"] == len(o["labels"]), o
' || fail "json: $out"

SH=${LORABERT_SHARED:-../shared}
if [ -f "$SH/data/tokenizer/vocab.txt" ]; then
  mkdir "$T/m" && cp $G/distilbert_tiny/model/* "$T/m/" && cp "$SH/data/tokenizer/vocab.txt" "$T/m/"
  $LB info "$T/m" | grep -q '^tokenizer:     WordPiece from vocab.txt, vocab 30522, model_max_length 512$' || fail "tokenizer line"
fi

out=$($LB info $G/distilbert_tiny/lora) || fail "info adapter"
echo "$out" | grep -q '^kind:          PEFT adapter (LORA)$' || fail "adapter kind: $out"
echo "$out" | grep -q '^lora:          r=4, alpha=32, dropout=0$' || fail "lora: $out"
echo "$out" | grep -q '^targets:       q_lin$' || fail "targets: $out"

# Bad folders: one line on stderr, non-zero exit.
$LB info /nonexistent/model 2>"$T/err"; rc=$?
[ $rc -eq 3 ] && [ "$(wc -l <"$T/err")" -eq 1 ] || fail "missing dir: rc=$rc $(cat "$T/err")"
mkdir "$T/empty"; $LB info "$T/empty" 2>"$T/err"; [ $? -eq 3 ] && grep -q 'not a model or adapter folder' "$T/err" || fail "empty dir"
mkdir "$T/bad" && cp $G/distilbert_tiny/model/config.json "$T/bad/" && head -c 1000 $G/distilbert_tiny/model/model.safetensors >"$T/bad/model.safetensors"
$LB info "$T/bad" 2>"$T/err"; rc=$?
[ $rc -eq 4 ] && [ "$(wc -l <"$T/err")" -eq 1 ] && grep -q 'model.safetensors' "$T/err" || fail "corrupt safetensors: rc=$rc $(cat "$T/err")"
printf '{"model_type": ' >"$T/bad/config.json"
$LB info "$T/bad" 2>"$T/err"; [ $? -eq 4 ] && grep -q 'config.json: invalid JSON' "$T/err" || fail "bad json: $(cat "$T/err")"
echo "info: ok"
