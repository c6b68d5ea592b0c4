#!/usr/bin/env bash
# Creates (once) the pinned Python reference environment used to write golden files.
# torch is pinned from PyPI (PEFT needs torch >= 1.13.0, which Debian's 1.13.0a0 build does not satisfy);
# the HF packages are the notebook's stack (transformers 4.32.1),
# with PEFT >= 0.6 so the original head is frozen as in modern PEFT).
# sentencepiece + protobuf: make_tokenizer_files.py trains and converts an XLM-R-style file.
# Prints the path of the environment's python on success.
set -euo pipefail
ENV_DIR=${LORABERT_REF_ENV:-${XDG_CACHE_HOME:-$HOME/.cache}/lorabert/refenv}
PINS="torch==2.15.0 transformers==4.32.1 peft==0.6.2 tokenizers==0.13.3 safetensors==0.3.3 accelerate==0.22.0 huggingface_hub==0.17.3 scikit-learn==1.3.2 pyarrow==19.0.1"
# Only the tokenizer files need these; kept off the PINS line, which versions the model goldens.
TOKENIZER_PINS="sentencepiece==0.1.99 protobuf==3.20.3"
ALL_PINS="$PINS $TOKENIZER_PINS"
# shellcheck source=tools/reference/pinned_venv.sh
source "$(dirname "$0")/pinned_venv.sh"
lb_pinned_venv "$ENV_DIR" "$ALL_PINS" system-site
echo "$ENV_DIR/bin/python"
