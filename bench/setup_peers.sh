#!/usr/bin/env bash
# Creates (once) the benchmark's peer environment and prints its python.
# It is a small venv layered on the pinned reference env (tools/reference/setup_env.sh): a .pth
# file puts the ref env's site-packages (torch, transformers, peft, tokenizers, numpy) on its
# path, and the venv itself holds only the ONNX pieces. The ref env is never modified (onnx's
# newer releases would pull numpy 2 into it and break its scikit-learn pin).
set -euo pipefail
cd "$(dirname "$0")/.."
REF_PY=$(bash tools/reference/setup_env.sh)
REF_SITE=$("$REF_PY" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
ENV_DIR=${LORABERT_BENCH_ENV:-${XDG_CACHE_HOME:-$HOME/.cache}/lorabert/bench-peers}
# ml_dtypes: onnxruntime.quantization imports it (quantize_dynamic, the onnxruntime_int8 peer).
PINS="onnxruntime==1.31.1 onnx==1.17.0 protobuf==5.29.5 flatbuffers==25.12.19 ml_dtypes==0.5.1"
STAMP="$ENV_DIR/.lorabert-bench-pins"
WANT="$PINS ref=$REF_SITE system-site"
if [ ! -f "$STAMP" ] || [ "$(cat "$STAMP")" != "$WANT" ]; then
  rm -rf "$ENV_DIR"
  /usr/bin/python3 -m venv --system-site-packages "$ENV_DIR" >&2
  SITE=$("$ENV_DIR/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
  echo "$REF_SITE" > "$SITE/lorabert-refenv.pth"
  "$ENV_DIR/bin/pip" install -q --disable-pip-version-check $PINS >&2
  echo "$WANT" > "$STAMP"
fi
echo "$ENV_DIR/bin/python"
