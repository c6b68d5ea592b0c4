#!/usr/bin/env bash
# Three hosts for real: network namespaces joined by veth links to one bridge
# (tests/support/netns_hosts.sh), Open MPI over TCP between them, launched with `ip netns exec`
# as its agent instead of ssh. Each host reads its own copy of the model and data (relative paths
# under its own folder, MPMD --wdir); rank 0's host alone gets the output. train (effective batch
# 4 x 3 processes), eval and predict must equal one process's bit for bit.
source "$(dirname "$0")/../support/cli_common.sh" mpinetns
source "$(dirname "$0")/../support/mpi_common.sh"
source "$(dirname "$0")/../support/netns_hosts.sh"
trap 'netns_down; rm -rf "$T"' EXIT
netns_up "$T" || { echo "skip: $NETNS_SKIP"; exit 77; }
LBA=$(cd "$(dirname "$LB")" && pwd)/$(basename "$LB")
head -97 "$SHARED/data/imdb/train.csv" >"$T/train.csv"
head -41 "$SHARED/data/imdb/validation.csv" >"$T/val.csv"
for i in 0 1 2; do mkdir -p "$T/host$i"; cp -r "$M" "$T/host$i/model"; cp "$T/train.csv" "$T/val.csv" "$T/host$i/"; done
args=(--model model --train train.csv --validation val.csv --epochs 2 --batch-size 4 --max-length 128 --lora-dropout 0.1)
(cd "$T/host0" && "$LBA" train "${args[@]}" --gradient-accumulation-steps 3 --output one >one.log 2>&1) ||
  { cat "$T/host0/one.log"; fail "one process"; }
mpmd() {  # mpmd COMMAND ARGS...: one rank per host, each in its own folder
  local ctx=() i
  for i in 0 1 2; do
    ctx+=(-np 1 --host "10.77.0.$((i + 1)):1" --wdir "$T/host$i" env "${MPI_ASSIGN[@]}" "$LBA" "$@")
    [ $i -lt 2 ] && ctx+=(:)
  done
  netns_mpirun "${ctx[@]}"
}
mpmd train "${args[@]}" --output three >"$T/three.log" 2>&1 || { cat "$T/three.log"; fail "3 hosts: train"; }
grep -q "3 processes: inputs identical on every rank" "$T/three.log" || { cat "$T/three.log"; fail "no checksum line"; }
[ -e "$T/host1/three" ] || [ -e "$T/host2/three" ] && fail "a rank other than 0 wrote output"
same_run "$T/host0/one" "$T/host0/three"
# rank 0's adapter (host 0) is the model each host evaluates and labels with
for i in 1 2; do cp -r "$T/host0/three" "$T/host$i/three"; done
(cd "$T/host0" && "$LBA" eval --model three --data val.csv --batch-size 4 --max-length 128 --json >e1.json 2>&1 &&
  "$LBA" predict --model three --input val.csv --output p1.jsonl --batch-size 4 --max-length 128) || fail "one process eval/predict"
mpmd eval --model three --data val.csv --batch-size 4 --max-length 128 --json >"$T/e3.json" 2>"$T/e3.err" ||
  { cat "$T/e3.err"; fail "3 hosts: eval"; }
mpmd predict --model three --input val.csv --output p3.jsonl --batch-size 4 --max-length 128 >"$T/p3.log" 2>&1 ||
  { cat "$T/p3.log"; fail "3 hosts: predict"; }
cmp -s "$T/host0/e1.json" "$T/e3.json" || fail "3 hosts: eval differs: $(cat "$T/e3.json")"
cmp -s "$T/host0/p1.jsonl" "$T/host0/p3.jsonl" || fail "3 hosts: predict differs"
echo "mpi netns: 3 hosts over veth/TCP: train, eval, predict bit-identical to one process"
