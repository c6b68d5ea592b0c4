#!/usr/bin/env bash
# mpirun -np 2 lorabert train --lora-init pissa: every rank decomposes the same weights (LAPACK,
# one thread per process as the guarantee asks, docs/distributed.md), so the run writes the
# one-process run's adapter bytes for the same effective batch (4 rows x 2 micro-batches), and the
# same trainer_state.json losses. Skips (77) without Open MPI or the CLI's MPI plugin.
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
echo "mpi pissa ok"
