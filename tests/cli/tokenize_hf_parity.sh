#!/usr/bin/env bash
# Differential test against the real packages: `lorabert tokenize` vs transformers 4.32.1 /
# tokenizers 0.13.3 (DistilBertTokenizerFast.from_pretrained) on 2000 random tricky texts, from a
# tokenizer.json folder and a vocab.txt-only folder. Needs the pinned reference env
# (tools/reference/setup_env.sh): skipped when it is absent, unless CI=true.
set -u
root=$(cd "$(dirname "$0")/../.." && pwd)
bin=${LORABERT_BIN:-$root/build/release/lorabert}
case $bin in /*) ;; *) bin=$root/$bin ;; esac
shared=${LORABERT_SHARED:-$root/../shared}
[ -f "$shared/data/tokenizer/vocab.txt" ] || { echo "skip: $shared/data/tokenizer absent (set LORABERT_SHARED)"; exit 77; }
env_dir=${LORABERT_REF_ENV:-${XDG_CACHE_HOME:-$HOME/.cache}/lorabert/refenv}
if [ -x "$env_dir/bin/python" ] && [ -f "$env_dir/.lorabert-pins" ]; then
  py=$env_dir/bin/python
elif [ "${CI:-}" = true ]; then
  py=$(bash "$root/tools/reference/setup_env.sh") || { echo "FAIL: cannot create the reference env"; exit 1; }
else
  echo "skip: reference env $env_dir absent (tools/reference/setup_env.sh creates it)"; exit 77
fi
"$py" "$root/tools/reference/tokenizer_random_parity.py" "$bin" "$shared" 2000 1234 2>&1 | grep -v -i warning
exit "${PIPESTATUS[0]}"
