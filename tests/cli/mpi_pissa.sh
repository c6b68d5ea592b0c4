#!/usr/bin/env bash
# mpirun -np 2 lorabert train --lora-init pissa: every rank decomposes the same weights (LAPACK,
# one thread per process as the guarantee asks, docs/distributed.md), so the run writes the
# one-process run's adapter bytes for the same effective batch (4 rows x 2 micro-batches), and the
# same trainer_state.json losses. Rank 0's decomposition is every rank's (lb_lora_rewrite_sync): with
# LORABERT_TEST_INIT_SKEW=1 (each A0 value of that process's own decomposition one float step up,
# as another LAPACK kernel may give) on rank 1 alone the run still writes the plain one-process
# run's bytes, and on rank 0 alone the skewed one-process run's bytes. Skips (77) without Open MPI
# or the CLI's MPI plugin.
source "$(dirname "$0")/../support/cli_common.sh" mpipissa
source "$(dirname "$0")/../support/mpi_common.sh"
head -41 "$SHARED/data/imdb/train.csv" >"$T/train.csv"       # 40 rows: 5 steps of 8
head -9 "$SHARED/data/imdb/validation.csv" >"$T/val.csv"
args=(train --model "$M" --train "$T/train.csv" --validation "$T/val.csv" --epochs 1 --batch-size 4
      --max-length 64 --lora-init pissa --target-modules q_lin,v_lin,lin2 --lr 5e-3 --eval-batch-size 4)
"$LB" "${args[@]}" --gradient-accumulation-steps 2 --output "$T/a1" >"$T/a1.log" 2>&1 ||
  { cat "$T/a1.log"; fail "np 1 failed"; }
"${MPIRUN[@]}" -np 2 "$LB" "${args[@]}" --gradient-accumulation-steps 1 --output "$T/a2" >"$T/a2.log" 2>&1 ||
  { cat "$T/a2.log"; fail "np 2 failed"; }
grep -q '"r": 8' "$T/a2/adapter_config.json" || fail "np 2: the adapter is not saved converted"
same_run "$T/a1" "$T/a2"
LORABERT_TEST_INIT_SKEW=1 "$LB" "${args[@]}" --gradient-accumulation-steps 2 --output "$T/s1" >"$T/s1.log" 2>&1 ||
  { cat "$T/s1.log"; fail "np 1 skewed failed"; }
# the skew reaches the result: without the sharing, a skewed rank would train on another start
cmp -s "$T/a1/adapter_model.safetensors" "$T/s1/adapter_model.safetensors" &&
  fail "LORABERT_TEST_INIT_SKEW changed nothing: the test below would prove nothing"
for skewed in 1 0; do
  plain=(-np 1 env "${MPI_ASSIGN[@]}" "$LB" "${args[@]}" --gradient-accumulation-steps 1 --output "$T/k$skewed")
  skew=(-np 1 env "${MPI_ASSIGN[@]}" LORABERT_TEST_INIT_SKEW=1 "$LB" "${args[@]}" --gradient-accumulation-steps 1
        --output "$T/k$skewed")
  if [ $skewed = 1 ]; then ctx=("${plain[@]}" : "${skew[@]}"); want="$T/a1"; else ctx=("${skew[@]}" : "${plain[@]}"); want="$T/s1"; fi
  "${MPIRUN[@]}" "${ctx[@]}" >"$T/k$skewed.log" 2>&1 || { cat "$T/k$skewed.log"; fail "np 2, rank $skewed skewed, failed"; }
  same_run "$want" "$T/k$skewed"
done
echo "mpi pissa ok"
