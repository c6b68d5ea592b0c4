#!/usr/bin/env bash
# Faults of a data-parallel run: rank 1 killed with SIGKILL mid-run ends the whole job within
# seconds with Open MPI's line naming rank 1 and signal 9; every checkpoint left is complete;
# --resume OUTPUT/resume (kept current at each epoch end by a data-parallel run) continues on 3
# processes and on 1 (the same effective batch: 4 rows x 6 batches) and ends bit-identical to an
# uninterrupted 2-process run; so does --resume OUTPUT without resume/ (from the newest
# checkpoint-<step>/, which carries the resume state) on 2. SIGTERM to the processes (as scancel sends it): every rank stops at
# the same step, rank 0 writes the resume checkpoint and says so once, exit 9, and resuming ends
# bit-identical too.
source "$(dirname "$0")/../support/cli_common.sh" mpifault
source "$(dirname "$0")/../support/mpi_common.sh"
head -961 "$SHARED/data/imdb/train.csv" >"$T/train.csv"      # 960 rows: 240 batches, 40 steps/epoch
head -31 "$SHARED/data/imdb/validation.csv" >"$T/val.csv"
args=(train --model "$M" --train "$T/train.csv" --validation "$T/val.csv" --epochs 4 --batch-size 4
      --max-length 128 --lora-dropout 0.1)
"${MPIRUN[@]}" -np 2 "$LB" "${args[@]}" --gradient-accumulation-steps 3 --output "$T/ref" >"$T/ref.log" 2>&1 ||
  { cat "$T/ref.log"; fail "uninterrupted run"; }
[ -e "$T/ref/resume" ] && fail "a finished run kept resume/"

# rank 1's process: the child of mpirun whose environment says OMPI_COMM_WORLD_RANK=1
rank_pid() {
  local p
  for p in $(pgrep -P "$1"); do
    tr '\0' '\n' <"/proc/$p/environ" 2>/dev/null | grep -qx "OMPI_COMM_WORLD_RANK=$2" && { echo "$p"; return; }
  done
}
"${MPIRUN[@]}" -np 2 "$LB" "${args[@]}" --gradient-accumulation-steps 3 --output "$T/k" >"$T/k.log" 2>&1 &
mpid=$!
for _ in $(seq 3000); do [ -f "$T/k/resume/resume.json" ] && break; sleep 0.01; done
[ -f "$T/k/resume/resume.json" ] || { kill $mpid; cat "$T/k.log"; fail "no resume checkpoint after an epoch"; }
r1=$(rank_pid $mpid 1)
[ -n "$r1" ] || { kill $mpid; fail "rank 1 not found among mpirun's children"; }
t0=$(date +%s%N)
kill -9 "$r1"
wait $mpid; rc=$?; krc=$rc
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
[ $rc -ne 0 ] || fail "the job finished before rank 1 was killed: the test did not test"
(( ms < 10000 )) || fail "the job took $ms ms to end after rank 1 died"
grep -Eq "rank 1 .*(signal 9|Killed)" "$T/k.log" || { cat "$T/k.log"; fail "no line naming rank 1"; }
for c in "$T"/k/checkpoint-*; do   # every checkpoint present is whole
  for f in adapter_model.safetensors adapter_config.json trainer_state.json; do
    [ -s "$c/$f" ] || fail "torn checkpoint $c (no $f)"
  done
done
step=$(python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['global_step'])" "$T/k/resume/resume.json")
cp -r "$T/k" "$T/k1"
cp -r "$T/k" "$T/k2"; rm -rf "$T/k2/resume"   # as a power cut of the whole job would leave it
# continue on 3 processes, and (from a copy) on 1: the same 6 batches per step
"${MPIRUN[@]}" -np 3 "$LB" "${args[@]}" --gradient-accumulation-steps 2 --resume "$T/k/resume" >"$T/r3.log" 2>&1 ||
  { cat "$T/r3.log"; fail "resume on 3 processes"; }
grep -q "resuming at step $step" "$T/r3.log" || { cat "$T/r3.log"; fail "no resume line"; }
same_run "$T/ref" "$T/k"
"$LB" "${args[@]}" --gradient-accumulation-steps 6 --resume "$T/k1/resume" >"$T/r1.log" 2>&1 ||
  { cat "$T/r1.log"; fail "resume on 1 process"; }
same_run "$T/ref" "$T/k1"
# without resume/: --resume OUTPUT continues from the newest checkpoint (its resume state, rank 0
# wrote it; every rank reads it), on 2 processes
ck=$(cd "$T/k2" && ls -d checkpoint-* | sort -t- -k2 -n | tail -1)
"${MPIRUN[@]}" -np 2 "$LB" "${args[@]}" --gradient-accumulation-steps 3 --resume "$T/k2" >"$T/r2.log" 2>&1 ||
  { cat "$T/r2.log"; fail "resume from $ck on 2 processes"; }
grep -q "resuming at step ${ck#checkpoint-}" "$T/r2.log" || { cat "$T/r2.log"; fail "not resumed from $ck"; }
same_run "$T/ref" "$T/k2"

# SIGTERM to every process (as a batch system's scancel does; mpirun 4.1.4 itself may crash in
# PMIx_server_finalize when signalled): each sees it at a step boundary, they agree at the next
# gather, rank 0 checkpoints, all exit 9. 30 epochs (~100x the time to the first checkpoint) so
# that the signal lands mid-run.
sargs=(train --model "$M" --train "$T/train.csv" --validation "$T/val.csv"
       --epochs 30 --batch-size 4 --max-length 128 --lora-dropout 0.1 --gradient-accumulation-steps 3)
"${MPIRUN[@]}" -np 2 "$LB" "${sargs[@]}" --output "$T/sref" >"$T/sref.log" 2>&1 || { cat "$T/sref.log"; fail "30-epoch run"; }
"${MPIRUN[@]}" -np 2 "$LB" "${sargs[@]}" --output "$T/s" >"$T/s.log" 2>&1 &
mpid=$!
for _ in $(seq 3000); do [ -d "$T/s" ] && ls "$T/s" | grep -q checkpoint- && break; sleep 0.01; done
r0=$(rank_pid $mpid 0); r1=$(rank_pid $mpid 1)
[ -n "$r0" ] && [ -n "$r1" ] || { kill $mpid; fail "SIGTERM: ranks not found"; }
kill -TERM "$r1" "$r0"   # as scancel does; each sees it at its own step boundary, they agree
wait $mpid; rc=$?
[ $rc -eq 9 ] || { cat "$T/s.log"; fail "SIGTERM: exit $rc, expected 9"; }
[ -f "$T/s/adapter_model.safetensors" ] && fail "SIGTERM: the run finished first: the test did not test"
[ -f "$T/s/resume/resume.json" ] || { cat "$T/s.log"; fail "SIGTERM: no resume checkpoint (rc $rc)"; }
[ "$(grep -c 'interrupted after step' "$T/s.log")" = 1 ] || { cat "$T/s.log"; fail "SIGTERM: not one line"; }
"${MPIRUN[@]}" -np 2 "$LB" "${sargs[@]}" --resume "$T/s/resume" >"$T/s2.log" 2>&1 || { cat "$T/s2.log"; fail "resume after SIGTERM"; }
same_run "$T/sref" "$T/s"
echo "mpi faults: kill -9 of rank 1 ended the job in $ms ms (rc $krc: $(grep -Eo 'rank 1 .*(signal 9|Killed)[^.]*' "$T/k.log" | head -1)); resumed from step $step on 3 and 1 processes and from $ck on 2: bit-identical; SIGTERM ok"
