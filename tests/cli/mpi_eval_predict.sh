#!/usr/bin/env bash
# mpirun -np N lorabert eval / predict --input --output on the 1000 IMDb validation rows (CSV,
# JSONL and Parquet): each process reads only its shard (every N-th block of --batch-size rows;
# 125 or 63 blocks: uneven shares on 2, 3 and 4 processes); the metrics JSON and the JSON lines are
# byte-identical to one process's. Under mpirun predict needs --input/--output. With the
# reference env's pyarrow, also a copy of the Parquet file in 28 row groups of 37 rows (row groups
# straddle the shards' blocks; a process skips the row groups without rows of its shard).
source "$(dirname "$0")/../support/cli_common.sh" mpievpr
source "$(dirname "$0")/../support/mpi_common.sh"
D=$SHARED/data/imdb
[ -f "$D/validation.snappy.parquet" ] || { echo "shared parquet absent"; exit 77; }
head -201 "$D/train.csv" >"$T/train.csv"
"$LB" train --model "$M" --train "$T/train.csv" --no-eval --epochs 1 --max-length 128 --output "$T/a" >/dev/null 2>&1 ||
  fail "train"
FILES="validation.csv validation.jsonl validation.snappy.parquet"
REFPY="${XDG_CACHE_HOME:-$HOME/.cache}/lorabert/refenv/bin/python"
if [ -x "$REFPY" ] && "$REFPY" -c 'import pyarrow' 2>/dev/null; then
  "$REFPY" - "$D/validation.snappy.parquet" "$T/validation.rg37.parquet" <<'PY' || fail "writing validation.rg37.parquet"
import sys, pyarrow.parquet as pq
pq.write_table(pq.read_table(sys.argv[1]), sys.argv[2], row_group_size=37)
assert pq.ParquetFile(sys.argv[2]).metadata.num_row_groups == 28
PY
  FILES="$FILES validation.rg37.parquet"
fi
src() { if [ "$1" = validation.rg37.parquet ]; then echo "$T/$1"; else echo "$D/$1"; fi; }
lbrun() { local np=$1; shift; if [ "$np" = 1 ]; then "$LB" "$@"; else "${MPIRUN[@]}" -np "$np" "$LB" "$@"; fi; }
for np in 1 2 3 4; do
  lbrun $np eval --model "$T/a" --data "$D/validation.csv" --batch-size 8 --max-length 128 --json >"$T/e$np.json" 2>"$T/e$np.err" ||
    { cat "$T/e$np.err"; fail "eval np $np"; }
  for f in $FILES; do
    lbrun $np predict --model "$T/a" --input "$(src "$f")" --output "$T/p$np.$f.jsonl" --batch-size 16 --max-length 128 \
      2>"$T/p.err" || { cat "$T/p.err"; fail "predict np $np $f"; }
  done
done
grep -q '"n_examples": 1000' "$T/e1.json" || fail "eval: $(cat "$T/e1.json")"
for np in 2 3 4; do
  cmp -s "$T/e1.json" "$T/e$np.json" || fail "eval np $np differs: $(cat "$T/e$np.json") vs $(cat "$T/e1.json")"
  for f in $FILES; do
    cmp -s "$T/p1.validation.csv.jsonl" "$T/p$np.$f.jsonl" || fail "predict np $np $f differs from np 1 csv"
  done
done
[ "$(wc -l <"$T/p1.validation.csv.jsonl")" = 1000 ] || fail "predict: not 1000 lines"
python3 - "$T/p3.validation.csv.jsonl" <<'PY' || fail "predict: indices not in input order"
import json, sys
idx = [json.loads(l)["index"] for l in open(sys.argv[1])]
sys.exit(0 if idx == list(range(1000)) else 1)
PY
# predict under mpirun without --input is refused
"${MPIRUN[@]}" -np 2 "$LB" predict --model "$T/a" "some text" >"$T/x.log" 2>&1 && fail "predict TEXT under mpirun ran"
grep -q "under mpirun, give --input FILE --output FILE" "$T/x.log" || { cat "$T/x.log"; fail "no refusal line"; }
echo "mpi eval/predict: np 1/2/3/4 byte-identical (eval metrics; predict JSONL from: $FILES)"
