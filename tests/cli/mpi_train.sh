#!/usr/bin/env bash
# mpirun -np N lorabert train: bit-identical adapters and identical eval losses/metrics for one
# effective batch (4 rows x 6 micro-batches) on 1, 2 and 3 processes (3: 6 micro-batches of a step
# spread 2 per rank; with LoRA dropout on, which follows the global micro-batch), for 4 x 4 on
# 1 and 4 processes, and for 4 x 2 on 1 and 2 processes; one thread per process (the guarantee is for equal threads per process,
# docs/distributed.md). Rank 0 alone writes; mismatched inputs on one rank are refused at start.
source "$(dirname "$0")/../support/cli_common.sh" mpitrain
source "$(dirname "$0")/../support/mpi_common.sh"
head -97 "$SHARED/data/imdb/train.csv" >"$T/train.csv"        # 96 rows: 24 batches of 4
head -31 "$SHARED/data/imdb/validation.csv" >"$T/val.csv"     # 30 rows: eval batches of 4 (last 2)
args=(train --model "$M" --train "$T/train.csv" --validation "$T/val.csv" --epochs 2 --batch-size 4
      --max-length 128 --lora-dropout 0.1 --logging-steps 2 --eval-batch-size 4)
run() { # run NP K OUT
  local np=$1 k=$2 out=$3
  if [ "$np" = 1 ]; then "$LB" "${args[@]}" --gradient-accumulation-steps "$k" --output "$out" >"$out.log" 2>&1
  else "${MPIRUN[@]}" -np "$np" "$LB" "${args[@]}" --gradient-accumulation-steps "$k" --output "$out" >"$out.log" 2>&1; fi
  [ $? -eq 0 ] || { cat "$out.log"; fail "np $np K $k failed"; }
}
run 1 6 "$T/a1"; run 2 3 "$T/a2"; run 3 2 "$T/a3"
same_run "$T/a1" "$T/a2"; same_run "$T/a1" "$T/a3"
grep -q "batch size 4, effective batch 24 (4 per process x 3 processes x 2 gradient accumulation steps), 8 steps" "$T/a3.log" \
  || { cat "$T/a3.log"; fail "np 3: effective batch line"; }
grep -q "3 processes: inputs identical on every rank" "$T/a3.log" || fail "np 3: no checksum line"
run 1 4 "$T/f1"; run 4 1 "$T/f4"
same_run "$T/f1" "$T/f4"
run 1 2 "$T/b1"; run 2 1 "$T/b2"
same_run "$T/b1" "$T/b2"
cmp -s "$T/a1/adapter_model.safetensors" "$T/b1/adapter_model.safetensors" && fail "different effective batches gave one adapter"
# rank 0 alone wrote: one checkpoint per epoch, no stray files
[ "$(ls "$T/a3" | grep -c '^checkpoint-')" = 2 ] || fail "np 3: checkpoints: $(ls "$T/a3")"
# an epoch that does not fill whole steps is refused by name (24 batches, 5 per step)
"${MPIRUN[@]}" -np 1 "$LB" "${args[@]}" --gradient-accumulation-steps 5 --output "$T/c" >"$T/c.log" 2>&1; rc=$?
[ $rc = 5 ] && grep -q "not a multiple of the 5 batches of a step" "$T/c.log" || { cat "$T/c.log"; fail "refusal rc $rc"; }
# mismatched inputs: rank 1 trains on other rows (MPMD launch), refused at start naming them
head -1 "$T/train.csv" >"$T/other.csv"; sed -n '98,193p' "$SHARED/data/imdb/train.csv" >>"$T/other.csv"
"${MPIRUN[@]}" -np 1 "$LB" "${args[@]}" --output "$T/d" : -np 1 "$LB" "${args[@]/$T\/train.csv/$T/other.csv}" \
  --output "$T/d" >"$T/d.log" 2>&1; rc=$?
[ $rc = 2 ] && grep -q "rank 0: rank 1's training data differ from rank 0's" "$T/d.log" || { cat "$T/d.log"; fail "mismatch rc $rc"; }
[ -e "$T/d/adapter_model.safetensors" ] && fail "a refused run wrote an adapter"
echo "mpi train: np 1/2/3 (effective batch 24), 1/4 (16), 1/2 (8) bit-identical, refusals ok"
