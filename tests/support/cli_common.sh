# Sourced by tests/cli/*.sh that train on the tiny DistilBERT of tests/golden/distilbert_traj:
# cli_base.sh (the repository root, LB, SHARED, fail(), T, need_ref_py), then M (T/model: the
# tiny model with the bert-base-uncased vocab and the seed checkpoint's tokenizer_config.json).
# Exits 77 (skip) when the shared data is absent.
# Usage: source "$(dirname "$0")/../support/cli_common.sh" NAME
source "$(dirname "${BASH_SOURCE[0]}")/cli_base.sh" "${1:-cli}"
[ -f "$SHARED/data/imdb/train.csv" ] || { echo "shared data absent ($SHARED); set LORABERT_SHARED"; exit 77; }
M=$T/model
mkdir -p "$M"
cp tests/golden/distilbert_traj/model/* "$M/"
cp "$SHARED/data/tokenizer/vocab.txt" "$M/"
cp "$SHARED/data/tokenizer/tokenizer_config.shawhin-checkpoint.json" "$M/tokenizer_config.json"
