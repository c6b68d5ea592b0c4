#!/usr/bin/env bash
# The OpenMP wait policy the CLI starts with (issue 14: libgomp's default ~3 ms spin collapsed
# runs sharing a core). `lorabert` re-executes itself with GOMP_SPINCOUNT set when the user set
# neither OMP_WAIT_POLICY nor GOMP_SPINCOUNT, and leaves a user's choice alone; the answers are
# bit-identical under every policy. Reads the running process's environment (/proc/PID/environ)
# while `lorabert predict` waits on stdin with the tiny golden model.
set -u
source "$(dirname "$0")/../support/cli_base.sh" omp
[ -r /proc/self/environ ] || { echo "SKIP: no /proc/PID/environ here"; exit 77; }
PID=""
trap '[ -n "$PID" ] && kill "$PID" 2>/dev/null; rm -rf "$T"' EXIT
G=tests/golden/distilbert_tiny
mkdir "$T/m" && cp $G/model/* "$T/m/"
{ echo '[PAD]'; for i in $(seq 0 98); do echo "[unused$i]"; done; printf '[UNK]\n[CLS]\n[SEP]\n[MASK]\n';
  for i in $(seq 99 114); do echo "[unused$i]"; done; } >"$T/m/vocab.txt"

# run_env NAME ENV...: starts `env ENV... lorabert predict` on a FIFO, sends one line, waits for
# its answer, copies the process's environment to $T/NAME.env and its answer to $T/NAME.out.
run_env() {
  local name=$1; shift
  rm -f "$T/in"; mkfifo "$T/in"
  env -u OMP_WAIT_POLICY -u GOMP_SPINCOUNT -u LORABERT_REEXEC -u LORABERT_BLAS_REEXEC "$@" \
    "$LB" predict --json --model "$T/m" <"$T/in" >"$T/$name.out" 2>"$T/$name.err" &
  PID=$!
  exec 3>"$T/in"
  echo "It was good." >&3
  for _ in $(seq 1 300); do [ -s "$T/$name.out" ] && break; sleep 0.1; done
  [ -s "$T/$name.out" ] || fail "$name: no answer in 30 s: $(cat "$T/$name.err")"
  tr '\0' '\n' <"/proc/$PID/environ" >"$T/$name.env" || fail "$name: cannot read /proc/$PID/environ"
  exec 3>&-
  wait "$PID" || fail "$name: exit status $?: $(cat "$T/$name.err")"
  PID=""
}

run_env default
SPIN=$(sed -n 's/^GOMP_SPINCOUNT=//p' "$T/default.env")
[ -n "$SPIN" ] || fail "no OpenMP setting given: GOMP_SPINCOUNT not set in the running process"
[ "$SPIN" -ge 1 ] && [ "$SPIN" -le 100000 ] 2>/dev/null || fail "GOMP_SPINCOUNT=$SPIN is not a bounded spin"
grep -qx 'LORABERT_REEXEC=1' "$T/default.env" || fail "re-exec guard LORABERT_REEXEC not set"

run_env policy OMP_WAIT_POLICY=active
grep -q '^GOMP_SPINCOUNT=' "$T/policy.env" && fail "OMP_WAIT_POLICY=active was overridden with a spin count"
grep -qx 'OMP_WAIT_POLICY=active' "$T/policy.env" || fail "OMP_WAIT_POLICY lost"

run_env spin GOMP_SPINCOUNT=300000
grep -qx 'GOMP_SPINCOUNT=300000' "$T/spin.env" || fail "the user's GOMP_SPINCOUNT was changed: $(grep GOMP "$T/spin.env")"

run_env passive OMP_WAIT_POLICY=passive
for r in policy spin passive; do
  cmp -s "$T/default.out" "$T/$r.out" || fail "answers differ between wait policies (default vs $r)"
done
echo "ok: GOMP_SPINCOUNT=$SPIN by default, a user's OMP_WAIT_POLICY / GOMP_SPINCOUNT kept, identical answers"
