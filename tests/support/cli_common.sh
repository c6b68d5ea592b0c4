# Sourced by tests/cli/*.sh that train on the tiny DistilBERT of tests/golden/distilbert_traj:
# moves to the repository root and sets LB (the binary), SHARED (../shared), fail(), T (a scratch
# folder removed on exit) and M (T/model: the tiny model with the bert-base-uncased vocab and the
# seed checkpoint's tokenizer_config.json). Exits 77 (skip) when the shared data is absent.
# Usage: source "$(dirname "$0")/../support/cli_common.sh" NAME
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
LB=${LORABERT_BIN:-build/release/lorabert}
SHARED=${LORABERT_SHARED:-../shared}
fail() { echo "FAIL: $*"; exit 1; }
[ -f "$SHARED/data/imdb/train.csv" ] || { echo "shared data absent ($SHARED); set LORABERT_SHARED"; exit 77; }
T=$(mktemp -d "/tmp/lb${1:-cli}XXXXXX")
trap 'rm -rf "$T"' EXIT
M=$T/model
mkdir -p "$M"
cp tests/golden/distilbert_traj/model/* "$M/"
cp "$SHARED/data/tokenizer/vocab.txt" "$M/"
cp "$SHARED/data/tokenizer/tokenizer_config.shawhin-checkpoint.json" "$M/tokenizer_config.json"
