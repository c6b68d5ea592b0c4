#!/usr/bin/env bash
# Runs the CLI's main paths under valgrind memcheck on small real inputs (a tiny golden model with
# the real vocab, a few IMDb rows) plus bad inputs; any memory error or definite leak fails.
# Usage: tests/valgrind.sh BUILD/lorabert   (build it with `make MODE=valgrind`: no AVX-512)
set -u
cd "$(dirname "$0")/.."
LB=${1:-build/valgrind/lorabert}
SHARED=${LORABERT_SHARED:-../shared}
command -v valgrind >/dev/null || { echo "valgrind: not installed"; exit 1; }
[ -f "$SHARED/data/imdb/train.csv" ] || { echo "valgrind: shared data absent ($SHARED); skipped"; exit 0; }
T=$(mktemp -d /tmp/lbvgXXXXXX); trap 'rm -rf "$T"' EXIT
mkdir -p "$T/model" && cp tests/golden/distilbert_traj/model/* "$SHARED/data/tokenizer/vocab.txt" "$T/model/"
head -n 9 "$SHARED/data/imdb/train.csv" >"$T/train.csv"
head -n 5 "$SHARED/data/imdb/validation.csv" >"$T/val.csv"
mkdir -p "$T/bad" && cp "$T/model/config.json" "$T/model/vocab.txt" "$T/bad/" && printf 'not a safetensors file' >"$T/bad/model.safetensors"
export OPENBLAS_CORETYPE=Haswell OMP_NUM_THREADS=2 GOMP_SPINCOUNT=1000 # as lb_runtime_reexec would set
VG=(valgrind -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite --show-leak-kinds=definite)
fails=0; runs=0
run() {  # run EXPECTED_RC ARGS...: valgrind must report nothing and the exit status must match
  local want=$1; shift; runs=$((runs+1))
  "${VG[@]}" "$LB" "$@" >"$T/out" 2>"$T/err" </dev/null; local rc=$?
  if [ $rc -eq 99 ] || [ $rc -ne "$want" ]; then
    fails=$((fails+1)); echo "FAIL (rc=$rc, want $want): lorabert $*"; tail -30 "$T/err"
  fi
}
run 0 predict --model "$T/model" "It was good." "Not a fan, don't recommed."
run 0 info "$T/model"
run 0 train --model "$T/model" --train "$T/train.csv" --validation "$T/val.csv" --epochs 1 --max-length 64 --output "$T/out1"
run 0 eval --model "$T/model" --adapter "$T/out1" --data "$T/val.csv" --max-length 64 --json
run 0 merge --model "$T/model" --adapter "$T/out1" --output "$T/merged"
# pissa (LAPACK SVD, the residual weights, the converted save) and its adapter over the original base
run 0 train --model "$T/model" --train "$T/train.csv" --validation "$T/val.csv" --epochs 1 --max-length 64 \
  --target-modules q_lin,lin2 --lora-init pissa --output "$T/out2"
run 0 eval --model "$T/model" --adapter "$T/out2" --data "$T/val.csv" --max-length 64 --json
run 3 predict --model "$T/missing" "x"
run 2 predict --model "$T/model" ""
run 4 info "$T/bad"
run 4 predict --model "$T/bad" "x"
"${VG[@]}" "$LB" tokenize --model "$T/model" --max-length 16 <"$T/val.csv" >/dev/null 2>"$T/err"; rc=$?; runs=$((runs+1))
[ $rc -eq 0 ] || { fails=$((fails+1)); echo "FAIL (rc=$rc): tokenize"; tail -30 "$T/err"; }
echo "valgrind: $runs commands, $fails with errors"
[ $fails -eq 0 ]
