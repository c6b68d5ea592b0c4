#!/usr/bin/env bash
# The README's test command: install dependencies, build (release + ASan/UBSan), create the
# pinned reference environment, generate full-size golden files, run every test.
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/install-deps.sh
bash tools/reference/setup_env.sh >/dev/null   # pinned HF stack for parity tests (created once)
bash tools/reference/setup_env_modern.sh >/dev/null   # the second one (ModernBERT: transformers 4.48.3, PEFT 0.14.0)
make -j2 MODE=release tests
make -j2 MODE=asan tests
if [ -x tools/reference/full_goldens.sh ]; then
  export LORABERT_FULL_GOLDEN=${LORABERT_FULL_GOLDEN:-${XDG_CACHE_HOME:-$HOME/.cache}/lorabert/golden-full}
  bash tools/reference/full_goldens.sh "$LORABERT_FULL_GOLDEN"
fi
# tokenizers' ids for the BPE / Unigram differential (tests/unit/test_tokenizer_pipeline.c).
bash tools/reference/tokenizer_oracle.sh
# The CLI's main paths under valgrind memcheck (AVX2 build: valgrind does not decode AVX-512).
make valgrind
# Every parser's libFuzzer harness, briefly, on its seed corpus (a crash fails the run).
make fuzz FUZZ_SECONDS=${FUZZ_SECONDS:-30}
tests/run
