/* libgomp's wait policy, chosen before libgomp loads.
 *
 * Owns: the GOMP_SPINCOUNT a lorabert program runs with when its user chose no OpenMP wait
 * policy, and the one re-exec (with OpenBLAS's core type, blas.c) that applies it.
 * Why: libgomp reads OMP_WAIT_POLICY / GOMP_SPINCOUNT once, in its own constructor, before
 * main. Unset, a thread that waits (at a barrier, or for the next parallel region) spins
 * 300,000 times before it sleeps: ~3 ms on the Xeon these numbers come from (10.5 ns per
 * `pause`), as long as a scheduler timeslice. When another process shares one of the cores,
 * every barrier then waits for a preempted partner while the waiting thread keeps its own core
 * busy, so the kernel never finds that core idle and never moves the partner onto it: a
 * 2-thread run with one core shared fell to 28% of its idle speed (issue 14;
 * docs/performance.md "Under load"). LB_OMP_SPINCOUNT is libgomp's own figure for an
 * oversubscribed machine (its "throttled" spin, used when it sees more threads than CPUs,
 * which a competing process does not make it see): ~10 us here, still longer than the gaps
 * between the parallel regions of a forward pass, so an idle run keeps its threads awake.
 * Guarantees: a user's OMP_WAIT_POLICY or GOMP_SPINCOUNT is never overridden; the policy
 * changes when threads sleep, never which thread computes what, so results are bit-identical
 * under every setting. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "kernels/kernels.h"

#define LB_OMP_SPINCOUNT "1000"

const char *lb_omp_preferred_spincount(void) {
    if (getenv("OMP_WAIT_POLICY") || getenv("GOMP_SPINCOUNT")) return NULL;
    return LB_OMP_SPINCOUNT;
}

/* Under valgrind, /proc/self/exe is valgrind's tool binary, which refuses to be run directly:
 * re-executing it would end the program. valgrind preloads its vgpreload_*.so objects. */
static int under_valgrind(void) {
    const char *p = getenv("LD_PRELOAD");
    return p && strstr(p, "vgpreload") != NULL;
}

void lb_runtime_reexec(char **argv) {
    if (getenv("LORABERT_REEXEC") || getenv("LORABERT_BLAS_REEXEC") || under_valgrind()) return;
    const char *core = getenv("OPENBLAS_CORETYPE") ? NULL : lb_blas_preferred_coretype();
    const char *spin = lb_omp_preferred_spincount();
    if (!core && !spin) return;
    if (core) setenv("OPENBLAS_CORETYPE", core, 1);
    if (spin) setenv("GOMP_SPINCOUNT", spin, 1);
    setenv("LORABERT_REEXEC", "1", 1);
    execv("/proc/self/exe", argv);
}
