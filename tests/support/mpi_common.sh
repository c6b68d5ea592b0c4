# Sourced by tests/cli/mpi_*.sh after cli_common.sh: sets MPIRUN (mpirun as CI needs it: root
# allowed, more ranks than the 2 cores, one OpenMP thread per rank) and skips (77) when Open MPI
# or the CLI's MPI plugin is absent. Under the sanitizer build the runs keep AddressSanitizer and
# UBSan but not LeakSanitizer: Open MPI leaks at MPI_Finalize from MCA components it has already
# dlclose'd, so those stacks read "<unknown module>" and no suppression by library name matches
# them (the same code paths' leaks are checked by the one-process tests).
command -v mpirun >/dev/null || { echo "mpirun absent (apt-get install openmpi-bin libopenmpi-dev)"; exit 77; }
case "$LB" in *valgrind*) echo "MPI tests do not run under valgrind ($LB)"; exit 77 ;; esac
MPI_ENV=()    # what mpirun passes to its processes (one-process runs keep the caller's options)
MPI_ASSIGN=() # the same as VAR=value words, for launches where -x does not reach (MPMD over ssh agents)
case "$LB" in *asan*) MPI_ASSIGN=("ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0")
                      MPI_ENV=(-x "${MPI_ASSIGN[0]}") ;; esac
[ -n "${UBSAN_OPTIONS:-}" ] && MPI_ENV+=(-x UBSAN_OPTIONS)
[ -f "$(dirname "$LB")/lorabert-mpi.so" ] || { echo "$(dirname "$LB")/lorabert-mpi.so absent (build with Open MPI installed)"; exit 77; }
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
# Open MPI's shared-memory transport needs no setup; keep it off the network
MPIRUN=(mpirun --oversubscribe --bind-to none -x OMP_NUM_THREADS=1 --mca btl self,vader "${MPI_ENV[@]}")
export OMP_NUM_THREADS=1
# same_run A B: the same adapter and the same evaluations/losses in trainer_state.json
# (runtimes and rates aside).
same_run() {
  cmp -s "$1/adapter_model.safetensors" "$2/adapter_model.safetensors" || fail "$1 and $2: adapters differ"
  python3 - "$1/trainer_state.json" "$2/trainer_state.json" <<'PY' || fail "$1 and $2: trainer_state.json differs"
import json, sys
def norm(p):
    s = json.load(open(p))
    skip = ("runtime", "per_second", "total_flos")
    return [{k: v for k, v in e.items() if not any(x in k for x in skip)} for e in s["log_history"]], s.get("best_metric")
a, b = norm(sys.argv[1]), norm(sys.argv[2])
if a != b:
    print("differ:", a, b); sys.exit(1)
PY
}
