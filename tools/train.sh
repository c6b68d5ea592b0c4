#!/usr/bin/env bash
# The README's main-job command: install dependencies, build, run `lorabert train` with its
# defaults (distilbert-base-uncased + LoRA on shawhin/imdb-truncated; needs the HF Hub or a
# populated HF cache). Extra arguments are passed to `lorabert train`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/install-deps.sh
make -j"$(nproc)" MODE=release
exec build/release/lorabert train "$@"
