#!/usr/bin/env bash
# Creates (once) the second pinned reference environment: what only a newer stack has
# (ModernBertForSequenceClassification: transformers >= 4.48; DoRA, LoRA+ and the newer LoRA
# inits: PEFT >= 0.10). The seed's own stack stays tools/reference/setup_env.sh (transformers
# 4.32.1, PEFT 0.6.2): goldens say which environment wrote them (golden_lib.py records the
# versions). Prints the path of the environment's python on success.
set -euo pipefail
ENV_DIR=${LORABERT_REF_ENV_MODERN:-${XDG_CACHE_HOME:-$HOME/.cache}/lorabert/refenv-modern}
PINS="torch==2.15.0 transformers==4.48.3 peft==0.14.0 tokenizers==0.21.0 safetensors==0.4.5 accelerate==1.2.1 huggingface_hub==0.27.1 scikit-learn==1.3.2 pyarrow==19.0.1"
# shellcheck source=tools/reference/pinned_venv.sh
source "$(dirname "$0")/pinned_venv.sh"
lb_pinned_venv "$ENV_DIR" "$PINS" system-site
echo "$ENV_DIR/bin/python"
