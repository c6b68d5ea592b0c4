#!/usr/bin/env bash
# `lorabert predict` logits equal transformers' (eval mode) within 1e-4 for a random DistilBERT
# with the real 30522-token vocab, with and without a PEFT LoRA adapter, with left/right
# truncation, from arguments and stdin, for several batch sizes. The model, adapter and the
# expected logits are made at test time by tools/reference/predict_golden.py (real transformers
# 4.32.1 + peft 0.6.2). Skips when the reference env or ../shared is absent (runs when CI=true).
set -u
source "$(dirname "$0")/../support/cli_base.sh" predict
[ -f "$SHARED/data/tokenizer/vocab.txt" ] || { echo "shared data absent ($SHARED): set LORABERT_SHARED"; exit 77; }
need_ref_py "transformers, peft"
"$PY" tools/reference/predict_golden.py "$T" "$SHARED/data/tokenizer/vocab.txt" 2>"$T/py.err" || { cat "$T/py.err"; fail "reference script"; }

# compare KEY FILE: lorabert's JSON lines in FILE against expected.json[KEY]
compare() {
  python3 - "$T/expected.json" "$1" "$2" <<'PYEOF'
import json, math, sys
exp = json.load(open(sys.argv[1]))[sys.argv[2]]
got = [json.loads(l) for l in open(sys.argv[3])]
assert len(got) == len(exp), "%d results, want %d" % (len(got), len(exp))
worst = 0.0
for i, (g, e) in enumerate(zip(got, exp)):
    assert g["index"] == i, g
    d = max(abs(a - b) for a, b in zip(g["logits"], e))
    worst = max(worst, d)
    assert d <= 1e-4, "text %d: logits %s, transformers %s (diff %.3g)" % (i, g["logits"], e, d)
    m = max(e); z = [math.exp(x - m) for x in e]; p = [x / sum(z) for x in z]
    assert max(abs(a - b) for a, b in zip(g["probs"], p)) <= 1e-4, (g["probs"], p)
    best = max(range(len(e)), key=lambda k: (g["logits"][k], -k))
    assert g["label"] == ["Negative", "Positive"][best] and abs(g["score"] - g["probs"][best]) < 1e-12, g
print("%s: max |logit diff| %.3g over %d texts" % (sys.argv[2], worst, len(got)))
PYEOF
}
mapfile -t texts < <(python3 -c 'import json,sys; print("\n".join(json.load(open(sys.argv[1]))["texts"]))' "$T/expected.json")

$LB predict --json --model "$T/model" "${texts[@]}" >"$T/base.jsonl" || fail "predict base"
compare base "$T/base.jsonl" || fail "base model logits"
for bs in 1 4 32; do
  $LB predict --json --batch-size $bs --model "$T/model" --adapter "$T/adapter" "${texts[@]}" >"$T/ad.jsonl" || fail "predict adapter bs=$bs"
  compare adapter "$T/ad.jsonl" || fail "adapter logits (batch size $bs)"
done
printf '%s\n' "${texts[@]}" | $LB predict --json --model "$T/model" --adapter "$T/adapter" >"$T/stdin.jsonl" || fail "stdin"
compare adapter "$T/stdin.jsonl" || fail "stdin logits"
$LB predict --json --max-length 16 --truncation left --model "$T/model" --adapter "$T/adapter" "${texts[@]}" >"$T/l.jsonl" || fail "left"
compare left16 "$T/l.jsonl" || fail "left truncation"
$LB predict --json --max-length 16 --truncation right --model "$T/model" --adapter "$T/adapter" "${texts[@]}" >"$T/r.jsonl" || fail "right"
compare right16 "$T/r.jsonl" || fail "right truncation"

# Tokenizer files in the adapter folder win over the model's: a vocab of [UNK]s changes the result.
cp -r "$T/adapter" "$T/adapter2" && head -n 200 "$SHARED/data/tokenizer/vocab.txt" >"$T/adapter2/vocab.txt"
$LB predict --json --model "$T/model" --adapter "$T/adapter2" "${texts[@]}" >"$T/ad2.jsonl" || fail "adapter2"
if compare adapter "$T/ad2.jsonl" >/dev/null 2>&1; then fail "the adapter's own tokenizer was not used"; fi

# The table on request.
$LB predict --table --model "$T/model" --adapter "$T/adapter" "${texts[@]:0:5}" >"$T/table" || fail "table"
[ "$(wc -l <"$T/table")" -eq 6 ] && head -1 "$T/table" | grep -q 'index  label' || fail "table: $(cat "$T/table")"
echo "predict_parity: ok"
