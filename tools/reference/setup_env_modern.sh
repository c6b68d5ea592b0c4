#!/usr/bin/env bash
# Creates (once) the second pinned reference environment: what only a newer stack has
# (ModernBertForSequenceClassification: transformers >= 4.48; DoRA, LoRA+ and the newer LoRA
# inits: PEFT >= 0.10). The seed's own stack stays tools/reference/setup_env.sh (transformers
# 4.32.1, PEFT 0.6.2): goldens say which environment wrote them (golden_lib.py records the
# versions). Prints the path of the environment's python on success.
set -euo pipefail
ENV_DIR=${LORABERT_REF_ENV_MODERN:-${XDG_CACHE_HOME:-$HOME/.cache}/lorabert/refenv-modern}
STAMP="$ENV_DIR/.lorabert-pins"
PINS="torch==2.15.0 transformers==4.48.3 peft==0.14.0 tokenizers==0.21.0 safetensors==0.4.5 accelerate==1.2.1 huggingface_hub==0.27.1 scikit-learn==1.3.2 pyarrow==19.0.1"
if [ ! -f "$STAMP" ] || [ "$(cat "$STAMP")" != "$PINS" ]; then
  # Shared by every worktree and maybe in use by a long golden run: never deleted, moved to the
  # pins in place under a lock (as setup_env.sh).
  mkdir -p "$(dirname "$ENV_DIR")"
  exec 9>"$ENV_DIR.lock"
  flock 9
  if [ ! -f "$STAMP" ] || [ "$(cat "$STAMP")" != "$PINS" ]; then
    [ -x "$ENV_DIR/bin/python" ] || /usr/bin/python3 -m venv --system-site-packages "$ENV_DIR" >&2
    "$ENV_DIR/bin/pip" install -q --disable-pip-version-check $PINS >&2
    echo "$PINS" > "$STAMP"
  fi
  exec 9>&-
fi
echo "$ENV_DIR/bin/python"
