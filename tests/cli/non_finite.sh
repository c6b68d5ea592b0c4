#!/usr/bin/env bash
# Non-finite numbers are errors, never output (issue 10 §4): a tiny DistilBERT whose encoder
# holds one NaN weight gives NaN logits as in torch (its ReLU head used to turn them into finite
# numbers), so `eval` (table and --json) exits 8 printing nothing on stdout, `merge` exits 8 and
# writes nothing, `train` exits 8; the good model's `eval --json` is strict JSON.
set -u
source "$(dirname "$0")/../support/cli_base.sh" nonfin
command -v python3 >/dev/null || { echo "python3 absent (patches the weights)"; exit 77; }
G=tests/golden/distilbert_tiny
mkdir "$T/m" && cp $G/model/* "$T/m/"
{ echo '[PAD]'; for i in $(seq 0 98); do echo "[unused$i]"; done; printf '[UNK]\n[CLS]\n[SEP]\n[MASK]\n';
  for i in $(seq 99 114); do echo "[unused$i]"; done; } >"$T/m/vocab.txt"
cp -r "$T/m" "$T/nan"
python3 - "$T/nan/model.safetensors" <<'PY'
import json, struct, sys
p = sys.argv[1]; b = bytearray(open(p, "rb").read()); n = struct.unpack("<Q", b[:8])[0]
off = 8 + n + json.loads(b[8:8 + n])["distilbert.transformer.layer.0.attention.q_lin.weight"]["data_offsets"][0]
b[off:off + 4] = struct.pack("<f", float("nan")); open(p, "wb").write(b)
PY
printf 'text,label\ngood,1\nbad,0\nfine,1\n' >"$T/d.csv"
strict_json() { python3 -c 'import json,sys
def bad(c): raise ValueError("non-JSON constant " + c)
json.loads(sys.stdin.read(), parse_constant=bad)'; }

# the good model: strict JSON
$LB eval --model "$T/m" --data "$T/d.csv" --json >"$T/out" || fail "eval good model"
strict_json <"$T/out" || fail "eval --json is not strict JSON: $(cat "$T/out")"

# eval: exit 8, one line naming the example, nothing on stdout (no "loss": nan)
for mode in --json ""; do
    $LB eval --model "$T/nan" --data "$T/d.csv" $mode >"$T/out" 2>"$T/err"; rc=$?
    [ $rc -eq 8 ] || fail "eval $mode on NaN weights: rc=$rc $(cat "$T/out" "$T/err")"
    grep -q 'example 0: non-finite logits (nan' "$T/err" || fail "eval $mode message: $(cat "$T/err")"
    [ "$(wc -l <"$T/err")" -eq 1 ] || fail "one line: $(cat "$T/err")"
    [ ! -s "$T/out" ] || fail "eval $mode printed results from NaN logits: $(cat "$T/out")"
done

# merge: exit 8 naming the tensor, --output never appears
$LB merge --model "$T/nan" --adapter $G/lora --output "$T/merged" >"$T/out" 2>"$T/err"; rc=$?
[ $rc -eq 8 ] || fail "merge NaN weights: rc=$rc $(cat "$T/err")"
grep -q 'merged: tensor "distilbert.transformer.layer.0.attention.q_lin.weight" holds a non-finite value (nan' "$T/err" ||
  fail "merge message: $(cat "$T/err")"
[ ! -e "$T/merged" ] || fail "merge wrote $(ls -a "$T/merged")"
ls -a "$T" | grep -q staging && fail "a staging folder was left: $(ls -a "$T")"
# a good merge still works
$LB merge --model "$T/m" --adapter $G/lora --output "$T/merged" >/dev/null 2>"$T/err" || fail "good merge: $(cat "$T/err")"

# train: the first step's loss is NaN: exit 8
$LB train --model "$T/nan" --train "$T/d.csv" --validation "$T/d.csv" --epochs 1 --max-length 16 --threads 2 \
    --output "$T/run" >"$T/out" 2>"$T/err"; rc=$?
[ $rc -eq 8 ] && grep -q 'non-finite loss' "$T/err" || fail "train NaN weights: rc=$rc $(cat "$T/err")"
echo ok
