#!/usr/bin/env bash
# `lorabert predict` without the reference env: the tiny golden DistilBERT (tests/golden) with a
# 120-token vocab labels the five seed sentences (JSON lines, table); bad inputs (missing
# folder, corrupt safetensors, empty text, invalid UTF-8, bad options) give one line on stderr
# and a non-zero exit. Logit parity with transformers is tests/cli/predict_parity.sh.
set -u
source "$(dirname "$0")/../support/cli_base.sh" pred
G=tests/golden/distilbert_tiny
mkdir "$T/m" && cp $G/model/* "$T/m/"
# 120 tokens like the head of BERT's vocab: every word is [UNK] (100), [CLS] 101, [SEP] 102.
{ echo '[PAD]'; for i in $(seq 0 98); do echo "[unused$i]"; done; printf '[UNK]\n[CLS]\n[SEP]\n[MASK]\n';
  for i in $(seq 99 114); do echo "[unused$i]"; done; } >"$T/m/vocab.txt"
seeds=("It was good." "Not a fan, don't recommed." "Better than the first one." \
       "This is not worth watching even once." "This one is a pass.")

$LB predict --help | grep -q '^usage: lorabert predict' || fail "--help"
$LB predict --model "$T/m" "${seeds[@]}" >"$T/out" || fail "predict"
python3 - "$T/out" <<'PYEOF' || fail "output: $(cat "$T/out")"
import json, math, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
assert [r["index"] for r in rows] == [0, 1, 2, 3, 4], rows
for r in rows:
    assert r["label"] in ("Negative", "Positive") and len(r["probs"]) == 2 and len(r["logits"]) == 2, r
    assert abs(sum(r["probs"]) - 1) < 1e-6 and r["score"] == max(r["probs"]), r
    assert r["label"] == ["Negative", "Positive"][r["logits"].index(max(r["logits"]))], r
PYEOF
printf '%s\n' "${seeds[@]}" | $LB predict --json --model "$T/m" >"$T/out2" || fail "stdin"
cmp -s "$T/out" "$T/out2" || fail "stdin and arguments differ"
$LB predict --model "$T/m" --adapter $G/lora "${seeds[@]}" >/dev/null || fail "with the golden adapter"
$LB predict --model "$T/m" --labels bad,good "${seeds[@]}" | grep -c '"label":"\(bad\|good\)"' | grep -qx 5 || fail "--labels"
bad_labels=$($LB predict --model "$T/m" --labels a,b,c "x" 2>&1 >/dev/null); [ -n "$bad_labels" ] || fail "3 labels on a 2-label head"
$LB predict --table --model "$T/m" "${seeds[@]}" >"$T/table" || fail "table"
[ "$(wc -l <"$T/table")" -eq 6 ] && grep -q '  It was good\.$' "$T/table" || fail "table: $(cat "$T/table")"

bad() {  # bad WANT_RC DESCRIPTION CMD...: one stderr line, that exit status
  local want=$1 what=$2; shift 2
  "$@" >/dev/null 2>"$T/err" </dev/null; local rc=$?
  [ $rc -eq "$want" ] || fail "$what: rc=$rc, want $want: $(cat "$T/err")"
  [ "$(wc -l <"$T/err")" -eq 1 ] || fail "$what: want one stderr line, got: $(cat "$T/err")"
}
bad 2 "no --model" $LB predict "text"
bad 3 "missing folder" $LB predict --model /nonexistent/model "text"
bad 2 "empty text" $LB predict --model "$T/m" "good" ""
# A blank stdin line is the empty text (as transformers classifies ""); it never aborts the batch.
printf 'good\n\nbad\n' >"$T/in"; $LB predict --model "$T/m" <"$T/in" >"$T/out" 2>"$T/err"
[ $? -eq 0 ] && [ "$(wc -l <"$T/out")" -eq 3 ] || fail "blank stdin line: $(cat "$T/err") $(cat "$T/out")"
bad 4 "invalid UTF-8" $LB predict --model "$T/m" "ok" "$(printf 'bad \xff byte')"
grep -q 'text 1' "$T/err" || fail "invalid UTF-8 message must name the text: $(cat "$T/err")"
bad 2 "bad batch size" $LB predict --model "$T/m" --batch-size 0 "x"
bad 2 "bad truncation" $LB predict --model "$T/m" --truncation middle "x"
bad 2 "max length over the model's" $LB predict --model "$T/m" --max-length 65 "x"
mkdir "$T/c" && cp "$T/m/config.json" "$T/m/vocab.txt" "$T/c/" && head -c 5000 "$T/m/model.safetensors" >"$T/c/model.safetensors"
bad 4 "corrupt safetensors" $LB predict --model "$T/c" "x"
grep -q 'model.safetensors' "$T/err" || fail "corrupt safetensors message must name the file: $(cat "$T/err")"
bad 3 "adapter folder without adapter_config.json" $LB predict --model "$T/m" --adapter "$T/c" "x"
echo "predict: ok"
