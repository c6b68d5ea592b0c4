#!/usr/bin/env bash
# `lorabert predict` on a real pretrained checkpoint equals transformers on every IMDb review of
# ../shared/data/imdb/{train,validation}.csv (2000 texts, max_length 512, left truncation):
# max |logit diff| <= 1e-4 and the same label for every text. The model folder is made by
# tools/reference/real_model.sh (all-MiniLM-L6-v2 + a seeded new head, identical for both);
# the oracle is tools/reference/real_logits.py (transformers 4.32.1, one text per forward).
# Opt-in: runs when LORABERT_REAL_MODEL=DIR names that folder, skips with a message otherwise.
# LORABERT_REAL_EXPECTED=FILE reuses an oracle file real_logits.py wrote for the same folder.
set -u
source "$(dirname "$0")/../support/cli_base.sh" real
PY=${LORABERT_REF_PY:-${XDG_CACHE_HOME:-$HOME/.cache}/lorabert/refenv/bin/python}
DIR=${LORABERT_REAL_MODEL:-}
[ -n "$DIR" ] || { echo "LORABERT_REAL_MODEL unset: make a folder with tools/reference/real_model.sh DIR and set it"; exit 77; }
[ -f "$DIR/model.safetensors" ] || { echo "LORABERT_REAL_MODEL=$DIR has no model.safetensors (tools/reference/real_model.sh DIR)"; exit 77; }
[ -f "$SHARED/data/imdb/train.csv" ] || { echo "shared data absent ($SHARED): set LORABERT_SHARED"; exit 77; }
EXP=${LORABERT_REAL_EXPECTED:-}
if [ -z "$EXP" ]; then
  if ! [ -x "$PY" ] || ! "$PY" -c 'import transformers' 2>/dev/null; then
    echo "reference env absent: run tools/reference/setup_env.sh"; exit 77
  fi
  EXP=$T/expected.json
  "$PY" tools/reference/real_logits.py "$DIR" "$EXP" "$SHARED/data/imdb/train.csv" "$SHARED/data/imdb/validation.csv" \
    2>"$T/py.err" || { tail -5 "$T/py.err"; fail "reference script"; }
fi
# The texts, one per line, in the oracle's order (the reviews hold no newlines).
python3 -c 'import json,sys; sys.stdout.write("".join(t + "\n" for t in json.load(open(sys.argv[1]))["texts"]))' \
  "$EXP" >"$T/texts" || fail "oracle $EXP unreadable"
start=$(date +%s.%N)
$LB predict --json --max-length 512 --truncation left --model "$DIR" <"$T/texts" >"$T/got.jsonl" 2>"$T/lb.err" ||
  { cat "$T/lb.err"; fail "lorabert predict"; }
end=$(date +%s.%N)
python3 - "$EXP" "$T/got.jsonl" "$start" "$end" <<'PYEOF' || fail "logits differ from transformers"
import json, sys
exp = json.load(open(sys.argv[1]))
got = [json.loads(l) for l in open(sys.argv[2])]
assert len(got) == len(exp["logits"]), "%d results, want %d" % (len(got), len(exp["logits"]))
worst, at = 0.0, -1
for i, (g, e) in enumerate(zip(got, exp["logits"])):
    assert g["index"] == i, g
    d = max(abs(a - b) for a, b in zip(g["logits"], e))
    if d > worst:
        worst, at = d, i
    want = max(range(len(e)), key=lambda k: (e[k], -k))
    assert g["label"] == ["Negative", "Positive"][want], "text %d: label %s, transformers %d (logits %s vs %s)" % (
        i, g["label"], want, g["logits"], e)
print("real_model: max |logit diff| %.3g (text %d, %d tokens) over %d texts; lorabert predict %.1f s" % (
    worst, at, exp["lengths"][at], len(got), float(sys.argv[4]) - float(sys.argv[3])))
assert worst <= 1e-4, "max |logit diff| %.3g > 1e-4 at text %d" % (worst, at)
PYEOF
echo "real_model: ok"
