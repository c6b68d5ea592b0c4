#!/usr/bin/env bash
# Data-parallel inputs of docs/distributed.md's scaling model, measured on this machine:
#  1. 1 process x 2 threads against 2 processes x 1 thread (mpirun, shared memory) training the
#     seed config (bench/run's full-size random distilbert-base, LoRA r=4 on q_lin, batch 4,
#     max length 512, real IMDb rows) with the same effective batch (8: K=2 on one process, K=1 on
#     two): wall seconds per optimizer step and tokens/s; both must give the same adapter when
#     the thread counts per process agree (they do not here: 2 vs 1 threads, see the doc).
#  2. the gradient transfer alone (bench/mpi_allgather.c) between 3 hosts made of network
#     namespaces and veth links (tests/support/netns_hosts.sh), for the seed config's gradient
#     (628,994 floats) and bert-base with r=16 on all linears (2,655,746 floats).
# Writes JSON lines to OUT (default build/bench/distributed.jsonl) and prints them.
#   bench/mpi_scaling.sh [--quick] [OUT]
set -uo pipefail
cd "$(dirname "$0")/.."
QUICK=0; [ "${1:-}" = --quick ] && { QUICK=1; shift; }
OUT=${1:-build/bench/distributed.jsonl}
SHARED=${LORABERT_SHARED:-../shared}
MODEL=${LORABERT_BENCH_MODEL:-${XDG_CACHE_HOME:-$HOME/.cache}/lorabert/bench-model}
LB=build/release/lorabert
command -v mpirun >/dev/null && command -v mpicc >/dev/null || { echo "mpi_scaling: Open MPI absent" >&2; exit 77; }
[ -f "$MODEL/model.safetensors" ] || { echo "mpi_scaling: $MODEL absent (bench/run makes it)" >&2; exit 77; }
make -j2 MODE=release >/dev/null || exit 1
mkdir -p build/bench "$(dirname "$OUT")"
mpicc -O2 bench/mpi_allgather.c -o build/bench/mpi_allgather || exit 1
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
T=$(mktemp -d /tmp/lbscale.XXXXXX)
source tests/support/netns_hosts.sh
trap 'netns_down; rm -rf "$T"' EXIT
: >"$OUT"
rows=$(( QUICK ? 32 : 64 ))
head -$((rows + 1)) "$SHARED/data/imdb/train.csv" >"$T/train.csv"
args=(train --model "$MODEL" --train "$T/train.csv" --no-eval --epochs 1 --batch-size 4 --max-length 512
      --target-modules q_lin --lora-dropout 0.01 --logging-steps 1000)
steps=$(( rows / 8 ))
for layout in 1x2 2x1; do
  t0=$(date +%s.%N)
  if [ $layout = 1x2 ]; then OMP_NUM_THREADS=2 "$LB" "${args[@]}" --gradient-accumulation-steps 2 --output "$T/o$layout" >"$T/$layout.log" 2>&1
  else mpirun --oversubscribe --bind-to none --mca btl self,vader -x OMP_NUM_THREADS=1 -np 2 "$LB" "${args[@]}" \
         --output "$T/o$layout" >"$T/$layout.log" 2>&1; fi
  rc=$?; t1=$(date +%s.%N)
  # "train_loss L, N tokens/s, S s": S is the training time (model loading excluded)
  line=$(grep '^train_loss' "$T/$layout.log" | tail -1)
  python3 -c "
import json, re, sys
m = re.match(r'train_loss ([0-9.]+), ([0-9]+) tokens/s, ([0-9.]+) s', sys.argv[6])
rt = float(m.group(3)) if m else None
print(json.dumps({'workload': 'train_seed_dataparallel', 'layout': sys.argv[1], 'rc': int(sys.argv[2]),
                  'wall_s': round(float(sys.argv[4]) - float(sys.argv[3]), 2), 'train_s': rt, 'steps': int(sys.argv[5]),
                  's_per_step': round(rt / int(sys.argv[5]), 3) if rt else None, 'effective_batch': 8,
                  'train_loss': float(m.group(1)) if m else None, 'loadavg': open('/proc/loadavg').read().split()[0]}))" \
    $layout $rc "$t0" "$t1" $steps "$line" | tee -a "$OUT"
done
# bert-base with r=16 on every linear, when a random-init BertForSequenceClassification folder is
# given (LORABERT_BENCH_BERT_BASE; e.g. BertConfig() saved by transformers with vocab.txt)
BB=${LORABERT_BENCH_BERT_BASE:-}
if [ -n "$BB" ] && [ -f "$BB/model.safetensors" ]; then
  head -9 "$T/train.csv" >"$T/train8.csv"
  OMP_NUM_THREADS=2 "$LB" train --model "$BB" --train "$T/train8.csv" --no-eval --epochs 1 --batch-size 4 --max-length 512 \
    --target-modules all-linear --lora-r 16 --lora-alpha 32 --output "$T/bb" >"$T/bb.log" 2>&1
  line=$(grep '^train_loss' "$T/bb.log" | tail -1)
  python3 -c "
import json, re, sys
m = re.match(r'train_loss ([0-9.]+), ([0-9]+) tokens/s, ([0-9.]+) s', sys.argv[1])
print(json.dumps({'workload': 'train_bert_base_r16_all_linear', 'layout': '1x2', 'steps': 2,
                  's_per_step': round(float(m.group(3)) / 2, 3) if m else None,
                  'loadavg': open('/proc/loadavg').read().split()[0]}))" "$line" | tee -a "$OUT"
fi
if netns_up "$T"; then
  for floats in 628994 2655746; do
    bytes=$(( floats * 4 + 32 ))
    netns_mpirun --host 10.77.0.1:1,10.77.0.2:1,10.77.0.3:1 -np 3 build/bench/mpi_allgather $bytes $(( QUICK ? 5 : 20 )) 2>/dev/null |
      python3 -c "import json,sys; d=json.loads(sys.stdin.read()); d.update(workload='gradient_transfer', link='veth (3 network namespaces, TCP)', floats=$floats); print(json.dumps(d))" | tee -a "$OUT"
  done
else
  echo "{\"workload\": \"gradient_transfer\", \"skipped\": \"$NETNS_SKIP\"}" | tee -a "$OUT"
fi
