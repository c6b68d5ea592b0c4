/* OpenBLAS core selection. Debian's OpenBLAS 0.3.21 (DYNAMIC_ARCH) does not recognise this
 * machine's CPU (cpuid reports a generic "Intel Xeon Processor" with AVX-512) and falls back
 * to the SSE3 "Prescott" kernels, ~4.5x slower for sgemm than its AVX-512 kernels. The core
 * is chosen when the library loads, from $OPENBLAS_CORETYPE, so the fix belongs to the
 * program's entry point (set the variable and re-exec); this module says when it is needed
 * and does the re-exec for the programs that call it. */
#include "kernels/kernels.h"
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

char *openblas_get_corename(void);

const char *lb_blas_corename(void) { return openblas_get_corename(); }

const char *lb_blas_preferred_coretype(void) {
    const char *cur = openblas_get_corename();
    static const char *const slow[] = {"Prescott",    "Core2",   "Penryn", "Dunnington", "Nehalem",
                                       "Sandybridge", "Atom",    "Katmai", "Coppermine", "Northwood",
                                       "Banias",      "Unknown", NULL};
    bool is_slow = cur == NULL;
    for (int i = 0; !is_slow && slow[i]; i++) is_slow = strcmp(cur, slow[i]) == 0;
    if (!is_slow) return NULL;
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl"))
        return "SkylakeX"; /* Cooperlake adds only sbgemm; its sgemm measured ~6% slower here */
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return "Haswell";
    return NULL;
}

void lb_blas_reexec_if_slow(char **argv) {
    const char *pre = getenv("LD_PRELOAD"); /* valgrind: /proc/self/exe is its tool (omp_wait.c) */
    if (getenv("OPENBLAS_CORETYPE") || getenv("LORABERT_BLAS_REEXEC") || (pre && strstr(pre, "vgpreload"))) return;
    const char *core = lb_blas_preferred_coretype();
    if (!core) return;
    setenv("OPENBLAS_CORETYPE", core, 1);
    setenv("LORABERT_BLAS_REEXEC", "1", 1);
    execv("/proc/self/exe", argv);
}
